"""Malformed pre-auth input classes (raw TLS sockets): each gets BAD and the session survives;
commands outside the pre-auth set get a tagged BAD."""

import unittest

from harness import ALICE, GateTestCase, tagged_status


class MalformedInputTest(GateTestCase):
    STARTTLS = False

    def fresh(self):
        c = self.implicit()
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        return c

    def assert_bad_then_alive(self, raw: bytes, untagged_only: bool = False):
        c = self.fresh()
        c.send(raw)
        line = c.readline()
        pattern = rb"^\* BAD" if untagged_only else rb"^(a|\*) BAD"
        self.assertRegex(line, pattern, f"input {raw!r}")
        lines = c.command("ok1", "NOOP")
        self.assertEqual(tagged_status(lines, "ok1"), b"OK", f"session dead after {raw!r}: {lines!r}")

    def test_malformed_tags_get_untagged_bad(self):
        for tag in (b"a{b", b'"q"', b"a*b", b"a%b", b"a(b", b"a\\b", b"a+b", b"\x01a", b"\xc3\xa9", b"+"):
            with self.subTest(tag=tag):
                self.assert_bad_then_alive(tag + b" NOOP\r\n", untagged_only=True)

    def test_empty_tag(self):
        self.assert_bad_then_alive(b" NOOP\r\n", untagged_only=True)

    def test_quoted_with_nul(self):
        self.assert_bad_then_alive(b'a LOGIN "al\x00ice" "pw"\r\n')

    def test_quoted_with_cr(self):
        self.assert_bad_then_alive(b'a LOGIN "al\rice" "pw"\r\n')

    def test_quoted_with_bad_escape(self):
        self.assert_bad_then_alive(b'a LOGIN "al\\ice" "pw"\r\n')

    def test_unterminated_quoted(self):
        self.assert_bad_then_alive(b'a LOGIN "alice pw\r\n')

    def test_non_utf8_in_quoted(self):
        self.assert_bad_then_alive(b'a LOGIN "\xff\xfe" "pw"\r\n')

    def test_non_utf8_in_atom(self):
        self.assert_bad_then_alive(b"a LOGIN al\xc0ice pw\r\n")

    def test_nul_outside_quotes(self):
        self.assert_bad_then_alive(b"a NOOP\x00\r\n")

    def test_missing_arguments(self):
        for raw in (b"a LOGIN\r\n", b"a LOGIN onlyuser\r\n", b"a LOGIN u p extra\r\n", b"a AUTHENTICATE\r\n"):
            with self.subTest(raw=raw):
                self.assert_bad_then_alive(raw)

    def test_commands_outside_preauth_set_get_tagged_bad(self):
        for cmd in ("SELECT INBOX", "EXAMINE INBOX", "FETCH 1 BODY[]", "UID FETCH 1 BODY[]", 'LIST "" *',
                    "STATUS INBOX (MESSAGES)", "APPEND INBOX {1+}\r\nx", "IDLE", "COMPRESS DEFLATE",
                    "ENABLE CONDSTORE", "LOGOUTX", "FROBNICATE", "XOAUTH2"):
            with self.subTest(cmd=cmd):
                c = self.fresh()
                c.send(f"a {cmd}\r\n".encode())
                lines = c.read_response("a")
                self.assertEqual(tagged_status(lines, "a"), b"BAD", lines)
                self.assertFalse([l for l in lines if l.startswith(b"+")], f"continuation for {cmd}: {lines!r}")
                lines = c.command("b", "NOOP")
                self.assertEqual(tagged_status(lines, "b"), b"OK", lines)

    def test_preauth_set_works(self):
        c = self.fresh()
        for tag, cmd in (("a", "CAPABILITY"), ("b", "NOOP"), ("c", 'ID ("name" "test")'), ("d", "ID NIL")):
            lines = c.command(tag, cmd)
            self.assertEqual(tagged_status(lines, tag), b"OK", lines)
        lines = c.command("e", "LOGOUT")
        self.assertRegex(b"".join(lines), rb"(^|\r\n)\* BYE")
        self.assertEqual(tagged_status(lines, "e"), b"OK", lines)

    def test_lowercase_commands_accepted(self):
        c = self.fresh()
        lines = c.command("a", "capability")
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        lines = c.command("b", "noop")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)


if __name__ == "__main__":
    unittest.main()
