"""Live configuration reload (SIGHUP), against real Dovecots.

* An invalid file (a YAML error, an unknown key, a bad value) is refused: reload_failed with
  FILE:LINE:COL, the failed counter moves, and new logins still reach the same backend.
* A valid reload that points the backend at a second Dovecot: new logins reach the second one
  (its log has the login, with the client's port, and only it has its marker message), while an
  IDLE session opened before the reload stays on the first one and keeps working.
* A reload that moves a listener logs reload_needs_restart and keeps serving on the old address.

imapgate drops root after binding (to the harness's unprivileged account), so the TLS key is made
readable by that account's group: a reload loads every certificate and key again.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
import urllib.request
from typing import Dict, List, Optional

from harness import ALICE, ALICE_PW, USERS, GateTestCase, RawClient, ds, tagged_status

RELOAD_DONE = r"event=reload_(ok|failed)\b"


def subjects(c: RawClient, tag: str, sequence: str = "1:*") -> List[bytes]:
    """The Subject header values of the messages `sequence` of the selected mailbox."""
    lines = c.command(tag, f"FETCH {sequence} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    if tagged_status(lines, tag) != b"OK":
        raise AssertionError(f"FETCH failed: {lines!r}")
    return re.findall(rb"Subject: ([^\r\n]*)", b"".join(lines))


class ReloadCase(GateTestCase):
    """Helpers: write the config file, send SIGHUP, wait for the outcome, read the metrics."""

    @classmethod
    def start_backend(cls) -> int:
        ds.readable_after_privilege_drop(cls.tls["key"])
        return super().start_backend()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.original = cls.config_path.read_text()
        # config_text() must reproduce the harness's file, or "the same file" would differ.
        if cls.config_text() != cls.original:
            cls._teardown(check=False)
            raise AssertionError("config_text() differs from the harness's config")

    @classmethod
    def config_text(cls, backend_port: Optional[int] = None, implicit_port: Optional[int] = None,
                    limits: Optional[Dict] = None, starttls: bool = True) -> str:
        return ds.imapgate_yaml(
            str(cls.tls["cert"]), str(cls.tls["key"]), backend_port or cls.backend_port,
            implicit_port=implicit_port or cls.implicit_port,
            starttls_port=cls.starttls_port if starttls else None,
            admin_port=cls.admin_port, backend_security=cls.BACKEND_SECURITY,
            limits=dict(cls.LIMITS, **(limits or {})), timeouts=cls.TIMEOUTS, workers=cls.WORKERS)

    def reload(self, text: str) -> str:
        """Writes `text` as the config file, sends SIGHUP; returns the reload_ok/failed line."""
        self.config_path.write_text(text)
        before = len(self.wait_for_log(RELOAD_DONE, timeout=0))
        os.kill(self.gate.pid, signal.SIGHUP)
        lines = self.wait_for_log(RELOAD_DONE, timeout=20, count=before + 1)
        self.assertGreater(len(lines), before, "no reload_ok or reload_failed after SIGHUP")
        return lines[before]

    def restore(self) -> None:
        line = self.reload(self.original)
        self.assertIn("event=reload_ok", line)

    def metrics(self) -> Dict[str, float]:
        """imapgate's /metrics as {'name{labels}': value}."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def login_client(self, port: Optional[int] = None) -> RawClient:
        c = RawClient.connect(port or self.implicit_port, tls=True, ctx=self.client_ctx())
        self.addCleanup(c.close)
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        self.login(c, ALICE, ALICE_PW)
        return c

    def assert_backend_logged(self, dovecot: ds.Dovecot, c: RawClient, expected: bool) -> None:
        """Whether `dovecot` logged the login of client `c` (ID forwarding gives it the port)."""
        port = c.sock.getsockname()[1]
        rx = re.compile(rf"Login: user=<{re.escape(ALICE)}>.*rport={port}\b")
        deadline = time.monotonic() + 5
        while True:
            found = bool(rx.search(dovecot.log_path.read_text(errors="replace")))
            if found or not expected or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(found, expected,
                         f"login from client port {port} {'not ' if expected else ''}in {dovecot.log_path}")


