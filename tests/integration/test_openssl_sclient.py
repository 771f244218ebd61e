"""openssl s_client (a real client) through imapgate: STARTTLS, implicit TLS, ALPN (ALPACA),
protocol versions and TLS session resumption."""

import os
import re
import unittest

from harness import ALICE, ALICE_PW, GateTestCase, run_cmd

SESSION = (f"a LOGIN {ALICE} {ALICE_PW}\nb SELECT INBOX\nc FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\n"
           "d LOGOUT\n").encode()


class SClientTest(GateTestCase):
    def s_client(self, port, *extra, starttls=False, stdin=b"z LOGOUT\n", timeout=30):
        cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", self.ca_file,
               "-verify_return_error", "-verify_hostname", "localhost", "-servername", "localhost",
               "-crlf", "-ign_eof"]
        if starttls:
            cmd += ["-starttls", "imap"]
        cmd += list(extra)
        r = run_cmd(cmd, input=stdin, timeout=timeout)
        return r, (r.stdout + r.stderr).decode(errors="replace")

    def assert_session(self, out):
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertRegex(out, r"(?m)^a OK")
        self.assertRegex(out, r"(?m)^b OK")
        self.assertIn("Subject: Message 1 for alice@demo.test", out)
        self.assertRegex(out, r"(?m)^d OK")
        self.assertNotIn("PREAUTH", out)

    def test_starttls_session(self):
        r, out = self.s_client(self.starttls_port, starttls=True, stdin=SESSION)
        self.assertEqual(r.returncode, 0, out)
        self.assert_session(out)

    def test_implicit_tls_session(self):
        r, out = self.s_client(self.implicit_port, stdin=SESSION)
        self.assertEqual(r.returncode, 0, out)
        self.assertRegex(out, r"\* OK \[CAPABILITY [^\]]*AUTH=PLAIN[^\]]*\] imapgate ready")
        self.assert_session(out)

    # -- ALPN (ALPACA) ----------------------------------------------------------------------
    def test_alpn_http_refused_with_no_application_protocol(self):
        for port, st in ((self.implicit_port, False), (self.starttls_port, True)):
            with self.subTest(port=port, starttls=st):
                r, out = self.s_client(port, "-alpn", "http/1.1", starttls=st)
                self.assertNotEqual(r.returncode, 0, out)
                self.assertRegex(out.lower(), r"no.application.protocol", out)
                self.assertNotRegex(out, r"(?m)^z OK", "LOGOUT was answered over the refused TLS session")

    def test_alpn_imap_accepted(self):
        for port, st in ((self.implicit_port, False), (self.starttls_port, True)):
            with self.subTest(port=port, starttls=st):
                r, out = self.s_client(port, "-alpn", "imap", starttls=st)
                self.assertEqual(r.returncode, 0, out)
                self.assertIn("Verify return code: 0 (ok)", out)
                self.assertRegex(out, r"(?m)^z OK")

    def test_no_alpn_accepted(self):
        r, out = self.s_client(self.implicit_port)
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("imapgate ready", out)
        self.assertRegex(out, r"(?m)^z OK")

    # -- protocol versions ------------------------------------------------------------------
    def test_tls10_and_tls11_refused(self):
        for flag in ("-tls1", "-tls1_1"):
            for port, st in ((self.implicit_port, False), (self.starttls_port, True)):
                with self.subTest(version=flag, port=port):
                    r, out = self.s_client(port, flag, "-cipher", "DEFAULT:@SECLEVEL=0", starttls=st)
                    self.assertNotIn("no protocols available", out,
                                     "the client could not even offer the old version: test is void")
                    self.assertNotEqual(r.returncode, 0, out)
                    self.assertIn("Cipher is (NONE)", out, "a TLS session was established")
                    self.assertNotRegex(out, r"(?m)^z OK")

    def test_tls12_and_tls13_work(self):
        for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            for port, st in ((self.implicit_port, False), (self.starttls_port, True)):
                with self.subTest(version=flag, port=port):
                    r, out = self.s_client(port, flag, starttls=st)
                    self.assertEqual(r.returncode, 0, out)
                    self.assertRegex(out, rf"Protocol\s*:\s*{re.escape(name)}")

    def test_key_exchange_groups_x25519_and_p256_only(self):
        for group, ok in (("X25519", True), ("P-256", True), ("P-384", False), ("ffdhe2048", False)):
            with self.subTest(group=group):
                r, out = self.s_client(self.implicit_port, "-tls1_3", "-groups", group)
                if ok:
                    self.assertEqual(r.returncode, 0, out)
                    self.assertRegex(out, r"Protocol\s*:\s*TLSv1.3")
                else:
                    self.assertIn("Cipher is (NONE)", out, f"{group} was accepted")

    def test_tls12_non_ecdhe_or_non_aead_suites_refused(self):
        for cipher in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA"):
            with self.subTest(cipher=cipher):
                r, out = self.s_client(self.implicit_port, "-tls1_2", "-cipher", cipher)
                self.assertIn("Cipher is (NONE)", out, f"{cipher} was accepted")
        r, out = self.s_client(self.implicit_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertEqual(r.returncode, 0, out)

    # -- resumption -------------------------------------------------------------------------
    def test_session_resumption_with_tickets(self):
        for flag in ("-tls1_3", "-tls1_2"):
            for port, st in ((self.implicit_port, False), (self.starttls_port, True)):
                with self.subTest(version=flag, port=port):
                    sess = os.path.join(self.tmp, f"sess{flag}-{port}.pem")
                    r, out = self.s_client(port, flag, "-sess_out", sess, starttls=st)
                    self.assertEqual(r.returncode, 0, out)
                    self.assertTrue(os.path.exists(sess) and os.path.getsize(sess) > 0, out)
                    r, out = self.s_client(port, flag, "-sess_in", sess, starttls=st)
                    self.assertEqual(r.returncode, 0, out)
                    self.assertRegex(out, r"(?m)^Reused, ", out)


if __name__ == "__main__":
    unittest.main()
