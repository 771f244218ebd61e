"""The admin API (issue D, point 6) and imapgatectl, against the real imapgate in front of real
Dovecots: shard-a = [a1, a2] (plaintext, one shared store), shard-b = [b1] (STARTTLS verified
against the test CA); the override file pins alice@demo.test to shard-a and bob@demo.test to
shard-b.

* GET /api/v1/backends: every backend with its name, shard, address, link security, state, a
  last check once the health checks ran, and active sessions that follow a live session on a1.
* GET /api/v1/sessions (and ?user=): an open session with its id, user, client address (the
  client's own 127.0.0.1:port), backend, start time and byte counters that grow while it runs;
  gone after LOGOUT.
* GET /api/v1/route: override, hash, and 400 for an empty or too long user name.
* POST kick / drain / undrain / reload: what each changes, seen from the IMAP side, the API and
  the log; a broken config file is refused with 422 and FILE:LINE:COL and changes nothing.
* The token check (401 + WWW-Authenticate: Bearer, nothing changed), and bad requests (404, 400,
  413, 405): 4xx, never a crash; imapgate keeps serving logins.
* imapgatectl: each command, a wrong token, --json.

The session tests log in over the implicit-TLS listener with the harness's RawClient.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional

from harness import (ALICE, ALICE_PW, BOB, BOB_PW, HOST, SOURCE_DIR, RawClient, ShardedGateTestCase,
                     admin_exchange, ds, imapgate_bin, tagged_status, write_overrides)

BACKENDS = ("a1", "a2", "b1")


class Reply(NamedTuple):
    status: int
    headers: Dict[str, str]   # lowercased names
    body: bytes
    json: object              # None when the body is not JSON


def http_request(port: int, method: str, path: str, *, token: Optional[str] = None,
                 authorization: Optional[str] = None, body: Optional[bytes] = None,
                 headers: Optional[Dict[str, str]] = None, timeout: float = 10) -> Reply:
    """One HTTP/1.1 request to 127.0.0.1:port; unlike harness.admin_request it returns the
    response headers too. token -> "Authorization: Bearer <token>"; authorization -> that exact
    Authorization header."""
    return Reply(*admin_exchange(port, method, path, token=token, body=body, headers=headers,
                                 authorization=authorization, timeout=timeout))


def raw_http(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Sends raw bytes to the admin listener; returns everything until it closes (or timeout)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


def imapgatectl_path() -> Path:
    """IMAPGATECTL_BIN, else imapgatectl beside the imapgate under test, else the source's
    proxy/admin/imapgatectl (what gets installed beside imapgate)."""
    env = os.environ.get("IMAPGATECTL_BIN")
    if env:
        return Path(env)
    beside = imapgate_bin().parent / "imapgatectl"
    return beside if beside.exists() else SOURCE_DIR / "proxy" / "admin" / "imapgatectl"


def wrong_token_of_same_length(token: str) -> str:
    """The token with every character changed: the same length, no byte in common."""
    return "".join("A" if ch != "A" else "B" for ch in token)


class AdminApiTest(ShardedGateTestCase):
    STARTTLS_SHARDS = ("shard-b",)
    OVERRIDES = {ALICE: "shard-a", BOB: "shard-b"}
    DRAIN_GRACE = "1s"
    # imapgate wants timeout <= interval (the harness's default, 200ms/1s, is refused).
    HEALTH_CHECKS = {"interval": "1s", "timeout": "1s", "rise": 2, "fall": 2}

    # setup -------------------------------------------------------------------------------
    @classmethod
    def start_backend(cls) -> int:
        port = super().start_backend()
        # imapgate drops root for nobody after binding; a reload (the API's too) reads the
        # token and the TLS key again as that account, as in the demo.
        ds.readable_after_privilege_drop(Path(cls.tls["key"]), cls.token_file)
        return port

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.started_at = time.time()
        cls.original_config = cls.config_path.read_text()
        # Every test starts once each backend is up and has a health-check result.
        deadline = time.monotonic() + 20
        rows = None
        while time.monotonic() < deadline:
            r = http_request(cls.admin_port, "GET", "/api/v1/backends")
            if r.status == 200 and isinstance(r.json, dict):
                rows = {b["name"]: b for b in r.json.get("backends", [])}
                if set(rows) == set(BACKENDS) and all(
                        b["state"] == "up" and b["last_check"] is not None for b in rows.values()):
                    return
            time.sleep(0.1)
        cls._teardown(check=False)
        raise AssertionError(f"backends not all up with a check result within 20 s: {rows!r}")

    # helpers -----------------------------------------------------------------------------
    def api(self, method: str, path: str, **kw) -> Reply:
        return http_request(self.admin_port, method, path, **kw)

    def get_json(self, path: str) -> Dict:
        r = self.api("GET", path)
        self.assertEqual(r.status, 200, f"GET {path}: {r.body!r}")
        self.assertEqual(r.headers.get("content-type"), "application/json", r.headers)
        self.assertIsInstance(r.json, dict, r.body)
        return r.json

    def post(self, path: str, body: Optional[bytes] = b"{}", **kw) -> Reply:
        kw.setdefault("token", self.admin_token)
        return self.api("POST", path, body=body, **kw)

    def backend_rows(self) -> Dict[str, Dict]:
        return {b["name"]: b for b in self.get_json("/api/v1/backends")["backends"]}

    def sessions(self, user: Optional[str] = None) -> List[Dict]:
        q = "" if user is None else "?" + urllib.parse.urlencode({"user": user})
        reply = self.get_json("/api/v1/sessions" + q)
        self.assertIs(reply.get("truncated"), False, reply)
        return reply["sessions"]

    def route(self, user: str) -> Dict:
        return self.get_json("/api/v1/route?" + urllib.parse.urlencode({"user": user}))

    def poll(self, fn: Callable[[], object], what: str, timeout: float = 10):
        """fn() until it returns something truthy; fails with the last value after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail(f"{what}: not reached within {timeout} s (last: {v!r})")
            time.sleep(0.05)

    def wait_sessions_gone(self, user: str, timeout: float = 10) -> None:
        self.poll(lambda: not self.sessions(user) or None,
                  f"no open session of {user} left", timeout)

    def open_session(self, user: str = ALICE, password: str = ALICE_PW) -> RawClient:
        """A logged-in session over the implicit-TLS listener with INBOX selected."""
        c = self.implicit()
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        self.login(c, user, password)
        lines = c.command("s1", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        return c

    @staticmethod
    def address_of(c: RawClient) -> str:
        """The client's own address as imapgate sees it (127.0.0.1:PORT)."""
        return f"{HOST}:{c.sock.getsockname()[1]}"

    def session_of(self, c, user: str) -> Optional[Dict]:
        """The API's entry (in ?user=USER) for client c or for address c, or None."""
        addr = c if isinstance(c, str) else self.address_of(c)
        found = [s for s in self.sessions(user) if s["client_address"] == addr]
        self.assertLessEqual(len(found), 1, found)
        return found[0] if found else None

    def logout(self, c: RawClient) -> None:
        lines = c.command("lo", "LOGOUT")
        self.assertEqual(tagged_status(lines, "lo"), b"OK", lines)
        c.close()

    def assert_login_reaches(self, user: str, password: str, backend: str) -> None:
        """A fresh login of user works, and the Dovecot of `backend` is the one that logged it."""
        before = self.login_counts(user)
        c = self.open_session(user, password)
        self.logout(c)
        self.assertEqual(self.poll(lambda: self.backend_that_logged(user, before),
                                   f"a backend logging {user}'s new login"), [backend])

    def changes_logged(self) -> List[str]:
        """Log lines of changes made through the API (drain, undrain, kick, reload)."""
        return self.wait_for_log(r"event=(backend_drain|backend_undrain|admin_kick|reload_ok|reload_failed)\b",
                                 timeout=0)

    def reload_lines(self) -> List[str]:
        return self.wait_for_log(r"event=reload_(ok|failed)\b", timeout=0)

    def assert_401(self, r: Reply, what: str) -> None:
        self.assertEqual(r.status, 401, f"{what}: {r.status} {r.body!r}")
        self.assertEqual(r.headers.get("www-authenticate"), "Bearer", f"{what}: {r.headers}")
        self.assertIsInstance(r.json, dict, f"{what}: {r.body!r}")
        self.assertIsInstance(r.json.get("error"), str, f"{what}: {r.body!r}")
        self.assertNotIn(self.admin_token.encode(), r.body)

    def assert_error(self, r: Reply, status: int, what: str) -> None:
        self.assertEqual(r.status, status, f"{what}: {r.status} {r.body!r}")
        self.assertIsInstance(r.json, dict, f"{what}: {r.body!r}")
        self.assertIsInstance(r.json.get("error"), str, f"{what}: {r.body!r}")

    def assert_all_up(self) -> None:
        rows = self.backend_rows()
        self.assertEqual({n: b["state"] for n, b in rows.items()}, {n: "up" for n in BACKENDS})

    def undrain_later(self, name: str) -> None:
        self.addCleanup(lambda: self.post(f"/api/v1/backends/{name}/undrain"))

    # 1. GET /api/v1/backends -------------------------------------------------------------
    def test_backends_lists_every_backend_with_state_and_last_check(self):
        reply = self.get_json("/api/v1/backends")
        self.assertEqual(set(reply), {"backends"}, reply)
        rows = reply["backends"]
        self.assertEqual([b["name"] for b in rows], ["a1", "a2", "b1"], "config order")
        now = time.time()
        for b in rows:
            name = b["name"]
            self.assertEqual(set(b), {"name", "shard", "address", "security", "state",
                                      "active_sessions", "last_check"}, b)
            self.assertEqual(b["shard"], self.shard_of[name], b)
            self.assertEqual(b["address"], f"127.0.0.1:{self.backends[name].port}", b)
            self.assertEqual(b["security"], "starttls" if name == "b1" else "plaintext", b)
            self.assertEqual(b["state"], "up", b)
            self.assertIsInstance(b["active_sessions"], int, b)
            check = b["last_check"]
            self.assertIsNotNone(check, b)
            self.assertEqual(set(check), {"ok", "detail", "at"}, check)
            self.assertIs(check["ok"], True, b)
            self.assertEqual(check["detail"], "ok", b)
            self.assertGreaterEqual(check["at"], int(self.started_at) - 30, b)
            self.assertLessEqual(check["at"], now + 2, b)
        # The checks keep running (interval 200 ms): a1's result gets newer.
        first = rows[0]["last_check"]["at"]
        self.poll(lambda: self.backend_rows()["a1"]["last_check"]["at"] > first,
                  "a newer health-check result for a1", timeout=5)

    def test_backends_count_active_sessions_of_a1(self):
        self.wait_sessions_gone(ALICE)
        self.poll(lambda: self.backend_rows()["a1"]["active_sessions"] == 0, "a1 without sessions")
        c = self.open_session()
        rows = self.poll(lambda: (r := self.backend_rows())["a1"]["active_sessions"] == 1 and r,
                         "a1 counting alice's session")
        self.assertEqual(rows["a2"]["active_sessions"], 0, rows)
        self.logout(c)
        self.poll(lambda: self.backend_rows()["a1"]["active_sessions"] == 0,
                  "a1's active sessions back to 0 after LOGOUT")

    # 2. GET /api/v1/sessions -------------------------------------------------------------
    def test_sessions_show_the_live_session_and_its_bytes(self):
        self.wait_sessions_gone(ALICE)
        before = int(time.time())
        alice = self.open_session()
        bob = self.open_session(BOB, BOB_PW)
        after = int(time.time())
        addr = self.address_of(alice)

        everyone = self.sessions()
        mine = [s for s in everyone if s["client_address"] == addr]
        self.assertEqual(len(mine), 1, everyone)
        s = mine[0]
        self.assertEqual(set(s), {"id", "user", "client_address", "backend", "started_at",
                                  "bytes_from_client", "bytes_to_client"}, s)
        self.assertIsInstance(s["id"], str)
        self.assertTrue(s["id"], s)
        self.assertEqual(s["user"], ALICE, s)
        self.assertEqual(s["backend"], "a1", s)
        self.assertGreaterEqual(s["started_at"], before - 1, s)
        self.assertLessEqual(s["started_at"], after + 1, s)
        # SELECT went through the relay: both counters moved.
        self.assertGreater(s["bytes_from_client"], 0, s)
        self.assertGreater(s["bytes_to_client"], 0, s)
        bob_addr = self.address_of(bob)
        bobs = [x for x in everyone if x["client_address"] == bob_addr]
        self.assertEqual([(x["user"], x["backend"]) for x in bobs], [(BOB, "b1")], everyone)
        self.assertNotEqual(bobs[0]["id"], s["id"])

        # ?user= lists alice's sessions only (and compares after normalization).
        only = self.sessions(ALICE)
        self.assertEqual([x["client_address"] for x in only], [addr], only)
        self.assertEqual(self.sessions("ALICE@Demo.Test"), only)
        self.assertEqual(self.sessions("nobody-here@demo.test"), [])

        # The counters grow while the session runs: FETCH a whole message.
        lines = alice.command("f1", "FETCH 1 BODY.PEEK[]")
        self.assertEqual(tagged_status(lines, "f1"), b"OK", lines)
        fetched = b"".join(lines)
        self.assertIn(b"Subject: Message 1 for alice@demo.test", fetched)
        size = int(re.search(rb"BODY\[\] \{(\d+)\}", fetched).group(1))
        self.assertGreater(size, 100)
        grown = self.poll(lambda: (x := self.session_of(alice, ALICE)) and
                          x["bytes_to_client"] >= s["bytes_to_client"] + size and x,
                          "bytes_to_client grown by at least the fetched message")
        self.assertGreater(grown["bytes_from_client"], s["bytes_from_client"], grown)
        self.assertEqual(grown["id"], s["id"])
        self.assertEqual(grown["started_at"], s["started_at"])

        self.logout(alice)
        self.poll(lambda: self.session_of(addr, ALICE) is None or None,
                  "alice's session gone from ?user= after LOGOUT")
        # The id is the one imapgate logs for the session (its session_end line).
        ended = self.wait_for_log(rf"event=session_end\b.*\bsid={re.escape(s['id'])}\b", timeout=5)
        self.assertEqual(len(ended), 1, f"session_end of {s['id']} in imapgate's log")
        self.assertIn(f"client={addr}", ended[0])
        self.assertRegex(ended[0], r"\bbackend=a1\b")
        self.assertFalse([x for x in self.sessions() if x["client_address"] == addr])
        self.assertTrue([x for x in self.sessions() if x["client_address"] == bob_addr],
                        "bob's session still listed")
        self.logout(bob)

    # 3. GET /api/v1/route ----------------------------------------------------------------
    def test_route_override_hash_and_bad_names(self):
        r = self.route(ALICE)
        self.assertEqual(set(r), {"user", "shard", "backend", "source", "reason"}, r)
        self.assertEqual((r["user"], r["shard"], r["backend"], r["source"]),
                         (ALICE, "shard-a", "a1", "override"), r)
        self.assertIn("a1", r["reason"])
        r = self.route(BOB)
        self.assertEqual((r["shard"], r["backend"], r["source"]), ("shard-b", "b1", "override"), r)
        # Normalized (lowercase) before the override file is consulted.
        r = self.route("Alice@DEMO.test")
        self.assertEqual((r["user"], r["shard"], r["source"]), (ALICE, "shard-a", "override"), r)

        # Users not in the override file: the hash picks a shard, the same one every time, and
        # the backend is that shard's primary. Over a few users both shards get some.
        seen = set()
        for i in range(40):
            user = f"user{i}@hash.example"
            r = self.route(user)
            self.assertEqual(r["source"], "hash", r)
            self.assertEqual(r["user"], user, r)
            self.assertIn(r["shard"], ("shard-a", "shard-b"), r)
            self.assertEqual(r["backend"], {"shard-a": "a1", "shard-b": "b1"}[r["shard"]], r)
            self.assertEqual(self.route(user), r, "the same answer twice")
            seen.add(r["shard"])
        self.assertEqual(seen, {"shard-a", "shard-b"}, "40 hashed users all on one shard")

        for what, query in (("empty user", "user="), ("321-byte user", "user=" + "u" * 321),
                            ("no user", ""), ("unknown parameter", "who=alice"),
                            ("user twice", "user=a&user=b"), ("a space", "user=al%20ice")):
            r = self.api("GET", "/api/v1/route?" + query)
            self.assertGreaterEqual(r.status, 400, what)
            self.assertLess(r.status, 500, what)
            self.assert_error(r, 400, what)

    # 4. POST /api/v1/users/NAME/kick -----------------------------------------------------
    def test_kick_ends_alices_session_only(self):
        self.wait_sessions_gone(ALICE)
        alice = self.open_session()
        bob = self.open_session(BOB, BOB_PW)
        self.poll(lambda: self.session_of(alice, ALICE), "alice's session listed")
        r = self.post(f"/api/v1/users/{ALICE}/kick")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"user": ALICE, "kicked": 1})
        data = self.assert_bye_and_close(alice, what="kicked alice")
        self.assertIn(b"Disconnected by the administrator", data)
        self.assertTrue(self.wait_for_log(r"event=admin_kick\b.*alice@demo\.test", timeout=5))
        self.wait_sessions_gone(ALICE)
        # bob's session stays, listed and working.
        self.assertTrue(self.session_of(bob, BOB), self.sessions())
        lines = bob.command("n1", "NOOP")
        self.assertEqual(tagged_status(lines, "n1"), b"OK", lines)
        # No session left: 0 kicked, not an error.
        r = self.post(f"/api/v1/users/{ALICE}/kick")
        self.assertEqual((r.status, r.json), (200, {"user": ALICE, "kicked": 0}), r.body)
        self.logout(bob)

    # 5. drain and undrain ----------------------------------------------------------------
    def test_drain_and_undrain_change_the_state(self):
        self.undrain_later("a1")
        r = self.post("/api/v1/backends/a1/drain", b'{"grace_seconds": 600}')
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(r.json), {"backend"}, r.json)
        self.assertEqual((r.json["backend"]["name"], r.json["backend"]["state"]), ("a1", "draining"))
        rows = self.backend_rows()
        self.assertEqual({n: b["state"] for n, b in rows.items()},
                         {"a1": "draining", "a2": "up", "b1": "up"})
        route = self.route(ALICE)
        self.assertEqual((route["shard"], route["backend"]), ("shard-a", "a2"), route)
        self.assertIn("draining", route["reason"])
        self.assertTrue(self.wait_for_log(r"event=backend_drain\b.*\ba1\b", timeout=5))

        r = self.post("/api/v1/backends/a1/undrain", b"")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json["backend"]["name"], r.json["backend"]["state"]), ("a1", "up"))
        self.assert_all_up()
        self.assertEqual(self.route(ALICE)["backend"], "a1")
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")

        for action in ("drain", "undrain"):
            r = self.post(f"/api/v1/backends/nosuch/{action}")
            self.assert_error(r, 404, f"{action} of an unknown backend")
            self.assertIn("nosuch", r.json["error"])
        self.assert_all_up()

    # 6. POST /api/v1/reload --------------------------------------------------------------
    def test_reload_applies_files_and_refuses_a_broken_config(self):
        self.addCleanup(self.restore_files)
        # A user the hash puts on one shard, pinned by the override file to the other.
        carol = "carol@demo.test"
        hashed = self.route(carol)
        self.assertEqual(hashed["source"], "hash", hashed)
        other = "shard-b" if hashed["shard"] == "shard-a" else "shard-a"
        write_overrides(self.override_file, dict(self.OVERRIDES, **{carol: other}))
        n = len(self.reload_lines())
        r = self.post("/api/v1/reload")
        self.assertEqual((r.status, r.json), (200, {"ok": True}), r.body)
        lines = self.wait_for_log(r"event=reload_(ok|failed)\b", timeout=10, count=n + 1)
        self.assertRegex(lines[n], r"event=reload_ok\b.*trigger=api", lines[n:])
        r = self.route(carol)
        self.assertEqual((r["shard"], r["source"]), (other, "override"), r)

        # Garbage in the config file: 422 with FILE:LINE:COL, nothing changes.
        self.config_path.write_text("workers: 2\nlisteners: [ {name: x\n  this is: - garbage ]]]\n")
        n = len(self.reload_lines())
        r = self.post("/api/v1/reload")
        self.assert_error(r, 422, "reload of a broken config")
        self.assertRegex(r.json["error"], re.escape(str(self.config_path)) + r":\d+:\d+: ")
        lines = self.wait_for_log(r"event=reload_(ok|failed)\b", timeout=10, count=n + 1)
        self.assertRegex(lines[n], r"event=reload_failed\b.*trigger=api", lines[n:])
        self.assertRegex(lines[n], re.escape(str(self.config_path)) + r":\d+:\d+")
        self.assertEqual(self.route(carol)["shard"], other, "the previous reload still in effect")
        rows = self.backend_rows()
        self.assertEqual(sorted(rows), list(BACKENDS))
        self.assert_all_up()
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")
        self.assert_login_reaches(BOB, BOB_PW, "b1")

        # Restored: a reload works again and carol is back on the hash.
        self.restore_files()
        r = self.post("/api/v1/reload")
        self.assertEqual((r.status, r.json), (200, {"ok": True}), r.body)
        r = self.route(carol)
        self.assertEqual((r["shard"], r["source"]), (hashed["shard"], "hash"), r)

    def restore_files(self) -> None:
        if self.config_path.read_text() != self.original_config:
            self.config_path.write_text(self.original_config)
        write_overrides(self.override_file, self.OVERRIDES)
        self.post("/api/v1/reload")

    # 7. the token check and bad requests -------------------------------------------------
    def test_changes_need_the_token(self):
        self.undrain_later("a1")   # should a refused drain get through, the others still run
        self.wait_sessions_gone(ALICE)
        alice = self.open_session()
        self.poll(lambda: self.session_of(alice, ALICE), "alice's session listed")
        reloads = len(self.reload_lines())
        changed = len(self.changes_logged())
        token = self.admin_token
        same_length = wrong_token_of_same_length(token)
        self.assertEqual(len(same_length), len(token))
        wrong_auth = {
            "no Authorization": {},
            "a wrong token": {"token": "wrong"},
            "a same-length wrong token": {"token": same_length},
            "the token with a character missing": {"token": token[:-1]},
            "the token and more": {"token": token + "x"},
            "Basic scheme": {"authorization": f"Basic {token}"},
            "Bearer without a token": {"authorization": "Bearer "},
            "the token without a scheme": {"authorization": token},
        }
        changes = ["/api/v1/backends/a1/drain", "/api/v1/backends/a1/undrain",
                   f"/api/v1/users/{ALICE}/kick", "/api/v1/reload",
                   "/api/v1/backends/nosuch/drain", "/api/v1/no/such/path"]
        for what, auth in wrong_auth.items():
            for path in changes:
                r = self.api("POST", path, body=b"{}", **auth)
                self.assert_401(r, f"POST {path} with {what}")
            # A wrong token is refused on reads too, where none is needed.
            if auth:
                self.assert_401(self.api("GET", "/api/v1/backends", **auth), f"GET with {what}")
        # Nothing changed: a1 still up, alice's session alive, no reload ran.
        self.assert_all_up()
        self.assertTrue(self.session_of(alice, ALICE), "alice's session after refused kicks")
        lines = alice.command("n1", "NOOP")
        self.assertEqual(tagged_status(lines, "n1"), b"OK", lines)
        self.assertEqual(len(self.reload_lines()), reloads, "a refused reload ran")
        self.assertEqual(len(self.changes_logged()), changed, "a refused change was logged")

        # Reads from loopback need no token; with the right token they work too.
        for path in ("/api/v1/backends", "/api/v1/sessions", f"/api/v1/route?user={ALICE}"):
            self.assertEqual(self.api("GET", path).status, 200, path)
            self.assertEqual(self.api("GET", path, token=token).status, 200, path)
        self.logout(alice)

    def test_bad_requests_get_4xx_and_imapgate_keeps_serving(self):
        self.undrain_later("a1")   # should a refused drain get through, the others still run
        t = self.admin_token
        changed = len(self.changes_logged())
        # Unknown paths: 404 (with or without a token).
        for method, path in (("GET", "/api/v1/nothing"), ("GET", "/api/v2/backends"),
                             ("GET", "/api/v1/backends/a1"), ("POST", "/api/v1/backends/a1/explode"),
                             ("POST", "/api/v1/backends/a1/drain/now"), ("GET", "/api/"),
                             ("GET", "/nothing")):
            r = self.api(method, path, token=t, body=b"{}" if method == "POST" else None)
            self.assertEqual(r.status, 404, f"{method} {path}: {r.body!r}")
        # Bad names in the path: 400, and nothing drained or kicked.
        long_name = "a" * 300
        for path in ("/api/v1/backends/..%2F/drain", "/api/v1/backends/%2e%2e/drain",
                     "/api/v1/backends/a1%2F..%2Fa2/drain", "/api/v1/backends/a%201/drain",
                     "/api/v1/backends/a1%00/drain", "/api/v1/backends/%ZZ/drain",
                     f"/api/v1/backends/{long_name}/drain", f"/api/v1/users/{long_name}/kick",
                     "/api/v1/users/al%0Dice/kick"):
            self.assert_error(self.post(path), 400, f"POST {path}")
        self.assert_error(self.api("GET", "/api/v1/backends?x=1"), 400, "query on backends")
        self.assert_error(self.api("GET", "/api/v1/sessions?usr=x"), 400, "unknown query param")
        # Bad JSON bodies on drain: 400, a1 stays up.
        for body in (b"{not json", b"[1]", b'"a1"', b"{}{}", b'{"grace_seconds": -1}',
                     b'{"grace_seconds": "5"}', b'{"grace_seconds": 1.5}',
                     b'{"grace_seconds": 99999999999999999999}', b'{"grace_seconds": 86401}',
                     b'{"other": 1}', b"\xff\xfe{}", b'{"grace_seconds": 1, "grace_seconds": 2}'):
            r = self.post("/api/v1/backends/a1/drain", body)
            self.assert_error(r, 400, f"drain with body {body!r}")
        for body in (b"{nope", b'{"x": 1}'):
            self.assert_error(self.post("/api/v1/reload", body), 400, f"reload with {body!r}")
            self.assert_error(self.post(f"/api/v1/users/{ALICE}/kick", body), 400, f"kick {body!r}")
        self.assertEqual(len(self.changes_logged()), changed, "a refused change was logged")
        self.assert_all_up()
        # A body over 4 KiB: 413 (libevent's own reply), before any handler.
        big = b'{"grace_seconds": 1' + b" " * 5000 + b"}"
        reply = raw_http(self.admin_port,
                         b"POST /api/v1/backends/a1/drain HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + t.encode() + b"\r\n"
                         b"Content-Type: application/json\r\nContent-Length: " +
                         str(len(big)).encode() + b"\r\n\r\n")
        self.assertRegex(reply, rb"^HTTP/1\.[01] 413 ", reply[:200])
        r = self.post("/api/v1/backends/a1/drain", big)
        self.assertEqual(r.status, 413, r.body[:200])
        chunked = raw_http(self.admin_port,
                           b"POST /api/v1/reload HTTP/1.1\r\nHost: x\r\n"
                           b"Authorization: Bearer " + t.encode() + b"\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" +
                           b"".join(b"400\r\n" + b" " * 0x400 + b"\r\n" for _ in range(6)) +
                           b"0\r\n\r\n")
        self.assertRegex(chunked, rb"^HTTP/1\.[01] 413 ", chunked[:200])
        self.assert_all_up()
        self.assertEqual(len(self.changes_logged()), changed, "a refused change was logged")
        # Wrong methods: 405 with Allow.
        for method, path, allow in (("PUT", "/api/v1/backends/a1/drain", "POST"),
                                    ("DELETE", "/api/v1/backends", "GET, HEAD"),
                                    ("POST", "/api/v1/backends", "GET, HEAD"),
                                    ("PUT", "/api/v1/reload", "POST")):
            r = self.api(method, path, token=t, body=b"{}")
            self.assert_error(r, 405, f"{method} {path}")
            self.assertEqual(r.headers.get("allow"), allow, f"{method} {path}: {r.headers}")
        r = self.api("GET", "/api/v1/backends/a1/drain")
        self.assertEqual((r.status, r.headers.get("allow")), (405, "POST"), r.body)
        # Not HTTP at all, and a request line far too long: an error or a close, no crash.
        for junk in (b"\x16\x03\x01\x02\x00" + b"\x00" * 64 + b"\r\n\r\n",
                     b"GET /api/v1/" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
            out = raw_http(self.admin_port, junk)
            self.assertFalse(out.startswith(b"HTTP/1.1 200"), out[:200])
        # Still up and serving.
        self.assertIsNone(self.gate.proc.poll(), "imapgate exited")
        self.assert_all_up()
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")
        self.assertEqual(self.api("GET", "/healthz").status, 200)

    # 8. imapgatectl ----------------------------------------------------------------------
    def ctl(self, *args: str, token_file=None, expect: Optional[int] = 0):
        """Runs imapgatectl against this imapgate: --token-file token_file (default the real
        one; False: none). Checks the exit status when expect is not None and that the token
        is never printed. Returns (status, stdout, stderr)."""
        cmd = [sys.executable, str(imapgatectl_path()), "--admin", f"http://127.0.0.1:{self.admin_port}"]
        if token_file is not False:
            cmd += ["--token-file", str(token_file or self.token_file)]
        env = {k: v for k, v in os.environ.items() if k != "IMAPGATE_TOKEN_FILE"}
        p = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30, env=env)
        out, err = p.stdout.decode(), p.stderr.decode()
        if expect is not None:
            self.assertEqual(p.returncode, expect, f"imapgatectl {' '.join(args)}: {out}{err}")
        self.assertNotIn(self.admin_token, out + err, "imapgatectl printed the token")
        return p.returncode, out, err

    def test_imapgatectl_commands(self):
        self.wait_sessions_gone(ALICE)
        self.wait_sessions_gone(BOB)
        self.undrain_later("a1")

        _, out, _ = self.ctl("backends")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^NAME\s+SHARD\s+ADDRESS\s+LINK\s+STATE\s+SESSIONS\s+LAST CHECK$")
        for name in BACKENDS:
            row = [l for l in lines[1:] if l.split()[0] == name]
            self.assertEqual(len(row), 1, out)
            self.assertRegex(row[0], rf"^{name}\s+{self.shard_of[name]}\s+127\.0\.0\.1:"
                                     rf"{self.backends[name].port}\s+"
                                     rf"{'starttls' if name == 'b1' else 'plaintext'}\s+up\s+\d+\s+ok \(",
                             out)

        alice = self.open_session()
        bob = self.open_session(BOB, BOB_PW)
        alice_addr = self.address_of(alice)
        bob_addr = self.address_of(bob)
        _, out, _ = self.ctl("sessions")
        self.assertRegex(out.splitlines()[0], r"^ID\s+USER\s+CLIENT\s+BACKEND\s+STARTED\s+BYTES IN\s+BYTES OUT$")
        self.assertRegex(out, rf"(?m)^\S+\s+{re.escape(ALICE)}\s+{re.escape(alice_addr)}\s+a1\s+"
                              r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d+\s+\d+$")
        self.assertRegex(out, rf"(?m)^\S+\s+{re.escape(BOB)}\s+{re.escape(bob_addr)}\s+b1\s")
        _, out, _ = self.ctl("sessions", "--user", ALICE)
        self.assertIn(alice_addr, out)
        self.assertNotIn(BOB, out)

        _, out, _ = self.ctl("route", ALICE)
        self.assertRegex(out, r"(?m)^user:\s+alice@demo\.test$")
        self.assertRegex(out, r"(?m)^shard:\s+shard-a$")
        self.assertRegex(out, r"(?m)^backend:\s+a1$")
        self.assertRegex(out, r"(?m)^source:\s+override$")
        self.assertRegex(out, r"(?m)^reason:\s+\S")

        # drain with a 1 s grace: a1 is draining, and alice's session on a1 gets BYE after it.
        t0 = time.monotonic()
        _, out, _ = self.ctl("drain", "a1", "--grace", "1")
        self.assertEqual(out, "a1: draining (grace 1 s)\n")
        self.assertEqual(self.backend_rows()["a1"]["state"], "draining")
        self.assert_bye_and_close(alice, timeout=10, what="alice on a1 after the drain grace")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9, "BYE before the grace was over")
        lines = bob.command("n1", "NOOP")   # bob, on b1, is not touched
        self.assertEqual(tagged_status(lines, "n1"), b"OK", lines)
        _, out, _ = self.ctl("route", ALICE)
        self.assertRegex(out, r"(?m)^backend:\s+a2$")
        _, out, _ = self.ctl("undrain", "a1")
        self.assertEqual(out, "a1: up\n")
        self.assert_all_up()

        _, out, _ = self.ctl("kick", BOB)
        self.assertEqual(out, f"kicked 1 session(s) of {BOB}\n")
        self.assert_bye_and_close(bob, what="kicked bob")

        n = len(self.reload_lines())
        _, out, _ = self.ctl("reload")
        self.assertEqual(out, "reloaded\n")
        lines = self.wait_for_log(r"event=reload_(ok|failed)\b", timeout=10, count=n + 1)
        self.assertRegex(lines[n], r"event=reload_ok\b.*trigger=api")

    def test_imapgatectl_token_errors_and_json(self):
        self.undrain_later("a1")   # should a refused drain get through, the others still run
        wrong = self.tmp / "wrong-token"
        wrong.write_text(wrong_token_of_same_length(self.admin_token) + "\n")
        wrong.chmod(0o600)
        for args in (("drain", "a1"), ("kick", ALICE), ("reload",), ("undrain", "a1")):
            code, out, err = self.ctl(*args, token_file=wrong, expect=None)
            self.assertNotEqual(code, 0, f"{args}: {out}{err}")
            self.assertIn("bad or missing token", err, args)
            code, out, err = self.ctl(*args, token_file=False, expect=None)
            self.assertNotEqual(code, 0, f"{args} without a token: {out}{err}")
            self.assertIn("bad or missing token", err, args)
        code, out, err = self.ctl("reload", token_file=self.tmp / "no-such-file", expect=None)
        self.assertNotEqual(code, 0)
        self.assertIn("cannot read token file", err)
        self.assert_all_up()
        # A read with a wrong token is refused too; without a token it works.
        code, _, err = self.ctl("backends", token_file=wrong, expect=None)
        self.assertNotEqual(code, 0)
        self.assertIn("bad or missing token", err)
        self.ctl("backends", token_file=False)
        # An unknown backend: refused, non-zero, says why.
        code, _, err = self.ctl("drain", "nosuch", expect=1)
        self.assertIn("nosuch", err)

        # --json: the API's JSON as is.
        _, out, _ = self.ctl("--json", "backends")
        self.assertEqual([b["name"] for b in json.loads(out)["backends"]], list(BACKENDS))
        _, out, _ = self.ctl("route", ALICE, "--json")
        self.assertEqual(json.loads(out)["backend"], "a1")
        _, out, _ = self.ctl("sessions", "--json")
        self.assertIn("sessions", json.loads(out))
        _, out, _ = self.ctl("kick", "nobody@demo.test", "--json")
        self.assertEqual(json.loads(out), {"user": "nobody@demo.test", "kicked": 0})


if __name__ == "__main__":
    import unittest
    unittest.main()
