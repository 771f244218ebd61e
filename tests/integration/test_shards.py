"""Shard routing (issue D) against real Dovecots, asserted on the backend side: which Dovecot
logged the login (ShardedGateTestCase.backends[NAME].logins(user)).

Two shards: shard-a = a1 (primary) and a2 (replica) sharing one mail store, shard-b = b1 linked
over STARTTLS verified against the test CA. The override file pins alice@demo.test to shard-a and
bob@demo.test to shard-b. Every user has mail on EVERY shard's store and exists on every Dovecot,
so a login sent to the wrong shard would succeed there: only the backend's log tells.

A backend "dies" by SIGKILL to its Dovecot's process group (master, login and imap processes):
its port refuses at once and its sessions vanish without a BYE of Dovecot's own, so any * BYE the
client sees is imapgate's. A cleanup starts it again and waits until imapgate reports it up.

* ShardsTest: users land on their shard (imaplib, both listeners); a login made just after the
  primary died fails over to the replica within the same login, promptly; health marks the
  primary down after its fall count and up again after its rise count (GET /api/v1/backends,
  imapgate_health_checks_total), and it takes logins again; a shard with every backend down
  answers NO [UNAVAILABLE] within the connect timeout and never borrows another shard's
  backend; a backend dying mid-session sends * BYE and the next login reaches the replica; drain
  (grace from the request body, or timeouts.drain_grace) / undrain through the admin API; a
  reload (SIGHUP) moves a user for new logins while their IDLE session stays on the old backend
  and keeps working, and an invalid override file changes nothing.
* WrongCaTest: shard-b's backend verified against a CA that did not sign its certificate: bob
  gets NO [UNAVAILABLE] and the log names the TLS verification failure (ShardsTest is the same
  link with the right CA).
* ProxyProtocolTest / ProxyUntrustedTest: PROXY v2 in, `mode: required` on both listeners: the
  backend logs the address from the header (rip=, rport=); a header sent in three segments
  works, one sent in one-byte segments is refused (too_fragmented); garbage, an unknown family, an over-long v1 line or no header at all closes the
  connection without a greeting (proxy_header_refused with the reason); from a peer outside
  `trusted` the connection is closed without a greeting (reason=untrusted_peer).
"""

from __future__ import annotations

import imaplib
import json
import os
import re
import signal
import socket
import struct
import time
import unittest
from typing import Dict, List, Optional, Tuple

from harness import (ALICE, ALICE_PW, BOB, BOB_PW, HOST, PROXY_V2_SIGNATURE, RawClient,
                     ShardedGateTestCase, close_quietly, ds, proxy_v2_header, tagged_status,
                     write_overrides)

RELOAD_DONE = r"event=reload_(ok|failed)\b"
BACKEND_CONNECT_TIMEOUT = float(ds.DEFAULT_TIMEOUTS["backend_connect"].rstrip("s"))  # 5 s



