"""Backend faults: refused, silent (timeout), non-IMAP greeting, PREAUTH greeting -> NO [UNAVAILABLE];
a backend that dies mid-session -> '* BYE' and close; the next session on the same imapgate works.

The misbehaving backends are the fixture tests/fixtures/fake_backend.py (a real Dovecot won't
misbehave like that); the mid-session death kills the real Dovecot imap process of the session.
"""

import base64
import os
import signal
import time
import unittest

from harness import ALICE, ALICE_PW, BOB, BOB_PW, GateTestCase, ds, tagged_status  # sets sys.path
from fake_backend import FakeBackend  # tests/fixtures


class UnavailableMixin:
    """Login through an unusable backend gives NO [UNAVAILABLE], within the configured timeouts."""
    MAX_SECONDS = 10

    def assert_unavailable(self, cmd: str):
        c = self.implicit()
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        t0 = time.monotonic()
        lines = c.command("a", cmd, timeout=30)
        elapsed = time.monotonic() - t0
        self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
        self.assertIn(b"[UNAVAILABLE]", lines[-1])
        self.assertLess(elapsed, self.MAX_SECONDS, f"NO [UNAVAILABLE] took {elapsed:.1f}s")
        self.assertNotIn(b"PREAUTH", c.transcript)
        return c

    def test_login_unavailable(self):
        self.assert_unavailable(f"LOGIN {ALICE} {ALICE_PW}")

    def test_authenticate_unavailable(self):
        ir = base64.b64encode(f"\0{ALICE}\0{ALICE_PW}".encode()).decode()
        self.assert_unavailable(f"AUTHENTICATE PLAIN {ir}")

    def test_next_session_still_served(self):
        self.assert_unavailable(f"LOGIN {ALICE} {ALICE_PW}")
        c = self.implicit()
        self.assertTrue(c.greeting().startswith(b"* OK"))
        lines = c.command("b", "CAPABILITY")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)
        self.assertTrue(self.gate.running())


class FixtureBackendCase(GateTestCase):
    NEEDS_DOVECOT = False
    STARTTLS = False
    MODE = "silent"
    GREETING = None
    fixture = None

    @classmethod
    def start_backend(cls):
        cls.fixture = FakeBackend(cls.MODE, greeting=cls.GREETING).start()
        return cls.fixture.port

    @classmethod
    def stop_backend(cls):
        if cls.fixture:
            cls.fixture.stop()
            cls.fixture = None


class BackendRefusedTest(UnavailableMixin, GateTestCase):
    NEEDS_DOVECOT = False
    STARTTLS = False
    TIMEOUTS = {"backend_connect": "2s", "backend_login": "3s"}

    @classmethod
    def start_backend(cls):
        return ds.free_port()     # nothing listens there: connection refused

    @classmethod
    def stop_backend(cls):
        pass


class BackendSilentTest(UnavailableMixin, FixtureBackendCase):
    """Fixture: the backend accepts and never sends its greeting."""
    MODE = "silent"
    TIMEOUTS = {"backend_connect": "2s", "backend_login": "2s"}
    MAX_SECONDS = 8


class BackendNonImapGreetingTest(UnavailableMixin, FixtureBackendCase):
    """Fixture: the backend greets with an SSH banner."""
    MODE = "greeting"
    TIMEOUTS = {"backend_connect": "2s", "backend_login": "3s"}


class BackendHttpGreetingTest(UnavailableMixin, FixtureBackendCase):
    """Fixture: the backend greets with an HTTP response."""
    MODE = "greeting"
    GREETING = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    TIMEOUTS = {"backend_connect": "2s", "backend_login": "3s"}


class BackendPreauthGreetingTest(UnavailableMixin, FixtureBackendCase):
    """Fixture: the backend greets with '* PREAUTH' (fatal for a proxy: it never logged in)."""
    MODE = "preauth"
    TIMEOUTS = {"backend_connect": "2s", "backend_login": "3s"}

    def test_no_credentials_sent_to_preauth_backend(self):
        self.assert_unavailable(f"LOGIN {ALICE} {ALICE_PW}")
        time.sleep(0.3)
        sent = b"".join(self.fixture.received)
        self.assertNotIn(ALICE_PW.encode(), sent)


class BackendDiesAfterLoginFixtureTest(FixtureBackendCase):
    """Fixture: the backend accepts the login, then resets the connection on the next command."""
    MODE = "die_after_login"

    def test_client_gets_bye_and_close(self):
        c = self.implicit()
        c.greeting()
        lines = c.command("a", f"LOGIN {ALICE} {ALICE_PW}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        c.send(b"b NOOP\r\n")
        data = self.assert_bye_and_close(c, what="backend reset mid-session")
        self.assertNotRegex(data, rb"(?m)^b OK")
        c2 = self.implicit()
        self.assertTrue(c2.greeting().startswith(b"* OK"))
        lines = c2.command("a", f"LOGIN {BOB} {BOB_PW}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)


class DovecotDiesMidSessionTest(GateTestCase):
    """The real Dovecot imap process serving the session is killed."""
    STARTTLS = False

    def test_killed_backend_process_gives_bye_and_close(self):
        c = self.implicit()
        c.greeting()
        self.login(c, ALICE, ALICE_PW)
        lines = c.command("b", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)
        pids = self.dovecot.session_pids(ALICE)
        self.assertEqual(len(pids), 1, f"expected one imap process for alice, found {pids}")
        os.kill(pids[0], signal.SIGKILL)
        data = self.assert_bye_and_close(c, what="backend imap process killed")
        # A second session on the same imapgate keeps working.
        c2 = self.implicit()
        c2.greeting()
        self.login(c2, ALICE, ALICE_PW)
        lines = c2.command("b", "EXAMINE INBOX")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)

    def test_killed_while_idle(self):
        c = self.implicit()
        c.greeting()
        self.login(c, BOB, BOB_PW)
        c.command("s", "SELECT INBOX")
        c.send(b"i IDLE\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        pids = self.dovecot.session_pids(BOB)
        self.assertEqual(len(pids), 1, pids)
        os.kill(pids[0], signal.SIGKILL)
        self.assert_bye_and_close(c, what="backend killed during IDLE")

    def test_whole_dovecot_restart_recovers(self):
        # Dovecot stopped: login fails with UNAVAILABLE; started again: logins work.
        self.dovecot.stop(use_doveadm=False)
        try:
            c = self.implicit()
            c.greeting()
            lines = c.command("a", f"LOGIN {ALICE} {ALICE_PW}", timeout=30)
            self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
            self.assertIn(b"[UNAVAILABLE]", lines[-1])
        finally:
            self.dovecot.start()
        c = self.implicit()
        c.greeting()
        self.login(c)


if __name__ == "__main__":
    unittest.main()
