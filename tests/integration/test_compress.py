"""COMPRESS=DEFLATE through imapgate, and message bodies that look like server responses.

imapgate relays COMPRESS untouched and never writes a byte the client cannot decode: every
test here reads the client's stream to its very end and inflates all of it. Real clients:
mbsync (Debian's isync, default settings: it turns COMPRESS on by itself) on both ports, and
raw sockets with Python's zlib. A real Dovecot behind.
"""

import re
import shutil
import signal
import subprocess
import time
import unittest
import zlib

from harness import (ALICE, ALICE_PW, BOB, BOB_PW, HOST, GateTestCase, RawClient, ds, mbsync_config,
                     tagged_status)

# A message whose body has lines that start like the server's own goodbye.
BYE_BODY = ("Dear user,\n"
            "* BYE this line is mail, not the server\n"
            "* BYE Logging out\n"
            "* OK and neither is this\n"
            "A1 OK nor this\n")


class CompressedStream:
    """The client's end of a COMPRESS session: deflate what it sends, inflate all it reads."""

    def __init__(self, c: RawClient):
        self.c = c
        self.comp = zlib.compressobj(wbits=-15)
        self.decomp = zlib.decompressobj(wbits=-15)
        self.text = b""

    def send(self, text: bytes) -> None:
        self.c.send(self.comp.compress(text) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def _feed(self, chunk: bytes) -> None:
        # zlib.error here is a corrupt stream: the test fails with it.
        self.text += self.decomp.decompress(chunk)
        if self.decomp.unused_data:
            raise AssertionError(f"bytes after the end of the deflate stream: {self.decomp.unused_data!r}")

    def read_until_tagged(self, tag: bytes, timeout: float = 10) -> bytes:
        start = len(self.text)
        deadline = time.monotonic() + timeout
        while not re.search(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r\n]*\r\n", self.text[start:]):
            self.c.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.c.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed while waiting for {tag!r}: {self.text[start:]!r}")
            self._feed(chunk)
        return self.text[start:]

    def read_to_the_end(self, timeout: float = 15) -> bytes:
        """Reads until the server closes; every byte must inflate. Returns the new text."""
        start = len(self.text)
        deadline = time.monotonic() + timeout
        while True:
            self.c.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.c.sock.recv(65536)
            if not chunk:
                break
            self._feed(chunk)
        self.assertFlushed()
        return self.text[start:]

    def assertFlushed(self) -> None:
        # Nothing half-decoded is left: a complete stream up to a flush point.
        rest = self.decomp.flush()
        if rest:
            self.text += rest


def start_compress(test: GateTestCase, c: RawClient, user: str = ALICE, password: str = ALICE_PW) -> CompressedStream:
    c.greeting()
    test.login(c, user, password)
    lines = c.command("z", "COMPRESS DEFLATE")
    test.assertEqual(tagged_status(lines, "z"), b"OK", lines)
    test.assertEqual(c.buf, b"", "plaintext bytes after the COMPRESS OK")
    return CompressedStream(c)


class CompressTest(GateTestCase):
    @classmethod
    def start_backend(cls) -> int:
        port = super().start_backend()
        cls.bye_message = ds.make_message("Looks like a goodbye", BYE_BODY, to=BOB)
        cls.dovecot.deliver(BOB, cls.bye_message)
        return port

    def test_compressed_logout_reads_to_the_end_and_every_byte_inflates(self):
        s = start_compress(self, self.implicit())
        s.send(b"a NOOP\r\n")
        self.assertRegex(s.read_until_tagged(b"a"), rb"(^|\r\n)a OK")
        s.send(b"b EXAMINE INBOX\r\nc FETCH 1:* (BODY.PEEK[])\r\n")
        out = s.read_until_tagged(b"c")
        for msg in self.messages[ALICE]:
            self.assertIn(msg, out)
        s.send(b"d LOGOUT\r\n")
        tail = s.read_to_the_end()
        self.assertIn(b"* BYE", tail)
        self.assertRegex(tail, rb"\r\nd OK Logout completed[^\r\n]*\r\n$")  # nothing of ours after it
        self.wait_for_log(r"event=session_end .*user=" + re.escape(ALICE) + r" .*result=logout")

    def test_bye_lines_in_a_message_body_are_fetched_intact_and_the_session_goes_on(self):
        c = self.implicit()
        c.greeting()
        self.login(c, BOB, BOB_PW)
        self.assertEqual(tagged_status(c.command("a", "EXAMINE INBOX"), "a"), b"OK")
        uid_count = len(self.messages[BOB]) + 1
        lines = c.command("b", f"FETCH {uid_count} (BODY.PEEK[])")
        self.assertEqual(tagged_status(lines, "b"), b"OK", lines)
        self.assertIn(self.bye_message, b"".join(lines))
        self.assertEqual(tagged_status(c.command("c", "NOOP"), "c"), b"OK")  # still going
        lines = c.command("d", "LOGOUT")
        self.assertEqual(tagged_status(lines, "d"), b"OK", lines)
        self.wait_for_log(r"event=session_end .*user=" + re.escape(BOB) + r" .*result=logout")

    def test_bye_lines_in_a_compressed_message_body(self):
        s = start_compress(self, self.implicit(), BOB, BOB_PW)
        s.send(b"a EXAMINE INBOX\r\nb FETCH %d (BODY.PEEK[])\r\n" % (len(self.messages[BOB]) + 1))
        out = s.read_until_tagged(b"b")
        self.assertIn(self.bye_message, out)
        s.send(b"c NOOP\r\n")
        self.assertRegex(s.read_until_tagged(b"c"), rb"(^|\r\n)c OK")
        s.send(b"d LOGOUT\r\n")
        self.assertRegex(s.read_to_the_end(), rb"\r\nd OK Logout completed[^\r\n]*\r\n$")


class CompressIdleTimeoutTest(GateTestCase):
    TIMEOUTS = {"idle": "2s"}

    def test_idle_timeout_bye_is_compressed(self):
        s = start_compress(self, self.implicit())
        s.send(b"a NOOP\r\n")
        s.read_until_tagged(b"a")
        tail = s.read_to_the_end(timeout=15)  # imapgate closes after 2 s idle
        self.assertTrue(tail.endswith(b"* BYE Idle timeout\r\n"), tail)
        self.wait_for_log(r"event=session_end .*result=idle_timeout")


class CompressDrainTest(GateTestCase):
    TIMEOUTS = {"shutdown_grace": "1s"}

    def test_drain_bye_is_compressed(self):
        s = start_compress(self, self.implicit())
        s.send(b"a SELECT INBOX\r\n")
        s.read_until_tagged(b"a")
        self.gate.proc.send_signal(signal.SIGTERM)
        tail = s.read_to_the_end(timeout=15)
        self.assertTrue(tail.endswith(b"* BYE Server shutting down\r\n"), tail)
        self.assertEqual(self.gate.proc.wait(timeout=20), 0)
        self.wait_for_log(r"event=session_end .*result=shutdown")


@unittest.skipIf(shutil.which("mbsync") is None, "mbsync (package isync) is not installed: scripts/install-deps installs it")
class MbsyncTest(GateTestCase):
    """mbsync 1.4 with its defaults (COMPRESS=DEFLATE on whenever the server offers it)."""

    MESSAGES_PER_USER = 5

    def sync(self, port: int, ssl_type: str) -> subprocess.CompletedProcess:
        home = self.tmp / f"mbsync-{ssl_type}"
        maildir = home / "mail"
        maildir.mkdir(parents=True)
        rc = home / "mbsyncrc"
        rc.write_text(mbsync_config(port, ALICE, ALICE_PW, ssl_type, self.ca_file, maildir))
        proc = subprocess.run(["mbsync", "-c", str(rc), "-Dn", "sync"], capture_output=True, timeout=60,
                              env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
        self.assertEqual(proc.returncode, 0,
                         f"mbsync exit {proc.returncode}\n{proc.stdout.decode(errors='replace')[-3000:]}"
                         f"\n{proc.stderr.decode(errors='replace')[-3000:]}")
        got = sorted(p.read_bytes() for d in ("cur", "new") for p in (maildir / "INBOX" / d).iterdir())
        self.assertEqual(len(got), self.MESSAGES_PER_USER)
        # mbsync adds its own X-TUID header; the rest of each message must be there intact.
        got = [g.replace(b"\r\n", b"\n") for g in got]
        for msg in self.messages[ALICE]:
            head, body = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)
            self.assertTrue(any(head in g and g.endswith(b"\n\n" + body) for g in got),
                            f"a message did not arrive intact: {head!r}")
        return proc

    def test_mbsync_syncs_through_implicit_tls(self):
        out = self.sync(self.implicit_port, "IMAPS")
        self.assertIn(b"COMPRESS DEFLATE", out.stdout + out.stderr)  # it really compressed (its network log)

    def test_mbsync_syncs_through_starttls(self):
        out = self.sync(self.starttls_port, "STARTTLS")
        self.assertIn(b"COMPRESS DEFLATE", out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