class ShardsBase(ShardedGateTestCase):
    OVERRIDES = {ALICE: "shard-a", BOB: "shard-b"}
    STARTTLS_SHARDS = ("shard-b",)
    # Checks every second, fall 2: after a Dovecot dies, a login has at least a second in which
    # it is still "up" for imapgate and must fail over within the login itself.
    HEALTH_CHECKS = {"interval": "1s", "timeout": "1s", "rise": 2, "fall": 2}

    # -- logins ------------------------------------------------------------------------------
    def connect_raw(self, listener: str = "implicit") -> RawClient:
        """A raw client, greeting read (and STARTTLS done on the STARTTLS listener)."""
        if listener == "implicit":
            c = self.implicit()
            g = c.greeting()
            self.assertTrue(g.startswith(b"* OK"), g)
            return c
        return self.starttls()

    def try_login(self, user: str, password: str, listener: str = "implicit",
                  tag: str = "l1") -> Tuple[RawClient, List[bytes], float]:
        """Connects, sends LOGIN; returns the client, the response lines and the LOGIN's time
        (from sending it to its tagged answer)."""
        c = self.connect_raw(listener)
        t0 = time.monotonic()
        lines = c.command(tag, f'LOGIN "{user}" "{password}"', timeout=30)
        return c, lines, time.monotonic() - t0

    def wait_login_on(self, user: str, since: Dict[str, int], timeout: float = 5) -> List[str]:
        """The backends whose Dovecot logged a new login of `user` since the snapshot, waiting
        (Dovecot writes its log through its log process, a moment after the OK) until one did."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.backend_that_logged(user, since)
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def assert_login_reaches(self, user: str, password: str, backend: str, listener: str = "implicit",
                             keep: bool = False) -> Optional[RawClient]:
        """A LOGIN of `user` gets OK and the Dovecot `backend`, and only it, logged it."""
        since = self.login_counts(user)
        c, lines, _ = self.try_login(user, password, listener)
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        self.assertEqual(self.wait_login_on(user, since), [backend],
                         f"{user}'s login should have reached {backend} only")
        if keep:
            return c
        c.close()
        return None

    # -- admin API ---------------------------------------------------------------------------
    def backends_api(self) -> Dict[str, Dict]:
        status, body, parsed = self.admin_request("GET", "/api/v1/backends")
        self.assertEqual(status, 200, body)
        return {b["name"]: b for b in parsed["backends"]}

    def wait_state(self, backend: str, state: str, timeout: float) -> float:
        """Polls GET /api/v1/backends until `backend` has `state`; returns the seconds it took."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last = None
        while True:
            last = self.backends_api()[backend]
            if last["state"] == state:
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                self.fail(f"{backend} not {state} within {timeout}s: {last}")
            time.sleep(0.05)

    def health_check_counts(self, backend: str) -> Dict[str, float]:
        """imapgate_health_checks_total{backend=BACKEND} by result, from /metrics."""
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200)
        out: Dict[str, float] = {}
        for m in re.finditer(r'(?m)^imapgate_health_checks_total\{([^}]*)\} (\S+)$', body.decode()):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if labels.get("backend") == backend:
                out[labels["result"]] = float(m.group(2))
        self.assertIn("ok", out, f"no imapgate_health_checks_total for {backend}")
        return out

    def post(self, path: str, body: Optional[Dict] = None, token: Optional[str] = "default"):
        tok = self.admin_token if token == "default" else token
        return self.admin_request("POST", path, token=tok,
                                  body=json.dumps(body).encode() if body is not None else None)

    # -- backends ----------------------------------------------------------------------------
    def health_timing(self) -> Tuple[float, int, int]:
        hc = self.HEALTH_CHECKS
        interval = float(hc["interval"][:-2]) / 1000 if hc["interval"].endswith("ms") else float(hc["interval"][:-1])
        return interval, int(hc["rise"]), int(hc["fall"])

    def kill_dovecot(self, name: str) -> None:
        """Kills the Dovecot `name` at once: SIGKILL to its whole process group (master, login
        and imap processes), so its listener and its sessions vanish without a word, like a
        crashed host. A cleanup starts it again and waits until imapgate sees it up."""
        d = self.backends[name]
        self.assertIsNotNone(d.proc)
        os.killpg(d.proc.pid, signal.SIGKILL)
        d.proc.wait(timeout=10)
        self.addCleanup(self.restart_dovecot, name)
        deadline = time.monotonic() + 5
        while ds.port_accepts(d.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(ds.port_accepts(d.port), f"{name} still accepts connections after SIGKILL")

    def restart_dovecot(self, name: str, wait_up: bool = True) -> None:
        d = self.backends[name]
        if d.proc is None or d.proc.poll() is not None:
            d.proc = None
            d.start()
        if wait_up:
            interval, rise, _ = self.health_timing()
            self.wait_state(name, "up", timeout=interval * (rise + 2) + 5)


class ShardsTest(ShardsBase):
    DRAIN_GRACE = "1s"

    @classmethod
    def start_backend(cls) -> int:
        port = super().start_backend()
        ds.readable_after_privilege_drop(cls.tls["key"], cls.token_file)  # for the reload test
        return port

    def setUp(self):
        # Every test starts with every backend up and nothing drained.
        states = {n: b["state"] for n, b in self.backends_api().items()}
        self.assertEqual(states, {"a1": "up", "a2": "up", "b1": "up"})

    # 1 --------------------------------------------------------------------------------------
    def test_01_users_land_on_their_shard_through_both_listeners(self):
        ctx = self.client_ctx()
        for listener in ("implicit", "starttls"):
            for user, pw, backend in ((ALICE, ALICE_PW, "a1"), (BOB, BOB_PW, "b1")):
                with self.subTest(listener=listener, user=user):
                    since = self.login_counts(user)
                    if listener == "implicit":
                        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=ctx, timeout=20)
                    else:
                        m = imaplib.IMAP4("localhost", self.starttls_port, timeout=20)
                        m.starttls(ssl_context=ctx)
                    try:
                        typ, _ = m.login(user, pw)
                        self.assertEqual(typ, "OK")
                        typ, data = m.select("INBOX", readonly=True)
                        self.assertEqual((typ, data), ("OK", [str(self.MESSAGES_PER_USER).encode()]))
                        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                        self.assertEqual(typ, "OK")
                        self.assertIn(f"Message 1 for {user}".encode(), data[0][1])
                    finally:
                        close_quietly(m)
                    self.assertEqual(self.wait_login_on(user, since), [backend])
        # b1 is reached over STARTTLS verified against the test CA: the backend's own login line
        # says the connection to it was TLS, a1's (plaintext link) does not.
        self.assertIn(", TLS, session=", self.backends["b1"].logins(BOB)[-1])
        self.assertIn(", secured, session=", self.backends["a1"].logins(ALICE)[-1])
        api = self.backends_api()
        self.assertEqual((api["b1"]["shard"], api["b1"]["security"]), ("shard-b", "starttls"))
        self.assertEqual((api["a1"]["shard"], api["a1"]["security"]), ("shard-a", "plaintext"))
        # Never the replica or the other shard.
        self.assertEqual(self.backends["a2"].logins(ALICE), [])
        self.assertEqual(self.backends["a1"].logins(BOB) + self.backends["a2"].logins(BOB), [])
        self.assertEqual(self.backends["b1"].logins(ALICE), [])

    # 2 --------------------------------------------------------------------------------------
    def test_02_primary_down_failover_in_the_login_then_back_after_rise(self):
        interval, rise, fall = self.health_timing()
        checks0 = self.health_check_counts("a1")
        # The client is connected and greeted before a1 dies, so its LOGIN reaches imapgate at
        # once, while a1 is still "up" for imapgate (fall 2, checks every second): the login
        # tries a1, fails over to a2 within the login, and the client only sees OK.
        c = self.connect_raw("implicit")
        log_before = len(self.gate_log())
        self.kill_dovecot("a1")
        since = self.login_counts(ALICE)
        t0 = time.monotonic()
        lines = c.command("l1", f'LOGIN "{ALICE}" "{ALICE_PW}"', timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        self.assertLess(took, BACKEND_CONNECT_TIMEOUT / 2, "the failover must not wait for a timeout")
        self.assertEqual(self.wait_login_on(ALICE, since), ["a2"])
        sel = c.command("s1", "SELECT INBOX")
        self.assertEqual(tagged_status(sel, "s1"), b"OK", sel)
        c.close()
        self.assertRegex(self.gate_log()[log_before:],
                         r"event=backend_failover\b.*\bshard=shard-a\b.*\bbackend=a1\b",
                         "the login did not fail over from a1 within the login")
        # Health: a1 is down after `fall` failed results (active checks, plus the failed login).
        self.wait_state("a1", "down", timeout=interval * (fall + 1) + 3)
        failed = sum(n - checks0.get(r, 0) for r, n in self.health_check_counts("a1").items() if r != "ok")
        passive = len(re.findall(r"event=backend_failover\b.*\bbackend=a1\b", self.gate_log()[log_before:]))
        self.assertGreaterEqual(failed + passive, fall, "a1 marked down before its fall count")
        api = self.backends_api()
        self.assertEqual(api["a2"]["state"], "up")
        self.assertIsNotNone(api["a1"]["last_check"])
        self.assertFalse(api["a1"]["last_check"]["ok"], api["a1"])
        # Logins go to a2 straight away now (a1 is not tried: no more failovers logged).
        log_before = len(self.gate_log())
        for _ in range(2):
            self.assert_login_reaches(ALICE, ALICE_PW, "a2")
        self.assertNotRegex(self.gate_log()[log_before:], r"event=backend_failover\b")
        # a1 back: up only after `rise` good checks; then it takes alice's logins again.
        ok0 = self.health_check_counts("a1").get("ok", 0)
        self.backends["a1"].start()
        self.wait_state("a1", "up", timeout=interval * (rise + 2) + 3)
        oks = self.health_check_counts("a1").get("ok", 0) - ok0
        self.assertGreaterEqual(oks, rise, "a1 marked up before its rise count of good checks")
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")
        self.assert_login_reaches(ALICE, ALICE_PW, "a1", listener="starttls")

    # 3 --------------------------------------------------------------------------------------
    def test_03_whole_shard_down_is_unavailable_and_never_another_shard(self):
        interval, _, fall = self.health_timing()
        self.kill_dovecot("a1")
        self.kill_dovecot("a2")
        for when in ("at once (both still up for imapgate)", "after both are marked down"):
            if when.startswith("after"):
                self.wait_state("a1", "down", timeout=interval * (fall + 1) + 3)
                self.wait_state("a2", "down", timeout=interval * (fall + 1) + 3)
            with self.subTest(when=when):
                since = self.login_counts(ALICE)
                c, lines, took = self.try_login(ALICE, ALICE_PW)
                self.assertRegex(lines[-1], rb"^l1 NO \[UNAVAILABLE\]", lines)
                self.assertLess(took, BACKEND_CONNECT_TIMEOUT, "NO [UNAVAILABLE] must come within the connect timeout")
                # alice exists on b1 with mail: sending her there would have worked, and is wrong.
                time.sleep(0.3)  # let a wrong login reach b1's log
                self.assertEqual(self.backend_that_logged(ALICE, since), [])
                # The session is still usable (no hang, no drop): LOGOUT answers.
                lo = c.command("z", "LOGOUT")
                self.assertEqual(tagged_status(lo, "z"), b"OK", lo)
                c.close()
        # shard-b is not affected.
        self.assert_login_reaches(BOB, BOB_PW, "b1")
        self.assert_login_reaches(BOB, BOB_PW, "b1", listener="starttls")
        self.assertEqual(self.backends["b1"].logins(ALICE), [])

    # 4 --------------------------------------------------------------------------------------
    def test_04_backend_dies_mid_session_bye_then_replica(self):
        c = self.assert_login_reaches(ALICE, ALICE_PW, "a1", keep=True)
        lines = c.command("s1", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        self.assertEqual(len(self.backends["a1"].session_pids(ALICE)), 1)
        self.kill_dovecot("a1")
        # a1 was killed without a word: the * BYE is imapgate's.
        data, closed = c.read_until_close(timeout=10)
        self.assertTrue(closed, f"connection not closed after a1 died; got {data!r}")
        self.assertRegex(data, rb"(^|\r\n)\* BYE", f"no * BYE before the close: {data!r}")
        # At once: the next login reaches the replica, with the same mail.
        since = self.login_counts(ALICE)
        c2, lines, took = self.try_login(ALICE, ALICE_PW)
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        self.assertLess(took, BACKEND_CONNECT_TIMEOUT / 2)
        self.assertEqual(self.wait_login_on(ALICE, since), ["a2"])
        lines = c2.command("s2", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s2"), b"OK", lines)
        self.assertIn(f"* {self.MESSAGES_PER_USER} EXISTS".encode(), b"".join(lines))
        c2.close()

    # 5 --------------------------------------------------------------------------------------
    def test_05_drain_bye_after_grace_new_logins_to_replica_undrain_restores(self):
        grace = 3
        old = self.assert_login_reaches(ALICE, ALICE_PW, "a1", keep=True)
        lines = old.command("s1", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        # A change without the token (or with a wrong one) is refused and changes nothing.
        for tok in (None, "not-the-token-0123456789"):
            status, body, _ = self.post("/api/v1/backends/a1/drain", {"grace_seconds": grace}, token=tok)
            self.assertEqual(status, 401, body)
        self.assertEqual(self.backends_api()["a1"]["state"], "up")

        status, body, parsed = self.post("/api/v1/backends/a1/drain", {"grace_seconds": grace})
        drained = time.monotonic()
        self.addCleanup(self.post, "/api/v1/backends/a1/undrain")
        self.assertEqual(status, 200, body)
        self.assertEqual(parsed["backend"]["name"], "a1")
        self.assertEqual(parsed["backend"]["state"], "draining")
        api = self.backends_api()
        self.assertEqual((api["a1"]["state"], api["a2"]["state"], api["b1"]["state"]), ("draining", "up", "up"))
        self.assertGreaterEqual(api["a1"]["active_sessions"], 1, api["a1"])
        # Meanwhile new logins go to the replica, while the old session still works on a1.
        self.assert_login_reaches(ALICE, ALICE_PW, "a2")
        lines = old.command("n1", "NOOP")
        self.assertEqual(tagged_status(lines, "n1"), b"OK", lines)
        self.assertLess(time.monotonic() - drained, grace, "too slow to check the session before the grace ends")
        # After the grace: * BYE, and the connection closes.
        data, closed = old.read_until_close(timeout=grace + 10)
        ended = time.monotonic() - drained
        self.assertTrue(closed, f"no close after the drain grace; got {data!r}")
        self.assertRegex(data, rb"(^|\r\n)\* BYE", data)
        self.assertGreaterEqual(ended, grace - 0.25, f"* BYE {ended:.2f}s after the drain, before its grace")
        self.assertLess(ended, grace + 5)
        self.assertEqual(self.backends_api()["a1"]["state"], "draining")
        self.assert_login_reaches(ALICE, ALICE_PW, "a2", listener="starttls")
        # Undrain: a1 takes new logins again.
        status, body, parsed = self.post("/api/v1/backends/a1/undrain")
        self.assertEqual(status, 200, body)
        self.assertNotEqual(parsed["backend"]["state"], "draining")
        self.wait_state("a1", "up", timeout=5)
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")

    def test_06_default_drain_grace_from_the_config(self):
        # No body: timeouts.drain_grace (1s) applies.
        old = self.assert_login_reaches(ALICE, ALICE_PW, "a1", keep=True)
        status, body, parsed = self.post("/api/v1/backends/a1/drain")
        drained = time.monotonic()
        self.addCleanup(self.post, "/api/v1/backends/a1/undrain")
        self.assertEqual(status, 200, body)
        data, closed = old.read_until_close(timeout=10)
        ended = time.monotonic() - drained
        self.assertTrue(closed, data)
        self.assertRegex(data, rb"(^|\r\n)\* BYE", data)
        self.assertGreaterEqual(ended, 1 - 0.25)
        self.assertLess(ended, 1 + 5)
        status, body, _ = self.post("/api/v1/backends/a1/undrain")
        self.assertEqual(status, 200, body)
        self.wait_state("a1", "up", timeout=5)

    # 7 --------------------------------------------------------------------------------------
    def reload_and_wait(self) -> str:
        before = len(self.wait_for_log(RELOAD_DONE, timeout=0))
        self.reload()
        lines = self.wait_for_log(RELOAD_DONE, timeout=20, count=before + 1)
        self.assertGreater(len(lines), before, "no reload_ok or reload_failed after SIGHUP")
        return lines[before]

    def restore_overrides(self) -> None:
        write_overrides(self.override_file, self.OVERRIDES)
        line = self.reload_and_wait()
        self.assertIn("event=reload_ok", line)

    def route_of(self, user: str) -> Dict:
        status, body, parsed = self.admin_request("GET", f"/api/v1/route?user={user}")
        self.assertEqual(status, 200, body)
        return parsed

    def test_07_reload_moves_a_user_for_new_logins_idle_session_stays(self):
        # bob idles on b1.
        idle = self.assert_login_reaches(BOB, BOB_PW, "b1", listener="starttls", keep=True)
        lines = idle.command("s1", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        exists = int(re.search(rb"\* (\d+) EXISTS", b"".join(lines)).group(1))
        idle.send(b"i1 IDLE\r\n")
        self.assertTrue(idle.readline().startswith(b"+"), "no IDLE continuation")
        self.assertEqual(self.route_of(BOB)["shard"], "shard-b")

        # A client that connects before the reload and logs in after it.
        early = self.connect_raw("implicit")

        # Move bob to shard-a.
        self.addCleanup(self.restore_overrides)
        write_overrides(self.override_file, {ALICE: "shard-a", BOB: "shard-a"}, comment="bob moved")
        line = self.reload_and_wait()
        self.assertIn("event=reload_ok", line)
        self.assertEqual(self.route_of(BOB)["shard"], "shard-a")
        self.assert_login_reaches(BOB, BOB_PW, "a1")
        self.assert_login_reaches(BOB, BOB_PW, "a1", listener="starttls")
        # The early client's login, after the reload, routes with the new overrides too.
        since = self.login_counts(BOB)
        lines = early.command("l1", f'LOGIN "{BOB}" "{BOB_PW}"', timeout=30)
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        self.assertEqual(self.wait_login_on(BOB, since), ["a1"],
                         "a client connected before the reload logged in with the old shard map")
        early.close()

        # The IDLE session is still relaying to b1: a message stored on b1 only shows up in it.
        subject = f"for the idle session {os.urandom(4).hex()}"
        self.backends["b1"].deliver(BOB, ds.make_message(subject, "only on b1", to=BOB))
        got = b""
        deadline = time.monotonic() + 10
        while f"* {exists + 1} EXISTS".encode() not in got:
            self.assertLess(time.monotonic(), deadline, f"no EXISTS in the IDLE session: {got!r}")
            got += idle.readline(timeout=max(0.1, deadline - time.monotonic()))
        idle.send(b"DONE\r\n")
        lines = idle.read_response("i1")
        self.assertEqual(tagged_status(lines, "i1"), b"OK", lines)
        lines = idle.command("n1", "NOOP")
        self.assertEqual(tagged_status(lines, "n1"), b"OK", lines)
        lines = idle.command("f1", f"FETCH {exists + 1} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(tagged_status(lines, "f1"), b"OK", lines)
        self.assertIn(subject.encode(), b"".join(lines))
        self.assertEqual(len(self.backends["b1"].session_pids(BOB)), 1, "bob's IDLE session left b1")
        status, body, parsed = self.admin_request("GET", f"/api/v1/sessions?user={BOB}")
        self.assertEqual(status, 200, body)
        self.assertEqual([s["backend"] for s in parsed["sessions"]], ["b1"], parsed)

        # An invalid override file (an unknown shard) changes nothing, not even its valid line
        # that would send bob back to shard-b.
        failed_before = len(self.wait_for_log(r"event=reload_failed\b", timeout=0))
        write_overrides(self.override_file, {BOB: "shard-b", ALICE: "shard-nowhere"})
        line = self.reload_and_wait()
        self.assertIn("event=reload_failed", line)
        self.assertIn("shard-nowhere", line)
        self.assertIn(str(self.override_file), line)
        self.assertEqual(len(self.wait_for_log(r"event=reload_failed\b", timeout=0)), failed_before + 1)
        self.assertEqual(self.route_of(BOB)["shard"], "shard-a")
        self.assertEqual(self.route_of(ALICE)["shard"], "shard-a")
        self.assert_login_reaches(BOB, BOB_PW, "a1")
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")
        # The IDLE session still answers.
        lines = idle.command("n2", "NOOP")
        self.assertEqual(tagged_status(lines, "n2"), b"OK", lines)
        idle.command("z", "LOGOUT")


class WrongCaTest(ShardsBase):
    """shard-b's b1 is verified against another CA than the one that signed its certificate."""

    SHARDS = [("shard-a", ["a1"]), ("shard-b", ["b1"])]
    HEALTH_CHECKS = {"interval": "500ms", "timeout": "500ms", "rise": 2, "fall": 2}

    @classmethod
    def shards_config(cls):
        cls.other_ca = ds.make_ca_and_server_cert(cls.tmp / "other-ca")["ca"]
        out = super().shards_config()
        for shard, backends in out:
            for b in backends:
                if b["name"] == "b1":
                    assert b["security"] == "starttls", b
                    b["tls_ca"] = str(cls.other_ca)
        return out

    def test_starttls_backend_with_the_wrong_ca_is_refused(self):
        since = self.login_counts(BOB)
        for listener in ("implicit", "starttls"):
            c, lines, took = self.try_login(BOB, BOB_PW, listener)
            self.assertRegex(lines[-1], rb"^l1 NO \[UNAVAILABLE\]", lines)
            self.assertLess(took, BACKEND_CONNECT_TIMEOUT)
            c.close()
        time.sleep(0.3)
        self.assertEqual(self.backend_that_logged(BOB, since), [], "bob must not be logged in anywhere")
        # The log says why: a TLS certificate verification failure on b1.
        tls_fail = re.compile(r"(?i)(certificate|verif)")
        lines = [l for l in self.gate_log().splitlines() if re.search(r"\bb1\b", l) and tls_fail.search(l)]
        self.assertTrue(lines, "no log line names b1's TLS verification failure:\n" + self.gate_log()[-3000:])
        # The other shard works.
        self.assert_login_reaches(ALICE, ALICE_PW, "a1")


class ProxyBase(ShardsBase):
    SHARDS = [("shard-a", ["a1"])]
    OVERRIDES: Dict[str, str] = {}
    STARTTLS_SHARDS = ()
    TRUSTED = ["127.0.0.1/32"]
    PROXY_TIMEOUT = "1s"

    @classmethod
    def imapgate_config(cls, **overrides) -> str:
        text = super().imapgate_config(**overrides)
        block = ("    proxy_protocol:\n      mode: required\n"
                 f"      trusted: [{', '.join(cls.TRUSTED)}]\n      timeout: {cls.PROXY_TIMEOUT}\n")
        for mode in ("implicit", "starttls"):
            line = f"    mode: {mode}\n"
            assert text.count(line) == 1, text
            text = text.replace(line, line + block)
        return text

    def raw_socket(self, port: int) -> socket.socket:
        s = socket.create_connection((HOST, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(s.close)
        return s

    def assert_closed_without_greeting(self, s: socket.socket, timeout: float = 5) -> None:
        c = RawClient(s)
        data, closed = c.read_until_close(timeout)
        self.assertTrue(closed, f"not closed within {timeout}s; got {data!r}")
        self.assertEqual(data, b"", "bytes sent before the PROXY header was accepted")

    def refused_count(self, reason: str) -> int:
        return len(self.wait_for_log(rf"event=proxy_header_refused\b.*\breason={reason}\b", timeout=0))

    def wait_refused(self, reason: str, before: int) -> None:
        lines = self.wait_for_log(rf"event=proxy_header_refused\b.*\breason={reason}\b", timeout=5,
                                  count=before + 1)
        self.assertEqual(len(lines), before + 1, f"no proxy_header_refused reason={reason} in the log")


class ProxyProtocolTest(ProxyBase):

    def rip_logins(self, ip: str, port: int) -> List[str]:
        return [l for l in self.backends["a1"].logins(ALICE) if f"rip={ip}," in l and f"rport={port}," in l]

    def wait_rip(self, ip: str, port: int) -> List[str]:
        deadline = time.monotonic() + 5
        while not self.rip_logins(ip, port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.rip_logins(ip, port)

    def test_01_v2_header_then_implicit_tls_backend_sees_the_client_address(self):
        s = self.raw_socket(self.implicit_port)
        s.sendall(proxy_v2_header("192.0.2.10", 40000, HOST, self.implicit_port))
        c = RawClient(self.client_ctx().wrap_socket(s, server_hostname="localhost"))
        self.addCleanup(c.close)
        self.assertTrue(c.greeting().startswith(b"* OK"))
        self.login(c)
        logged = self.wait_rip("192.0.2.10", 40000)
        self.assertEqual(len(logged), 1, self.backends["a1"].logins(ALICE)[-3:])
        # imapgate's own view: the session's client address is the one from the header.
        status, body, parsed = self.admin_request("GET", f"/api/v1/sessions?user={ALICE}")
        self.assertEqual(status, 200, body)
        self.assertTrue(any(x["client_address"].startswith("192.0.2.10") for x in parsed["sessions"]), parsed)
        c.command("z", "LOGOUT")

    def test_02_v2_header_in_three_segments_then_starttls(self):
        s = self.raw_socket(self.starttls_port)
        header = proxy_v2_header("192.0.2.11", 40001, HOST, self.starttls_port)
        third = len(header) // 3 + 1
        for at in range(0, len(header), third):
            s.sendall(header[at:at + third])
            time.sleep(0.05)
        c = RawClient(s)
        self.addCleanup(c.close)
        self.assertTrue(c.greeting().startswith(b"* OK"))
        lines = c.command("s1", "STARTTLS")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        c.upgrade(self.client_ctx())
        self.login(c)
        self.assertEqual(len(self.wait_rip("192.0.2.11", 40001)), 1, self.backends["a1"].logins(ALICE)[-3:])
        c.command("z", "LOGOUT")

    def test_03_malformed_headers_close_without_greeting(self):
        bad_family = PROXY_V2_SIGNATURE + bytes([0x21, 0x41]) + struct.pack("!H", 12) + bytes(12)
        cases = [
            ("bad_signature", b"a1 LOGIN alice@demo.test alice-password\r\n"),
            ("bad_signature", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32)),  # a TLS ClientHello
            ("v2_unknown_family", bad_family),
            ("v1_too_long", b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n"),
        ]
        since = self.login_counts(ALICE)
        for reason, data in cases:
            for port in (self.implicit_port, self.starttls_port):
                with self.subTest(reason=reason, port=port):
                    before = self.refused_count(reason)
                    s = self.raw_socket(port)
                    s.sendall(data)
                    self.assert_closed_without_greeting(s)
                    self.wait_refused(reason, before)
        time.sleep(0.3)
        self.assertEqual(self.backend_that_logged(ALICE, since), [], "a refused connection logged in")

    def test_03b_header_in_one_byte_segments_is_refused(self):
        before = self.refused_count("too_fragmented")
        s = self.raw_socket(self.starttls_port)
        try:
            for b in proxy_v2_header("192.0.2.12", 40002, HOST, self.starttls_port):
                s.sendall(bytes([b]))
                time.sleep(0.01)
        except OSError:
            pass  # closed while still sending: refused
        self.assert_closed_without_greeting(s)
        self.wait_refused("too_fragmented", before)

    def test_04_no_header_closed_after_the_proxy_timeout(self):
        before = self.refused_count("timeout")
        s = self.raw_socket(self.starttls_port)
        t0 = time.monotonic()
        self.assert_closed_without_greeting(s, timeout=10)
        self.assertLess(time.monotonic() - t0, 1 + 3)
        self.wait_refused("timeout", before)


class ProxyUntrustedTest(ProxyBase):
    TRUSTED = ["10.0.0.0/8"]

    def test_01_header_from_an_untrusted_peer_is_refused(self):
        since = self.login_counts(ALICE)
        for port in (self.implicit_port, self.starttls_port):
            with self.subTest(port=port):
                before = self.refused_count("untrusted_peer")
                s = self.raw_socket(port)
                s.sendall(proxy_v2_header("192.0.2.10", 40000, HOST, port))
                self.assert_closed_without_greeting(s)
                self.wait_refused("untrusted_peer", before)
        self.assertEqual(self.backend_that_logged(ALICE, since), [])


if __name__ == "__main__":
    unittest.main()
