"""PROXY protocol v2 out (issue D, point 5): a backend with `proxy_protocol: true` gets a v2
header with the client's address before anything else.

The backend is a real Dovecot whose imapgate-facing listener has `haproxy = yes`: Dovecot then
refuses a connection that does not start with a valid PROXY header (no greeting), so a login
that works through it proves the header was sent and was valid; Dovecot's login line shows the
address the header carried. Health checks to that listener send a LOCAL header (the backend
shows up in the admin API). Without `proxy_protocol`, imapgate's login through the same listener
fails (the control case).
"""

import imaplib
import time
import unittest

from harness import ALICE, ALICE_PW, USERS, GateTestCase, ds


class ProxyOutTest(GateTestCase):
    SEND_PROXY = True

    @classmethod
    def start_backend(cls) -> int:
        cls.haproxy_port = ds.free_port()
        extra = ("haproxy_trusted_networks = 127.0.0.1/32\n"
                 "service imap-login {\n"
                 "  inet_listener imap_haproxy {\n"
                 "    address = 127.0.0.1\n"
                 f"    port = {cls.haproxy_port}\n"
                 "    haproxy = yes\n"
                 "  }\n"
                 "}\n")
        cls.dovecot = ds.Dovecot(cls.tmp / "dovecot", users=USERS, extra_config=extra).start()
        cls.messages = {}
        return cls.haproxy_port

    @classmethod
    def imapgate_config(cls) -> str:
        extra = {"proxy_protocol": "true"} if cls.SEND_PROXY else None
        return ds.imapgate_yaml(str(cls.tls["cert"]), str(cls.tls["key"]), cls.backend_port,
                                implicit_port=cls.implicit_port, starttls_port=cls.starttls_port,
                                admin_port=cls.admin_port, backend_extra=extra,
                                limits=cls.LIMITS, timeouts=cls.TIMEOUTS, workers=cls.WORKERS)

    def login_lines(self):
        text = self.dovecot.log_path.read_text(errors="replace")
        return [l for l in text.splitlines() if "imap-login: Info: Login:" in l and ALICE in l]

    def test_login_through_a_haproxy_listener_carries_the_client_address(self):
        before = len(self.login_lines())
        m = imaplib.IMAP4_SSL("127.0.0.1", self.implicit_port, ssl_context=self.client_ctx())
        client_port = m.sock.getsockname()[1]
        self.assertEqual(m.login(ALICE, ALICE_PW)[0], "OK")
        self.assertEqual(m.select("INBOX")[0], "OK")
        m.logout()
        deadline = time.monotonic() + 5
        while len(self.login_lines()) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = self.login_lines()[before:]
        self.assertTrue(lines, "Dovecot logged no login")
        self.assertIn("rip=127.0.0.1", lines[-1])
        self.assertIn(f"rport={client_port}", lines[-1])  # the client's own port, from the header

    def checked_backend(self, timeout: float = 20) -> dict:
        """The backend's row in the admin API once a health check has finished."""
        deadline = time.monotonic() + timeout
        while True:
            status, _, body = self.admin_request("GET", "/api/v1/backends")
            b = body["backends"][0] if body else {}
            if status == 200 and b.get("last_check"):
                return b
            self.assertLess(time.monotonic(), deadline, f"no health check result: {body}")
            time.sleep(0.2)

    def test_health_checks_reach_the_haproxy_listener(self):
        b = self.checked_backend()
        self.assertTrue(b["last_check"]["ok"], b)
        self.assertEqual(b["state"], "up")


class NoProxyOutControlTest(ProxyOutTest):
    """The same listener without `proxy_protocol`: Dovecot waits for a header that never comes,
    so the login fails (proving the test above depends on the header)."""
    SEND_PROXY = False
    TIMEOUTS = {"backend_login": "2s"}

    def test_login_through_a_haproxy_listener_carries_the_client_address(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.implicit_port, ssl_context=self.client_ctx())
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login(ALICE, ALICE_PW)
        self.assertIn("UNAVAILABLE", str(e.exception))
        m.logout()

    def test_health_checks_reach_the_haproxy_listener(self):
        # Without a header the check times out (Dovecot waits for one): not ok.
        b = self.checked_backend()
        self.assertFalse(b["last_check"]["ok"], b)


if __name__ == "__main__":
    unittest.main()