class InvalidReloadTest(ReloadCase):
    """An invalid file changes nothing: same backend, same generation, the failure counted."""

    def check_refused(self, text: str, location: str) -> None:
        m0 = self.metrics()
        line = self.reload(text)
        self.assertIn("event=reload_failed", line)
        self.assertRegex(line, r"error=\"?" + re.escape(str(self.config_path)) + ":" + location + ": ",
                         "reload_failed does not carry FILE:LINE:COL")
        self.assertIn("generation=1 ", line)
        m1 = self.metrics()
        self.assertEqual(m1['imapgate_config_reloads_total{result="failed"}'],
                         m0['imapgate_config_reloads_total{result="failed"}'] + 1)
        self.assertEqual(m1['imapgate_config_reloads_total{result="ok"}'], 0)
        self.assertEqual(m1["imapgate_config_last_reload_timestamp_seconds"],
                         m0["imapgate_config_last_reload_timestamp_seconds"])
        # New logins work, still on the same Dovecot (each invalid file also names a dead backend).
        c = self.login_client()
        self.assertEqual(tagged_status(c.command("n", "NOOP"), "n"), b"OK")
        self.assert_backend_logged(self.dovecot, c, True)

    def dead_backend(self) -> str:
        return self.config_text(backend_port=ds.free_port())

    def test_1_yaml_error(self):
        text = self.dead_backend() + "timeouts: { idle: 5m\n"  # an unclosed flow mapping
        self.check_refused(text, r"\d+:\d+")

    def test_2_unknown_key(self):
        text = self.dead_backend() + "no_such_key: 1\n"
        line_no = text.count("\n")
        self.check_refused(text, f"{line_no}:1")
        self.assertRegex(self.gate_log(), r"unknown key.*no_such_key")

    def test_3_bad_value(self):
        text = self.dead_backend().replace("idle: 30m", "idle: soon")
        self.assertIn("idle: soon", text)
        lines = text.splitlines()
        line_no = next(i for i, l in enumerate(lines, 1) if "idle: soon" in l)
        self.check_refused(text, f"{line_no}:\\d+")

    def test_4_metrics_from_start_and_a_valid_reload_is_generation_2(self):
        m0 = self.metrics()
        self.assertGreater(m0["imapgate_config_last_reload_timestamp_seconds"], 1e9)  # set at start
        line = self.reload(self.original)
        self.assertIn("event=reload_ok", line)
        self.assertIn("generation=2 ", line)  # nothing was installed by the refused reloads
        m1 = self.metrics()
        self.assertEqual(m1['imapgate_config_reloads_total{result="ok"}'], 1)
        self.assertGreater(m1["imapgate_config_last_reload_timestamp_seconds"],
                           m0["imapgate_config_last_reload_timestamp_seconds"])


