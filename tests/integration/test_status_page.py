"""/readyz, GET /api/v1/status and the status page at / (issue E, points 2 and 4), against the
real imapgate in front of real Dovecots: shard-a = [a1, a2] (one shared store), shard-b = [b1];
alice@demo.test is pinned to shard-a. The abuse defence allows 2 connections per address before
login, so a third one from the same address is refused.

* /readyz: 200 "ready" with every backend up; after b1's Dovecot is killed (SIGKILL to its
  process group) and the health checks mark it down, 503 naming the shard and its backend; 200
  again once it is restarted and back up. /healthz stays 200 throughout (liveness).
* GET /api/v1/status: version, start and config times, both listeners, both shards with their
  backends, and counters that move with a login (logins.ok, tls_handshakes.ok); a cleartext
  LOGIN on the STARTTLS listener and a connection refused by the per-address limit each appear
  in `refusals` with the listener, reason and the client's address.
* The page in a real browser (headless Chromium, --dump-dom): while b1 is down, the rendered DOM
  lists every configured backend with its state (b1 down, a1 and a2 up), and the login and TLS
  counters the API reports; the page is served with its CSP and nosniff.
* The page's escaping and its error report in the browser: imapgate's page served by a fixture
  whose /api/v1/status carries markup in names and addresses renders it as text only; a 503
  shows the fetch error.
* A graceful drain (SIGTERM with a session open): /readyz answers 503 "draining".
"""

from __future__ import annotations

import html.parser
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Dict, List, Optional, Tuple

from harness import (ALICE, ALICE_PW, HOST, ShardedGateTestCase, admin_exchange, ds, tagged_status)

BACKENDS = ("a1", "a2", "b1")


