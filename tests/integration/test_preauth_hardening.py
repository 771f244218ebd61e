"""Issue I, the client side before login, against a real Dovecot:
- an RFC 2971 maximal ID (30 pairs, 30-octet keys, 1024-octet values) before login is answered,
  and the login that follows works (imaplib, and a raw client after STARTTLS); an ID past its
  bound is still refused with BAD and BYE;
- a client that sends many commands and never reads gets a bounded amount of replies: imapgate
  stops reading it while its replies wait, and the pre-login timeout still ends the session;
- cleartext LOGIN/AUTHENTICATE refused before STARTTLS are counted in
  imapgate_cleartext_logins_refused_total{listener}."""

import imaplib
import re
import socket
import time
import unittest

from harness import ALICE, ALICE_PW, GateTestCase, RawClient, run_cmd, tagged_status


def id_params(pairs: int = 30, value_bytes: int = 1024) -> str:
    """The parenthesized ID list with `pairs` pairs of 30-octet keys and quoted values."""
    out = []
    for i in range(pairs):
        key = f"k{i}".ljust(30, "k")
        out.append(f'"{key}" "{"v" * value_bytes}"')
    return "(" + " ".join(out) + ")"


class MaximalIdTest(GateTestCase):
    def test_maximal_id_then_login_with_imaplib(self):
        params = id_params()
        self.assertGreater(len(params), 31000)  # past the 8 KiB command line bound
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=self.client_ctx(), timeout=20)
        try:
            typ, data = m.xatom("ID", params)
            self.assertEqual(typ, "OK", data)
            typ, _ = m.login(ALICE, ALICE_PW)
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK", data)
            self.assertEqual(int(data[0]), self.MESSAGES_PER_USER)
        finally:
            m.logout()

    def test_maximal_id_after_starttls_then_login(self):
        c = self.starttls()
        c.send(b"i1 ID " + id_params().encode() + b"\r\n")
        lines = c.read_response("i1")
        self.assertEqual(tagged_status(lines, "i1"), b"OK", lines)
        self.login(c)
        lines = c.command("n1", "NOOP")
        self.assertEqual(tagged_status(lines, "n1"), b"OK", lines)

    def test_id_past_its_bound_is_refused_and_closed(self):
        c = self.implicit()
        c.greeting()
        c.send(b"i1 ID " + id_params(pairs=31).encode() + b"\r\n")  # ~32.9 KB, past 32 KiB
        data = self.assert_bye_and_close(c, what="31-pair ID")
        self.assertIn(b"BAD Command line too long", data)

    def test_other_commands_keep_the_8_KiB_bound(self):
        c = self.implicit()
        c.greeting()
        c.send(b"a NOOP " + b"x" * 9000 + b"\r\n")
        data = self.assert_bye_and_close(c, what="9007-octet NOOP")
        self.assertIn(b"BAD Command line too long", data)


class ShortPreauthTimeoutTest(GateTestCase):
    """The pre-login timeout at 2 s: it bounds the connection (STARTTLS does not restart it),
    and it still ends a client that does not read its replies."""
    TIMEOUTS = {"preauth": "2s"}
    IMPLICIT = False

    def test_starttls_does_not_restart_the_preauth_timeout(self):
        start = time.monotonic()
        c = self.plain()
        c.greeting()
        time.sleep(1.5)
        lines = c.command("s1", "STARTTLS")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        c.upgrade(self.client_ctx())
        data = self.assert_bye_and_close(c, timeout=10, what="after STARTTLS at 1.5 s")
        elapsed = time.monotonic() - start
        self.assertIn(b"Pre-authentication timeout", data)
        # 2 s from the connection, not 2 s from the STARTTLS (3.5 s).
        self.assertLess(elapsed, 3.2, f"BYE after {elapsed:.2f} s")

    def test_replies_to_a_client_that_does_not_read_are_bounded(self):
        """~60 KiB of CAPABILITY (3,500 commands, ~300 KB of replies), nothing read until after
        the timeout: imapgate answers only while replies are taken, so what the client finally
        reads is bounded, then BYE at the timeout."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        # A small receive window: the client's kernel holds little, as a slow remote client's
        # window would; without imapgate's bound the rest would pile up in imapgate.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.starttls_port))
        commands = b"".join(b"c%04d CAPABILITY\r\n" % i for i in range(3500))
        self.assertLess(len(commands), 64 * 1024)  # under the pre-auth byte budget
        s.sendall(commands)
        time.sleep(3.5)  # past the 2 s pre-login timeout, reading nothing
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            received += chunk
        answered = len(re.findall(rb"c\d{4} OK Capability completed\r\n", received))
        self.assertIn(b"* BYE Pre-authentication timeout\r\n", received, received[-300:])
        # Without the bound every command is answered (~300 KB); with it, a few dozen KiB.
        self.assertLess(len(received), 128 * 1024, f"{answered} commands answered")
        self.assertLess(answered, 3500)
        self.assertGreater(answered, 0)


class CleartextLoginMetricTest(GateTestCase):
    IMPLICIT = False

    def metrics(self) -> str:
        r = run_cmd(["curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "10",
                     f"http://127.0.0.1:{self.admin_port}/metrics"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode()

    def refused(self) -> float:
        m = re.search(r'(?m)^imapgate_cleartext_logins_refused_total\{listener="imap"\} (\S+)$', self.metrics())
        self.assertIsNotNone(m, "no imapgate_cleartext_logins_refused_total{listener=\"imap\"}")
        return float(m.group(1))

    def test_cleartext_logins_refused_are_counted(self):
        before = self.refused()
        c = self.plain()
        c.greeting()
        lines = c.command("l1", f'LOGIN "{ALICE}" "{ALICE_PW}"')
        self.assertIn(b"l1 NO [PRIVACYREQUIRED]", lines[-1])
        lines = c.command("a1", "AUTHENTICATE PLAIN")
        self.assertIn(b"a1 NO [PRIVACYREQUIRED]", lines[-1])
        self.assertEqual(self.refused(), before + 2)
        # After STARTTLS a login is not counted.
        lines = c.command("s1", "STARTTLS")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        c.upgrade(self.client_ctx())
        self.login(c)
        self.assertEqual(self.refused(), before + 2)


if __name__ == "__main__":
    unittest.main()
