"""Python imaplib (a real client) through imapgate: IMAP4_SSL and IMAP4 + starttls()."""

import base64
import imaplib
import re
import time
import unittest

from harness import ALICE, ALICE_PW, BOB, BOB_PW, GateTestCase, ds, tagged_status


def _close_quietly(m: imaplib.IMAP4) -> None:
    try:
        m.shutdown()
    except OSError:
        pass


class ImaplibMixin:
    def connect(self) -> imaplib.IMAP4:
        raise NotImplementedError

    def test_login_select_fetch_logout(self):
        m = self.connect()
        typ, data = m.login(ALICE, ALICE_PW)
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertGreaterEqual(int(data[0]), 3)
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0][1], self.messages[ALICE][0])
        typ, data = m.uid("FETCH", "2", "(RFC822)")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0][1], self.messages[ALICE][1])
        typ, data = m.logout()
        self.assertEqual(typ, "BYE", data)

    def test_login_ok_carries_filtered_backend_capabilities(self):
        m = self.connect()
        self.assertNotIn("STARTTLS", m.capabilities)
        typ, data = m.login(BOB, BOB_PW)
        self.assertEqual(typ, "OK")
        text = data[0]
        mm = re.match(rb"\[CAPABILITY ([^\]]*)\]", text)
        self.assertIsNotNone(mm, f"no [CAPABILITY ...] in the LOGIN OK: {text!r}")
        caps = mm.group(1).decode().split()
        # Dovecot's capabilities (IDLE, COMPRESS=DEFLATE) show through; the pre-auth ones do not.
        self.assertIn("IMAP4rev1", caps)
        self.assertIn("IDLE", caps)
        self.assertIn("COMPRESS=DEFLATE", caps)
        for bad in ("STARTTLS", "LOGINDISABLED"):
            self.assertNotIn(bad, caps)
        self.assertFalse([c for c in caps if c.startswith("AUTH=")], caps)
        m.logout()

    def test_authenticate_plain(self):
        m = self.connect()
        typ, data = m.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{ALICE_PW}".encode())
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        typ, data = m.fetch("3", "(BODY.PEEK[])")
        self.assertEqual(data[0][1], self.messages[ALICE][2])
        m.logout()

    def test_wrong_password_authenticationfailed(self):
        m = self.connect()
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login(ALICE, "not-the-password")
        self.assertIn("AUTHENTICATIONFAILED", str(cm.exception))
        m.logout()

    def test_idle_sees_new_message(self):
        user = BOB
        m = self.connect()
        m.login(user, BOB_PW)
        typ, data = m.select("INBOX")
        before = int(data[0])
        tag = m._new_tag()
        m.send(tag + b" IDLE\r\n")
        line = m.readline()
        self.assertTrue(line.startswith(b"+"), line)
        self.assertIn(b"idling", line.lower())
        msg = ds.make_message("IDLE test", "delivered while idling", to=user)
        self.dovecot.deliver(user, msg)
        self.messages[user].append(msg)
        deadline = time.monotonic() + 15
        seen = None
        m.sock.settimeout(15)
        while time.monotonic() < deadline:
            line = m.readline()
            mm = re.match(rb"\* (\d+) EXISTS", line)
            if mm:
                seen = int(mm.group(1))
                break
        self.assertIsNotNone(seen, "no '* N EXISTS' while idling")
        self.assertGreater(seen, before)
        m.send(b"DONE\r\n")
        while True:
            line = m.readline()
            if line.startswith(tag + b" "):
                break
        self.assertTrue(line.startswith(tag + b" OK"), line)
        typ, data = m.fetch(str(seen), "(BODY.PEEK[])")
        self.assertEqual(data[0][1], msg)
        m.logout()

    def test_id_before_login(self):
        m = self.connect()
        typ, data = m.xatom("ID", '("name" "imaplib-test" "version" "1")')
        self.assertEqual(typ, "OK", data)
        m.logout()


class ImplicitTlsImaplibTest(ImaplibMixin, GateTestCase):
    def connect(self):
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=self.client_ctx(), timeout=20)
        self.addCleanup(_close_quietly, m)
        self.assertIn("AUTH=PLAIN", m.capabilities)
        return m


class StarttlsImaplibTest(ImaplibMixin, GateTestCase):
    def connect(self):
        m = imaplib.IMAP4("localhost", self.starttls_port, timeout=20)
        self.addCleanup(_close_quietly, m)
        self.assertIn("STARTTLS", m.capabilities)
        self.assertIn("LOGINDISABLED", m.capabilities)
        typ, data = m.starttls(self.client_ctx())
        self.assertEqual(typ, "OK", data)
        # imaplib re-reads CAPABILITY after STARTTLS.
        self.assertIn("AUTH=PLAIN", m.capabilities)
        self.assertNotIn("STARTTLS", m.capabilities)
        return m


class SaslRawTest(GateTestCase):
    """AUTHENTICATE over a raw TLS socket: SASL-IR, continuation, '*' cancel."""
    STARTTLS = False

    def plain_b64(self, user=ALICE, pw=ALICE_PW):
        return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()

    def test_sasl_ir_initial_response(self):
        c = self.implicit()
        g = c.greeting()
        self.assertIn(b"SASL-IR", g)
        lines = c.command("a", f"AUTHENTICATE PLAIN {self.plain_b64()}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        self.assertIn(b"[CAPABILITY ", lines[-1])
        lines = c.command("b", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)

    def test_continuation_then_response(self):
        c = self.implicit()
        c.greeting()
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        line = c.readline()
        self.assertTrue(line.startswith(b"+"), line)
        c.send(self.plain_b64().encode() + b"\r\n")
        lines = c.read_response("a", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)

    def test_star_cancels_with_bad(self):
        c = self.implicit()
        c.greeting()
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        line = c.readline()
        self.assertTrue(line.startswith(b"+"), line)
        c.send(b"*\r\n")
        lines = c.read_response("a")
        self.assertEqual(tagged_status(lines, "a"), b"BAD", lines)
        lines = c.command("b", "NOOP")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)

    def test_sasl_ir_wrong_password(self):
        c = self.implicit()
        c.greeting()
        lines = c.command("a", f"AUTHENTICATE PLAIN {self.plain_b64(pw='nope')}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
        self.assertIn(b"[AUTHENTICATIONFAILED]", lines[-1])

    def test_unsupported_mechanism_is_rejected(self):
        c = self.implicit()
        c.greeting()
        lines = c.command("a", "AUTHENTICATE CRAM-MD5")
        self.assertIn(tagged_status(lines, "a"), (b"NO", b"BAD"), lines)


if __name__ == "__main__":
    unittest.main()