class BackendReloadTest(ReloadCase):
    """A reload moves new logins to another Dovecot; an IDLE session opened before stays."""

    dovecot_b: Optional[ds.Dovecot] = None

    @classmethod
    def start_backend(cls) -> int:
        port = super().start_backend()
        cls.dovecot.deliver(ALICE, ds.make_message("marker: backend A", "only on A", to=ALICE))
        cls.dovecot_b = ds.Dovecot(cls.tmp / "dovecot-b", users=USERS).start()
        cls.dovecot_b.deliver(ALICE, ds.make_message("marker: backend B", "only on B", to=ALICE))
        return port

    @classmethod
    def stop_backend(cls) -> None:
        try:
            if cls.dovecot_b is not None:
                cls.dovecot_b.stop(use_doveadm=False)
                cls.dovecot_b = None
        finally:
            super().stop_backend()

    def test_new_logins_move_and_an_idle_session_stays(self):
        old = self.login_client()
        self.assert_backend_logged(self.dovecot, old, True)
        lines = old.command("s", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        self.assertIn(b"marker: backend A", subjects(old, "f1"))
        old.send(b"i IDLE\r\n")
        self.assertTrue(old.readline().startswith(b"+"), "IDLE not accepted")

        line = self.reload(self.config_text(backend_port=self.dovecot_b.port))
        self.addCleanup(self.restore)
        self.assertIn("event=reload_ok", line)
        self.assertIn("generation=2 ", line)
        self.assertIn(f"@127.0.0.1:{self.dovecot_b.port}", line)
        self.assertIn("needs_restart=0", line)

        # A new login reaches B: B logged it, A did not, and it sees B's marker only.
        new = self.login_client()
        self.assert_backend_logged(self.dovecot_b, new, True)
        self.assert_backend_logged(self.dovecot, new, False)
        lines = new.command("s", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        found = subjects(new, "f1")
        self.assertIn(b"marker: backend B", found)
        self.assertNotIn(b"marker: backend A", found)
        new.command("o", "LOGOUT")

        # The IDLE session is still on A: a message delivered to A now shows up in it.
        self.dovecot.deliver(ALICE, ds.make_message("after the reload", "delivered to A", to=ALICE))
        exists = None
        deadline = time.monotonic() + 15
        while exists is None and time.monotonic() < deadline:
            m = re.match(rb"\* (\d+) EXISTS", old.readline(timeout=15))
            if m:
                exists = int(m.group(1))
        self.assertIsNotNone(exists, "no '* N EXISTS' in the IDLE session after the reload")
        old.send(b"DONE\r\n")
        lines = old.read_response("i")
        self.assertEqual(tagged_status(lines, "i"), b"OK", lines)
        self.assertEqual(subjects(old, "f2", str(exists)), [b"after the reload"])
        self.assertEqual(tagged_status(old.command("n", "NOOP"), "n"), b"OK")
        lines = old.command("o", "LOGOUT")
        self.assertEqual(tagged_status(lines, "o"), b"OK", lines)


class ListenerReloadTest(ReloadCase):
    """A moved listener needs a restart: the warning names it, the old address keeps serving."""

    def test_moved_listener_keeps_its_old_address(self):
        new_port = ds.free_port()
        line = self.reload(self.config_text(implicit_port=new_port))
        self.addCleanup(self.restore)
        self.assertIn("event=reload_ok", line)
        self.assertIn("needs_restart=1", line)
        warnings = [w for w in self.wait_for_log(r"event=reload_needs_restart\b") if "listener=imaps" in w]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("setting=address", warnings[0])
        self.assertIn(f"127.0.0.1:{new_port}", warnings[0])
        self.assertIn(f"keeps listening on 127.0.0.1:{self.implicit_port}", warnings[0])
        # The old address serves logins; nothing listens on the new one.
        c = self.login_client(self.implicit_port)
        self.assertEqual(tagged_status(c.command("n", "NOOP"), "n"), b"OK")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", new_port), timeout=5).close()

    def test_removed_listener_keeps_serving(self):
        before = len(self.wait_for_log(r"event=reload_needs_restart\b", timeout=0))
        line = self.reload(self.config_text(starttls=False))
        self.addCleanup(self.restore)
        self.assertIn("event=reload_ok", line)
        self.assertIn("needs_restart=1", line)
        warnings = self.wait_for_log(r"event=reload_needs_restart\b", count=before + 1)[before:]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("listener=imap setting=listener_removed", warnings[0])
        # Still listening, with its settings: STARTTLS, then a login.
        c = self.starttls()
        self.login(c, ALICE, ALICE_PW)
        self.assertEqual(tagged_status(c.command("n", "NOOP"), "n"), b"OK")

    def test_the_same_file_needs_no_restart(self):
        before = len(self.wait_for_log(r"event=reload_needs_restart\b", timeout=0))
        line = self.reload(self.original)
        self.assertIn("event=reload_ok", line)
        self.assertIn("needs_restart=0", line)
        self.assertEqual(len(self.wait_for_log(r"event=reload_needs_restart\b", timeout=0)), before)


class SessionCapReloadTest(ReloadCase):
    """limits.max_sessions_per_worker is applied by a reload: accept pauses at the new cap and
    resumes when a later reload raises it (one worker, so the cap is the process's)."""

    WORKERS = 1

    def test_the_session_cap_follows_the_reload(self):
        line = self.reload(self.config_text(limits={"max_sessions_per_worker": 1}))
        self.addCleanup(self.restore)
        self.assertIn("event=reload_ok", line)
        self.assertIn("session_cap_per_worker=1 ", line)
        first = RawClient.connect(self.starttls_port)
        self.addCleanup(first.close)
        self.assertTrue(first.greeting().startswith(b"* OK"))
        # At the cap the worker stops accepting: the kernel completes the handshake, nobody greets.
        second = RawClient.connect(self.starttls_port)
        self.addCleanup(second.close)
        with self.assertRaises(TimeoutError):
            second.greeting(timeout=2)
        line = self.reload(self.config_text(limits={"max_sessions_per_worker": 100}))
        self.assertIn("event=reload_ok", line)
        self.assertIn("session_cap_per_worker=100 ", line)
        self.assertTrue(second.greeting(timeout=10).startswith(b"* OK"), "accept did not resume")
