"""STARTTLS and capability rules (raw sockets): command injection, stripping, capability reset,
PRIVACYREQUIRED before TLS, no PREAUTH, no STARTTLS after TLS."""

import base64
import socket
import ssl
import time
import unittest

from harness import ALICE, ALICE_PW, Closed, GateTestCase, caps_of, tagged_status

PRE_TLS_CAPS = {"IMAP4rev1", "ID", "LITERAL+", "STARTTLS", "LOGINDISABLED"}
TLS_CAPS = {"IMAP4rev1", "ID", "LITERAL+", "SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN"}


class StarttlsSecurityTest(GateTestCase):
    # -- greetings and capabilities ----------------------------------------------------------
    def test_plain_greeting_caps(self):
        c = self.plain()
        g = c.greeting()
        self.assertRegex(g, rb"^\* OK \[CAPABILITY [^\]]+\] imapgate ready\r\n$")
        caps = set(caps_of(g))
        self.assertEqual(caps, PRE_TLS_CAPS, g)
        lines = c.command("a", "CAPABILITY")
        self.assertEqual(tagged_status(lines, "a"), b"OK")
        self.assertEqual(set(caps_of(lines[0])), PRE_TLS_CAPS, lines)

    def test_implicit_greeting_caps(self):
        c = self.implicit()
        g = c.greeting()
        self.assertRegex(g, rb"^\* OK \[CAPABILITY [^\]]+\] imapgate ready\r\n$")
        self.assertEqual(set(caps_of(g)), TLS_CAPS, g)
        lines = c.command("a", "CAPABILITY")
        self.assertEqual(set(caps_of(lines[0])), TLS_CAPS, lines)

    def test_caps_reset_after_starttls(self):
        c = self.plain()
        c.greeting()
        lines = c.command("a", "CAPABILITY")
        self.assertIn("STARTTLS", caps_of(lines[0]))
        lines = c.command("b", "STARTTLS")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)
        c.upgrade(self.client_ctx())
        lines = c.command("c", "CAPABILITY")
        self.assertEqual(tagged_status(lines, "c"), b"OK", lines)
        caps = set(caps_of(lines[0]))
        self.assertEqual(caps, TLS_CAPS, lines)
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)

    def test_no_greeting_after_starttls(self):
        c = self.starttls()
        # The server must wait for the client after the handshake (no second greeting, no PREAUTH).
        c.sock.settimeout(0.5)
        try:
            data = c.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            data = b""
        self.assertEqual(data, b"", f"server spoke first after STARTTLS: {data!r}")
        self.login(c)

    def test_never_preauth(self):
        for c in (self.plain(), self.implicit()):
            g = c.greeting()
            self.assertNotIn(b"PREAUTH", g)
            self.assertTrue(g.startswith(b"* OK "), g)

    # -- before TLS ------------------------------------------------------------------------------
    def test_login_before_tls_privacyrequired(self):
        c = self.plain()
        c.greeting()
        lines = c.command("a", f"LOGIN {ALICE} {ALICE_PW}")
        self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
        self.assertIn(b"[PRIVACYREQUIRED]", lines[-1])

    def test_authenticate_before_tls_privacyrequired(self):
        ir = base64.b64encode(f"\0{ALICE}\0{ALICE_PW}".encode()).decode()
        c = self.plain()
        c.greeting()
        lines = c.command("a", f"AUTHENTICATE PLAIN {ir}")
        self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
        self.assertIn(b"[PRIVACYREQUIRED]", lines[-1])
        lines = c.command("b", "AUTHENTICATE PLAIN")
        self.assertEqual(tagged_status(lines, "b"), b"NO", lines)
        self.assertIn(b"[PRIVACYREQUIRED]", lines[-1])

    def test_login_works_after_starttls(self):
        c = self.starttls()
        lines = self.login(c)
        self.assertIn(b"Logged in", lines[-1])
        lines = c.command("b", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)

    # -- injection ----------------------------------------------------------------------------
    def test_starttls_command_injection_same_segment(self):
        c = self.plain()
        c.greeting()
        c.send(b"a STARTTLS\r\nb NOOP\r\n")
        data, closed = c.read_until_close(10)
        self.assertTrue(closed, f"connection not closed after injected STARTTLS: {data!r}")
        self.assertRegex(data, rb"(^|\r\n)\* BYE", data)
        self.assertNotRegex(data, rb"(^|\r\n)b ", "the injected command was answered")

    def test_starttls_injection_of_login(self):
        c = self.plain()
        c.greeting()
        c.send(f"a STARTTLS\r\nb LOGIN {ALICE} {ALICE_PW}\r\n".encode())
        data, closed = c.read_until_close(10)
        self.assertTrue(closed, data)
        self.assertRegex(data, rb"(^|\r\n)\* BYE", data)
        self.assertNotRegex(data, rb"(^|\r\n)b ", data)

    # -- ALPN (ALPACA), with the ssl module --------------------------------------------------------
    def test_alpn_foreign_protocol_refused(self):
        for alpn in (["http/1.1"], ["h2", "http/1.1"], ["smtp"]):
            with self.subTest(alpn=alpn):
                with self.assertRaises(ssl.SSLError) as cm:
                    c = self.implicit(ctx=self.client_ctx(alpn))
                    c.greeting()
                self.assertRegex(str(cm.exception).upper(), r"NO.APPLICATION.PROTOCOL")
                # The same on the STARTTLS listener, after a STARTTLS OK.
                c = self.plain()
                c.greeting()
                lines = c.command("a", "STARTTLS")
                self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
                with self.assertRaises(ssl.SSLError) as cm:
                    c.upgrade(self.client_ctx(alpn))
                    c.command("b", "NOOP")
                self.assertRegex(str(cm.exception).upper(), r"NO.APPLICATION.PROTOCOL")

    def test_alpn_imap_selected(self):
        c = self.implicit(ctx=self.client_ctx(["imap"]))
        self.assertEqual(c.sock.selected_alpn_protocol(), "imap")
        self.assertTrue(c.greeting().startswith(b"* OK"))
        c = self.implicit(ctx=self.client_ctx(["http/1.1", "imap"]))
        self.assertEqual(c.sock.selected_alpn_protocol(), "imap")

    def test_no_alpn_accepted(self):
        c = self.implicit()
        self.assertIsNone(c.sock.selected_alpn_protocol())
        self.assertTrue(c.greeting().startswith(b"* OK"))

    # -- after TLS --------------------------------------------------------------------------------
    def test_starttls_refused_inside_tls(self):
        c = self.implicit()
        c.greeting()
        lines = c.command("x", "STARTTLS")
        self.assertIn(tagged_status(lines, "x"), (b"BAD", b"NO"), lines)
        c = self.starttls()
        lines = c.command("x", "STARTTLS")
        self.assertIn(tagged_status(lines, "x"), (b"BAD", b"NO"), lines)


if __name__ == "__main__":
    unittest.main()
