"""Backend and relay metrics (issue E) against real Dovecots, read from a live /metrics scrape.

Shards as in test_shards.py: shard-a = a1 (primary) and a2 (replica) sharing one mail store,
shard-b = b1 over STARTTLS; alice is pinned to shard-a, bob to shard-b. A backend dies by
SIGKILL to its Dovecot's process group (ShardsBase.kill_dovecot; a cleanup restarts it).

* test_01: every backend's connect and login histograms and every shard's backend gauges exist
  from start-up; the shard gauges say 2/2 and 1/1; promtool check metrics finds nothing.
* test_02: one login records exactly one observation in the connect and login histograms of the
  backend it reached (a1 for alice, b1 for bob), and none in the others'.
* test_03: relay bytes are counted as they flow: an IDLE session (imaplib) gets an EXISTS when a
  second session APPENDs a message; two scrapes taken while both sessions are still open show
  imapgate_relay_bytes_total grew in both directions; ending the sessions adds only their last
  few bytes (nothing is counted twice).
* test_04: a1's Dovecot killed: a login made at once fails over to a2 and counts
  imapgate_backend_errors_total for a1 (not a2, b1 or index 0) and imapgate_failovers_total for
  shard-a; then imapgate_backend_up{a1} goes 0, imapgate_shard_backends_up{shard-a} drops to 1
  (of 2), imapgate_health_checks_total{backend="a1",result!="ok"} grows; promtool is clean.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
import time
import unittest
from typing import Dict, Tuple

from harness import ALICE, ALICE_PW, BOB, BOB_PW, close_quietly, ds, metric_samples, metric_sum, tagged_status
from test_shards import ShardsBase

BACKENDS = {"a1": "shard-a", "a2": "shard-a", "b1": "shard-b"}
C2B = "client_to_backend"
B2C = "backend_to_client"


class MetricsBackendsTest(ShardsBase):

    # -- scraping ------------------------------------------------------------------------------
    def scrape(self) -> str:
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200, body[:200])
        return body.decode()

    def value(self, text: str, name: str, **labels: str) -> float:
        """The one sample of `name` with exactly `labels`; fails when absent."""
        got = [v for l, v in metric_samples(text, name) if l == labels]
        self.assertEqual(len(got), 1, f"{name}{labels}: {got}")
        return got[0]

    def histogram_counts(self, text: str) -> Dict[Tuple[str, str], float]:
        """(backend, connect|login) -> observations so far."""
        out = {}
        for b in BACKENDS:
            out[(b, "connect")] = self.value(text, "imapgate_backend_connect_duration_seconds_count", backend=b)
            out[(b, "login")] = self.value(text, "imapgate_backend_login_duration_seconds_count", backend=b)
        return out

    def relay_bytes(self, text: str) -> Dict[str, float]:
        return {d: self.value(text, "imapgate_relay_bytes_total", direction=d) for d in (C2B, B2C)}

    def assert_promtool_clean(self, text: str) -> None:
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing (scripts/install-deps installs prometheus)")
        r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
        self.assertEqual((r.stdout + r.stderr).strip(), b"", "promtool check metrics found problems")

    def imap(self, user: str, password: str) -> imaplib.IMAP4_SSL:
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=self.client_ctx(), timeout=20)
        typ, _ = m.login(user, password)
        self.assertEqual(typ, "OK")
        return m

    def setUp(self):
        states = {n: b["state"] for n, b in self.backends_api().items()}
        self.assertEqual(states, {"a1": "up", "a2": "up", "b1": "up"})

    # 1 ----------------------------------------------------------------------------------------
    def test_01_series_exist_from_start_up_and_promtool_is_clean(self):
        text = self.scrape()
        for b in BACKENDS:
            with self.subTest(backend=b):
                for h in ("connect", "login"):
                    name = f"imapgate_backend_{h}_duration_seconds"
                    self.assertTrue(metric_samples(text, name + "_count"), name)
                    self.value(text, name + "_bucket", backend=b, le="+Inf")
                self.value(text, "imapgate_backend_errors_total", backend=b)
        self.assertEqual(self.value(text, "imapgate_shard_backends", shard="shard-a"), 2)
        self.assertEqual(self.value(text, "imapgate_shard_backends_up", shard="shard-a"), 2)
        self.assertEqual(self.value(text, "imapgate_shard_backends", shard="shard-b"), 1)
        self.assertEqual(self.value(text, "imapgate_shard_backends_up", shard="shard-b"), 1)
        self.relay_bytes(text)
        self.assertIn("# TYPE imapgate_backend_connect_duration_seconds histogram", text)
        self.assertIn("# TYPE imapgate_shard_backends_up gauge", text)
        self.assert_promtool_clean(text)

    # 2 ----------------------------------------------------------------------------------------
    def test_02_a_login_observes_connect_and_login_latency_of_the_backend_it_reached(self):
        for user, pw, backend in ((ALICE, ALICE_PW, "a1"), (BOB, BOB_PW, "b1")):
            with self.subTest(user=user):
                before = self.histogram_counts(self.scrape())
                m = self.imap(user, pw)
                close_quietly(m)
                after = self.histogram_counts(self.scrape())
                moved = {k: after[k] - before[k] for k in after if after[k] != before[k]}
                self.assertEqual(moved, {(backend, "connect"): 1, (backend, "login"): 1})
                text = self.scrape()
                # The login took less than its timeout; the connect less than the login.
                login_sum = self.value(text, "imapgate_backend_login_duration_seconds_sum", backend=backend)
                connect_sum = self.value(text, "imapgate_backend_connect_duration_seconds_sum", backend=backend)
                self.assertGreater(login_sum, 0)
                self.assertLessEqual(connect_sum, login_sum)

    # 3 ----------------------------------------------------------------------------------------
    def test_03_relay_bytes_grow_while_an_idle_session_lasts(self):
        idle = self.imap(ALICE, ALICE_PW)
        writer = None
        try:
            typ, data = idle.select("INBOX")
            self.assertEqual(typ, "OK")
            exists = int(data[0])
            idle.send(b"i1 IDLE\r\n")
            self.assertTrue(idle.readline().startswith(b"+"), "no IDLE continuation")
            writer = self.imap(ALICE, ALICE_PW)
            r0 = self.relay_bytes(self.scrape())
            body = "x" * 3000
            msg = ds.make_message(f"metrics {os.urandom(4).hex()}", body, to=ALICE)
            typ, _ = writer.append("INBOX", None, None, msg if isinstance(msg, bytes) else msg.encode())
            self.assertEqual(typ, "OK")
            got = b""
            deadline = time.monotonic() + 15
            while f"* {exists + 1} EXISTS".encode() not in got:
                self.assertLess(time.monotonic(), deadline, f"no EXISTS in the IDLE session: {got!r}")
                got += idle.readline()
            # Both sessions are still open: the bytes must show now, not when they end.
            r1 = self.relay_bytes(self.scrape())
            self.assertGreaterEqual(r1[C2B] - r0[C2B], 3000, "the APPEND's bytes are not counted yet")
            self.assertGreaterEqual(r1[B2C] - r0[B2C], len(f"* {exists + 1} EXISTS\r\n"),
                                    "the IDLE session's EXISTS is not counted yet")
            idle.send(b"DONE\r\n")
            while not idle.readline().startswith(b"i1 "):
                pass
        finally:
            close_quietly(idle)
            if writer is not None:
                close_quietly(writer)
        # The sessions' ends add their last commands only (DONE, LOGOUT and the answers), never
        # their totals again.
        time.sleep(0.5)
        r2 = self.relay_bytes(self.scrape())
        self.assertLess(r2[C2B] - r1[C2B], 1000, "a session's bytes were counted again at its end")
        self.assertLess(r2[B2C] - r1[B2C], 1000, "a session's bytes were counted again at its end")

    # 4 ----------------------------------------------------------------------------------------
    def test_04_a_dead_backend_shows_down_and_its_errors_count_for_it(self):
        interval, _, fall = self.health_timing()
        t0 = self.scrape()
        errors0 = {b: self.value(t0, "imapgate_backend_errors_total", backend=b) for b in BACKENDS}
        failovers0 = self.value(t0, "imapgate_failovers_total", shard="shard-a")
        bad_checks0 = sum(v for l, v in metric_samples(t0, "imapgate_health_checks_total")
                          if l.get("backend") == "a1" and l.get("result") != "ok")
        # Connected and greeted before a1 dies: the LOGIN comes while a1 is still "up" for
        # imapgate, so the login tries a1 and fails over to a2.
        c = self.connect_raw("implicit")
        self.kill_dovecot("a1")
        since = self.login_counts(ALICE)
        lines = c.command("l1", f'LOGIN "{ALICE}" "{ALICE_PW}"', timeout=30)
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        self.assertEqual(self.wait_login_on(ALICE, since), ["a2"])
        c.close()
        t1 = self.scrape()
        errors = {b: self.value(t1, "imapgate_backend_errors_total", backend=b) - errors0[b] for b in BACKENDS}
        self.assertEqual(errors, {"a1": 1, "a2": 0, "b1": 0}, "the error must count for the backend that failed")
        self.assertEqual(self.value(t1, "imapgate_failovers_total", shard="shard-a") - failovers0, 1)
        # Health: a1 down after its fall count; the shard has one usable backend of two.
        self.wait_state("a1", "down", timeout=interval * (fall + 1) + 3)
        t2 = self.scrape()
        self.assertEqual(self.value(t2, "imapgate_backend_up", backend="a1"), 0)
        self.assertEqual(self.value(t2, "imapgate_backend_up", backend="a2"), 1)
        self.assertEqual(self.value(t2, "imapgate_shard_backends", shard="shard-a"), 2)
        self.assertEqual(self.value(t2, "imapgate_shard_backends_up", shard="shard-a"), 1)
        self.assertEqual(self.value(t2, "imapgate_shard_backends_up", shard="shard-b"), 1)
        bad_checks = sum(v for l, v in metric_samples(t2, "imapgate_health_checks_total")
                         if l.get("backend") == "a1" and l.get("result") != "ok")
        self.assertGreater(bad_checks, bad_checks0, "no failed health check of a1 counted")
        # A login now skips a1 (marked down): no new error for it.
        self.assert_login_reaches(ALICE, ALICE_PW, "a2")
        self.assertEqual(metric_sum(self.scrape(), "imapgate_backend_errors_total", backend="a1"),
                         errors0["a1"] + 1)
        self.assert_promtool_clean(t2)


if __name__ == "__main__":
    unittest.main()
