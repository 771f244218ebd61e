"""Process lifecycle: SIGTERM drains (sessions closed, exit 0) and the listeners close."""

import signal
import time
import unittest

from harness import ALICE, ALICE_PW, Closed, GateTestCase, ds, tagged_status


class SigtermTest(GateTestCase):
    TIMEOUTS = {"shutdown_grace": "3s"}

    def test_sigterm_drains_and_exits_0(self):
        pre = self.implicit()
        pre.greeting()
        logged = self.implicit()
        logged.greeting()
        self.login(logged)
        lines = logged.command("b", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "b"), b"OK")
        pid = self.gate.pid
        t0 = time.monotonic()
        self.gate.proc.send_signal(signal.SIGTERM)
        rc = self.gate.proc.wait(timeout=20)
        elapsed = time.monotonic() - t0
        self.gate.stop()
        self.assertEqual(rc, 0, f"exit code {rc} after SIGTERM")
        self.assertLess(elapsed, 3 + 5, f"took {elapsed:.1f}s with shutdown_grace 3s")
        for c in (pre, logged):
            data, closed = c.read_until_close(5)
            self.assertTrue(closed, "session still open after imapgate exited")
        self.assertFalse(ds.port_accepts(self.implicit_port), "listener still accepting")
        self.assertFalse(ds.port_accepts(self.starttls_port), "listener still accepting")


if __name__ == "__main__":
    unittest.main()
