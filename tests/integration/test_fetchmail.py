"""fetchmail (Debian's 6.4) through imapgate in its default IMAP settings: implicit TLS on the
imaps port, and on the STARTTLS port the STARTTLS fetchmail negotiates by itself; each run
fetches every message intact (kept on the server) and ends with a LOGOUT."""

import re
import shutil
import subprocess
import unittest

from harness import ALICE, ALICE_PW, GateTestCase


@unittest.skipIf(shutil.which("fetchmail") is None, "fetchmail is not installed: scripts/install-deps installs it")
class FetchmailTest(GateTestCase):
    def fetch(self, port: int, ssl: bool) -> bytes:
        home = self.tmp / f"fetchmail-{port}"
        home.mkdir()
        mbox = home / "mbox"
        rc = home / "fetchmailrc"
        rc.write_text(f'poll localhost protocol IMAP port {port} user "{ALICE}" password "{ALICE_PW}"'
                      f'{" ssl" if ssl else ""} sslcertck sslcertfile {self.ca_file} keep'
                      f' mda "cat >> {mbox}"\n')
        rc.chmod(0o600)
        proc = subprocess.run(["fetchmail", "-f", str(rc), "-a", "-v", "--nosyslog"], capture_output=True,
                              timeout=60, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
        log = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertEqual(proc.returncode, 0, log[-3000:])
        got = mbox.read_bytes().replace(b"\r\n", b"\n")
        for msg in self.messages[ALICE]:
            self.assertIn(msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1], got)
        self.assertEqual(len(re.findall(rb"(?m)^Message-ID: ", got)), len(self.messages[ALICE]))
        return log

    def test_fetchmail_over_implicit_tls(self):
        self.fetch(self.implicit_port, ssl=True)
        self.wait_for_log(r"event=session_end .*listener=imaps .*result=logout")

    def test_fetchmail_negotiates_starttls(self):
        log = self.fetch(self.starttls_port, ssl=False)
        self.assertIn("IMAP> A0001 STARTTLS", log)
        self.wait_for_log(r"event=session_end .*listener=imap .*result=logout")


if __name__ == "__main__":
    unittest.main()
