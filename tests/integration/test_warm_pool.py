"""Warm backend connections (issue D, point 9): `warm_connections:` keeps, per worker and per
backend that is up, a few connections to the backend connected and greeted, so a login skips the
connect and the greeting.

Against a real Dovecot: the pool's connections are seen from the kernel's side (established TCP
connections to the backend's port that no session uses); logins work on them; the pool refills
after logins take them; a connection older than max_age is replaced; and after the backend is
restarted (every warm connection dead), the next login still works (the stale warm connection
is retried with a fresh connect, not counted against the backend).
"""

import imaplib
import os
import signal
import time
import unittest

from harness import ALICE, ALICE_PW, GateTestCase, ds

PER_BACKEND = 2


def established_to(port: int) -> set:
    """Local ports of the established TCP connections to 127.0.0.1:port (client side)."""
    out = set()
    for path in ("/proc/net/tcp",):
        with open(path) as f:
            next(f)
            for line in f:
                parts = line.split()
                local, remote, state = parts[1], parts[2], parts[3]
                rip, rport = remote.split(":")
                if state == "01" and int(rport, 16) == port and rip == "0100007F":
                    out.add(int(local.split(":")[1], 16))
    return out


class WarmPoolTest(GateTestCase):
    MAX_AGE = "3s"

    @classmethod
    def imapgate_config(cls) -> str:
        return (super().imapgate_config()
                + f"warm_connections: {{ per_backend: {PER_BACKEND}, max_age: {cls.MAX_AGE} }}\n")

    def wait_warm(self, at_least: int, timeout: float = 10) -> set:
        deadline = time.monotonic() + timeout
        while True:
            got = established_to(self.backend_port)
            if len(got) >= at_least:
                return got
            self.assertLess(time.monotonic(), deadline, f"only {len(got)} warm connections")
            time.sleep(0.05)

    def login_fetch(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.implicit_port, ssl_context=self.client_ctx())
        self.assertEqual(m.login(ALICE, ALICE_PW)[0], "OK")
        self.assertEqual(m.select("INBOX")[0], "OK")
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        self.assertIn(b"Message 1", data[0][1])
        m.logout()

    def test_1_the_pool_fills_and_logins_take_from_it(self):
        warm = self.wait_warm(PER_BACKEND * self.WORKERS)
        self.assertGreaterEqual(len(warm), PER_BACKEND * self.WORKERS)
        for _ in range(3):
            self.login_fetch()
        # Taken connections are replaced: the pool is full again.
        self.wait_warm(PER_BACKEND * self.WORKERS)

    def test_2_old_connections_are_replaced(self):
        first = self.wait_warm(PER_BACKEND * self.WORKERS)
        deadline = time.monotonic() + 15
        while established_to(self.backend_port) & first:
            self.assertLess(time.monotonic(), deadline, "warm connections were not replaced after max_age")
            time.sleep(0.2)
        self.wait_warm(PER_BACKEND * self.WORKERS)
        self.login_fetch()

    def test_3_a_restarted_backend_does_not_fail_the_next_login(self):
        self.wait_warm(PER_BACKEND * self.WORKERS)
        # Restart Dovecot: every warm connection dies with it.
        self.dovecot.stop(use_doveadm=False)
        self.dovecot.start()
        log_before = len(self.gate_log())
        self.login_fetch()
        self.login_fetch()
        # A stale warm connection is retried fresh, not a failover and not a backend failure.
        self.assertNotIn("event=backend_failover", self.gate_log()[log_before:])


if __name__ == "__main__":
    unittest.main()
