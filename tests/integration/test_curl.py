"""curl (a real client) through imapgate: imaps:// and STARTTLS (--ssl-reqd imap://)."""

import unittest

from harness import ALICE, ALICE_PW, BOB, BOB_PW, GateTestCase, run_cmd


class CurlTest(GateTestCase):
    def curl(self, url, *extra, user=ALICE, password=ALICE_PW):
        cmd = ["curl", "--silent", "--show-error", "--ipv4", "--max-time", "30",
               "--cacert", self.ca_file, "-u", f"{user}:{password}", *extra, url]
        return run_cmd(cmd, timeout=40)

    def test_imaps_fetch_message_matches_stored(self):
        r = self.curl(f"imaps://localhost:{self.implicit_port}/INBOX;UID=1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.messages[ALICE][0])

    def test_imaps_fetch_other_user(self):
        r = self.curl(f"imaps://localhost:{self.implicit_port}/INBOX;UID=3", user=BOB, password=BOB_PW)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.messages[BOB][2])

    def test_starttls_ssl_reqd_fetch_message_matches_stored(self):
        r = self.curl(f"imap://localhost:{self.starttls_port}/INBOX;UID=2", "--ssl-reqd")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.messages[ALICE][1])

    def test_imaps_auth_plain_login_option(self):
        r = self.curl(f"imaps://localhost:{self.implicit_port}/INBOX;UID=1", "--login-options", "AUTH=PLAIN")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.messages[ALICE][0])

    def test_imaps_examine_custom_request(self):
        r = self.curl(f"imaps://localhost:{self.implicit_port}/", "-X", "EXAMINE INBOX")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"3 EXISTS", r.stdout)

    def test_imaps_wrong_password_is_login_denied(self):
        r = self.curl(f"imaps://localhost:{self.implicit_port}/INBOX;UID=1", password="wrong-password")
        self.assertEqual(r.returncode, 67, f"curl exit {r.returncode}: {r.stderr!r}")  # CURLE_LOGIN_DENIED

    def test_starttls_wrong_ca_fails(self):
        # Verify against the system CAs only: the demo CA is unknown there.
        r = run_cmd(["curl", "--silent", "--ipv4", "--max-time", "20", "--ssl-reqd", "-u", f"{ALICE}:{ALICE_PW}",
                     "--capath", "/nonexistent", "--cacert", "/etc/ssl/certs/ca-certificates.crt",
                     f"imap://localhost:{self.starttls_port}/INBOX;UID=1"], timeout=30)
        self.assertEqual(r.returncode, 60, r)   # CURLE_PEER_FAILED_VERIFICATION


if __name__ == "__main__":
    unittest.main()