def chromium_binary() -> Optional[str]:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _DomReader(html.parser.HTMLParser):
    """Collects the backend rows (data-backend, data-state, cell texts) and the text of elements
    with an id, from Chromium's dumped DOM."""

    def __init__(self):
        super().__init__()
        self.backends: Dict[str, Dict] = {}
        self.by_id: Dict[str, str] = {}
        self.refusal_reasons: List[str] = []
        self._row: Optional[Dict] = None
        self._cell: Optional[List[str]] = None
        self._id_stack: List[Tuple[str, Optional[str]]] = []
        self._in_reason = False
        self.tags: List[str] = []  # every element's tag, in document order
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self._in_title = tag == "title"
        if tag == "tr" and "data-backend" in a:
            self._row = {"name": a["data-backend"], "state": a.get("data-state"), "cells": []}
        if tag == "td" and self._row is not None:
            self._cell = []
        if tag == "td" and "reason" in (a.get("class") or "").split():
            self._in_reason = True
            self.refusal_reasons.append("")
        self._id_stack.append((tag, a.get("id")))
        if a.get("id"):
            self.by_id[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        if tag == "td":
            self._in_reason = False
        if tag == "tr" and self._row is not None:
            self.backends[self._row["name"]] = self._row
            self._row = None
        while self._id_stack:
            t, _ = self._id_stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell.append(data)
        if self._in_reason:
            self.refusal_reasons[-1] += data
        for _, ident in self._id_stack:
            if ident:
                self.by_id[ident] += data


class StatusPageTest(ShardedGateTestCase):
    SHARDS = [("shard-a", ["a1", "a2"]), ("shard-b", ["b1"])]
    OVERRIDES = {ALICE: "shard-a"}
    HEALTH_CHECKS = {"interval": "500ms", "timeout": "500ms", "rise": 2, "fall": 2}
    ABUSE = "\n".join([
        "enabled: true",
        "connections: { per_address: 2 }",
    ])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, _, _, parsed = admin_exchange(cls.admin_port, "GET", "/api/v1/backends")
            if status == 200 and isinstance(parsed, dict):
                rows = {b["name"]: b for b in parsed.get("backends", [])}
                if set(rows) == set(BACKENDS) and all(b["state"] == "up" and b["last_check"] for b in rows.values()):
                    return
            time.sleep(0.1)
        raise AssertionError("the backends did not all come up")

    # helpers -------------------------------------------------------------------------------
    def get(self, path: str) -> Tuple[int, Dict[str, str], bytes, object]:
        return admin_exchange(self.admin_port, "GET", path)

    def status(self) -> Dict:
        code, _, body, parsed = self.get("/api/v1/status")
        self.assertEqual(code, 200, body)
        self.assertIsInstance(parsed, dict, body)
        return parsed

    def wait_readyz(self, code: int, body: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            got = self.get("/readyz")
            last = (got[0], got[2].decode(errors="replace"))
            if last == (code, body):
                return
            time.sleep(0.1)
        self.fail(f"/readyz never answered {code} {body!r}; last {last}")

    def kill_dovecot(self, name: str) -> None:
        """SIGKILL to the Dovecot's process group, like a crashed host; a cleanup restarts it."""
        d = self.backends[name]
        os.killpg(d.proc.pid, signal.SIGKILL)
        d.proc.wait(timeout=10)
        self.addCleanup(self.restart_dovecot, name)
        deadline = time.monotonic() + 5
        while ds.port_accepts(d.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart_dovecot(self, name: str) -> None:
        d = self.backends[name]
        if d.proc is None or d.proc.poll() is not None:
            d.proc = None
            d.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rows = {b["name"]: b for s in self.status()["shards"] for b in s["backends"]}
            if rows[name]["state"] == "up":
                return
            time.sleep(0.1)
        self.fail(f"{name} not up again")

    def refusals_with(self, reason: str) -> List[Dict]:
        return [r for r in self.status()["refusals"] if r["reason"] == reason]

    def dump_dom(self, url: Optional[str] = None) -> str:
        chromium = chromium_binary()
        if chromium is None:
            self.fail("chromium is not installed (scripts/install-deps installs it)")
        profile = tempfile.mkdtemp(prefix="imapgate-chromium-", dir=str(self.tmp))
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", "--dump-dom", url or f"http://{HOST}:{self.admin_port}/"]
        env = dict(os.environ, HOME=profile)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, env=env)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace")[-2000:])
        return p.stdout.decode("utf-8", errors="replace")

    # tests ---------------------------------------------------------------------------------
    def test_1_readyz_is_ready_and_healthz_alive(self):
        self.wait_readyz(200, "ready\n")
        code, headers, body, _ = self.get("/readyz")
        self.assertEqual(headers.get("content-type"), "text/plain; charset=utf-8")
        self.assertEqual(self.get("/healthz")[0], 200)

    def test_2_status_describes_the_instance_and_counts_a_login(self):
        before = self.status()
        self.assertRegex(before["version"], r"\S")
        now = time.time()
        self.assertLessEqual(before["started_at"], now)
        self.assertGreater(before["started_at"], now - 600)
        self.assertGreaterEqual(before["config_loaded_at"], before["started_at"])
        self.assertTrue(before["ready"], before)
        listeners = {l["name"]: l for l in before["listeners"]}
        self.assertEqual(listeners["imaps"]["mode"], "implicit")
        self.assertEqual(listeners["imaps"]["address"], f"{HOST}:{self.implicit_port}")
        self.assertEqual(listeners["imap"]["mode"], "starttls")
        self.assertTrue(listeners["imap"]["tls"])
        shards = {s["name"]: [b["name"] for b in s["backends"]] for s in before["shards"]}
        self.assertEqual(shards, {"shard-a": ["a1", "a2"], "shard-b": ["b1"]})
        for s in before["shards"]:
            for b in s["backends"]:
                self.assertEqual(b["state"], "up", b)
                self.assertIsNotNone(b["last_check"], b)

        c = self.implicit()
        self.assertTrue(c.greeting().startswith(b"* OK"))
        self.login(c)
        after = self.status()
        self.assertEqual(after["counters"]["logins"]["ok"], before["counters"]["logins"]["ok"] + 1)
        self.assertEqual(after["counters"]["tls_handshakes"]["ok"],
                         before["counters"]["tls_handshakes"]["ok"] + 1)
        sessions = {b["name"]: b["active_sessions"] for s in after["shards"] for b in s["backends"]}
        self.assertEqual(sessions["a1"], 1, after["shards"])
        lines = c.command("z", "LOGOUT")
        self.assertEqual(tagged_status(lines, "z"), b"OK")

    def test_3_refusals_are_listed(self):
        # A cleartext LOGIN on the STARTTLS listener.
        c = self.plain()
        self.assertTrue(c.greeting().startswith(b"* OK"))
        port = c.sock.getsockname()[1]
        lines = c.command("a", f'LOGIN "{ALICE}" "{ALICE_PW}"')
        self.assertIn(b"PRIVACYREQUIRED", tagged_status(lines, "a") + b" ".join(lines))
        cleartext = self.refusals_with("cleartext_login")
        self.assertIn({"listener": "imap", "client_address": f"{HOST}:{port}"},
                      [{"listener": r["listener"], "client_address": r["client_address"]} for r in cleartext])
        self.assertLessEqual(abs(cleartext[0]["at"] - time.time()), 30)

        # A third connection from one address, over the per-address limit of 2.
        src = "127.0.31.7"
        held = [self.implicit(source=src) for _ in range(2)]
        for h in held:
            self.assertTrue(h.greeting().startswith(b"* OK"))
        extra = self.implicit(source=src)
        self.assert_bye_and_close(extra, what="third connection from one address")
        refused = [r for r in self.refusals_with("per_address") if r["client_address"].startswith(src + ":")]
        self.assertEqual(len(refused), 1, self.status()["refusals"])
        self.assertEqual(refused[0]["listener"], "imaps")
        st = self.status()
        self.assertEqual(st["refusals"][0]["reason"], "per_address")  # newest first
        self.assertGreaterEqual(st["refusals_total"], 2)
        self.assertEqual(st["refusals_capacity"], 50)

    def test_4_readyz_names_the_shard_down_and_the_page_shows_it(self):
        self.wait_readyz(200, "ready\n")
        self.kill_dovecot("b1")
        # fall 2 at 500 ms: down within about a second; allow for slow machines.
        self.wait_readyz(503, "shard shard-b: no backend up (b1 down)\n")
        self.assertEqual(self.get("/healthz")[0], 200)
        st = self.status()
        self.assertFalse(st["ready"])
        self.assertEqual(st["ready_reason"], "shard shard-b: no backend up (b1 down)")

        code, headers, body, _ = self.get("/")
        self.assertEqual(code, 200)
        self.assertEqual(headers.get("content-type"), "text/html; charset=utf-8")
        self.assertIn("default-src 'none'", headers.get("content-security-policy", ""))
        self.assertEqual(headers.get("x-content-type-options"), "nosniff")

        dom = self.dump_dom()
        page = _DomReader()
        page.feed(dom)
        self.assertEqual(set(page.backends), set(BACKENDS), dom[-3000:])
        self.assertEqual(page.backends["b1"]["state"], "down")
        self.assertEqual(page.backends["a1"]["state"], "up")
        self.assertEqual(page.backends["a2"]["state"], "up")
        # The state cell shows the state as text too, and the address column the backend's port.
        self.assertIn("down", page.backends["b1"]["cells"])
        self.assertIn(str(self.backends["b1"].port), " ".join(page.backends["b1"]["cells"]))
        st = self.status()
        counters = st["counters"]
        self.assertEqual(page.by_id["logins-ok"].strip(), str(counters["logins"]["ok"]))
        self.assertEqual(page.by_id["logins-failed"].strip(), str(counters["logins"]["failed"]))
        self.assertEqual(page.by_id["tls-ok"].strip(), str(counters["tls_handshakes"]["ok"]))
        self.assertEqual(page.by_id["tls-failed"].strip(), str(counters["tls_handshakes"]["failed"]))
        self.assertGreaterEqual(int(page.by_id["logins-ok"]), 1)
        self.assertIn("not ready: shard shard-b: no backend up (b1 down)", page.by_id["ready"])
        self.assertIn("per_address", page.refusal_reasons)
        self.assertIn("cleartext_login", page.refusal_reasons)
        self.assertEqual(page.by_id["banner"].strip(), "", "the page reported a fetch error")

        self.restart_dovecot("b1")
        self.wait_readyz(200, "ready\n")

    def test_5_page_escapes_what_it_renders_and_reports_a_failed_fetch(self):
        """imapgate's page, served by a fixture whose /api/v1/status is hostile JSON, then a 503:
        the browser renders the markup in names and addresses as text (no element is created
        from it), and says that the fetch failed."""
        code, headers, page_html, _ = self.get("/")
        self.assertEqual(code, 200)
        csp = headers["content-security-policy"]
        hostile = '<img src=x onerror="document.title=1"><b id="pwned">x</b>'
        status = self.status()
        status["shards"][0]["backends"][0]["name"] = hostile
        status["shards"][0]["backends"][0]["state"] = '"><script>document.title=2</script>'
        status["listeners"][0]["name"] = hostile
        status["refusals"] = [{"at": 1, "listener": "imap", "reason": hostile, "client_address": hostile}]
        answers = {"status": 200, "body": json.dumps(status).encode()}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/":
                    body, ctype, code = page_html, "text/html; charset=utf-8", 200
                elif self.path == "/api/v1/status":
                    body, ctype, code = answers["body"], "application/json", answers["status"]
                else:
                    body, ctype, code = b"not found", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Security-Policy", csp)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        url = f"http://{HOST}:{server.server_address[1]}/"

        dom = self.dump_dom(url)
        page = _DomReader()
        page.feed(dom)
        # No element was made from the data: no img, no b#pwned, only the page's own script, and
        # the title the page set itself; the markup shows as text.
        self.assertNotIn("img", page.tags, dom[-3000:])
        self.assertNotIn("b", page.tags)
        self.assertNotIn("pwned", page.by_id)
        self.assertEqual(page.tags.count("script"), 1)
        self.assertEqual(page.title, "imapgate status")
        self.assertIn("&lt;img src=x onerror=", dom)
        self.assertIn(hostile, page.backends)
        self.assertIn(hostile, page.refusal_reasons)
        self.assertEqual(page.by_id["banner"].strip(), "")

        answers["status"], answers["body"] = 503, b'{"error":"down"}'
        page = _DomReader()
        page.feed(self.dump_dom(url))
        self.assertIn("Could not fetch /api/v1/status: HTTP 503", page.by_id["banner"])
        self.assertIn("no data", page.by_id["freshness"])

    def test_9_readyz_says_draining_during_a_graceful_drain(self):
        c = self.implicit()
        self.assertTrue(c.greeting().startswith(b"* OK"))
        self.login(c)  # keeps the drain going until it ends
        self.gate.proc.send_signal(signal.SIGTERM)
        self.wait_readyz(503, "draining\n", timeout=5)
        self.assertEqual(self.get("/healthz")[0], 503)
        self.assertTrue(self.status()["draining"])
        c.command("z", "LOGOUT")
        c.close()
        self.assertEqual(self.gate.proc.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
