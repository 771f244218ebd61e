"""Metrics and health endpoints, the session_end log line, no secrets in the log, no OpenSSL mapped."""

import base64
import imaplib
import re
import signal
import time
import unittest
from pathlib import Path

from harness import ALICE, ALICE_PW, BOB, BOB_PW, Closed, GateTestCase, run_cmd, tagged_status

FIELDS = ("sid", "client", "listener", "user", "backend", "tls", "bytes_in", "bytes_out", "duration_s", "result")
WRONG_PW = "wrong-secret-Zq7x"
LITERAL_PW = "literal-secret-Kp3w"


class MetricsTest(GateTestCase):
    def curl(self, path):
        return run_cmd(["curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "10",
                        "-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{self.admin_port}{path}"])

    def test_metrics_exposed(self):
        # One login first so counters have moved.
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=self.client_ctx(), timeout=20)
        m.login(ALICE, ALICE_PW)
        m.logout()
        r = self.curl("/metrics")
        self.assertEqual(r.returncode, 0, r.stderr)
        body, code = r.stdout.rsplit(b"\n", 1)
        self.assertEqual(code, b"200")
        text = body.decode()
        self.assertRegex(text, r"(?m)^imapgate_build_info\{[^}]*\} 1")
        self.assertRegex(text, r"(?m)^imapgate_logins_total(\{[^}]*\})? \d")
        self.assertRegex(text, r"(?m)^# TYPE imapgate_logins_total counter")

    def test_healthz_200(self):
        r = self.curl("/healthz")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(b"\n200"), r.stdout)

    def test_unknown_path_404(self):
        r = self.curl("/nope")
        self.assertTrue(r.stdout.endswith(b"\n404"), r.stdout)

    def test_no_openssl_mapped_in_running_process(self):
        maps = Path(f"/proc/{self.gate.pid}/maps").read_text()
        self.assertNotRegex(maps, r"lib(ssl|crypto)\.so\.3", "OpenSSL 3 is mapped into imapgate")


class SessionLogTest(GateTestCase):
    """One session_end line per session, with all fields; no password anywhere in stderr."""
    LIMITS = {"max_literal": "1KiB"}

    def session_lines(self, port):
        return [l for l in self.gate_log().splitlines()
                if "event=session_end" in l and re.search(rf"\bclient=\"?[\[\]0-9a-fA-F.:]*:{port}\b", l)]

    def test_session_end_lines_and_no_secrets(self):
        ports = {}
        ctx = self.client_ctx()

        # 1. successful LOGIN with imaplib over implicit TLS
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=ctx, timeout=20)
        ports["login_ok"] = m.sock.getsockname()[1]
        m.login(ALICE, ALICE_PW)
        m.select("INBOX")
        m.logout()

        # 2. failed LOGIN, then LOGOUT
        c = self.implicit()
        ports["login_fail"] = c.sock.getsockname()[1]
        c.greeting()
        lines = c.command("a", f"LOGIN {BOB} {WRONG_PW}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
        c.command("z", "LOGOUT")
        c.close()

        # 3. AUTHENTICATE PLAIN (SASL-IR) after STARTTLS
        c = self.starttls()
        ports["auth_plain"] = c.sock.getsockname()[1]
        ir = base64.b64encode(f"\0{BOB}\0{BOB_PW}".encode()).decode()
        lines = c.command("a", f"AUTHENTICATE PLAIN {ir}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        c.command("z", "LOGOUT")
        c.close()

        # 4. AUTHENTICATE PLAIN by continuation, wrong password
        c = self.implicit()
        ports["auth_cont_fail"] = c.sock.getsockname()[1]
        c.greeting()
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        c.readline()
        c.send(base64.b64encode(f"\0{ALICE}\0{WRONG_PW}".encode()) + b"\r\n")
        c.read_response("a", timeout=20)
        c.close()

        # 5. LOGIN with a literal password over max_literal (1KiB): BAD/BYE, password never logged
        c = self.implicit()
        ports["bad_literal"] = c.sock.getsockname()[1]
        c.greeting()
        pw = (LITERAL_PW * 120).encode()
        c.send(b"a LOGIN alice {%d+}\r\n" % len(pw) + pw + b"\r\n")
        c.read_until_close(10)
        c.close()

        # 6. LOGIN in cleartext on the STARTTLS port (PRIVACYREQUIRED), client just disconnects
        c = self.plain()
        ports["cleartext_login"] = c.sock.getsockname()[1]
        c.greeting()
        lines = c.command("a", f"LOGIN {ALICE} {ALICE_PW}")
        self.assertIn(b"[PRIVACYREQUIRED]", lines[-1])
        c.close()

        # Every session ends with exactly one session_end line carrying all fields.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(self.session_lines(p) for p in ports.values()):
            time.sleep(0.2)
        time.sleep(0.5)
        for name, port in ports.items():
            found = self.session_lines(port)
            self.assertEqual(len(found), 1, f"{name} (client port {port}): {len(found)} session_end lines:\n"
                             + "\n".join(found))
            for field in FIELDS:
                self.assertRegex(found[0], rf"(^|\s){field}=", f"{name}: no {field}= in {found[0]}")
        ok_line = self.session_lines(ports["login_ok"])[0]
        self.assertRegex(ok_line, rf"\buser=\"?{re.escape(ALICE)}\"?(\s|$)", ok_line)
        self.assertRegex(ok_line, r"\blistener=\"?imaps\"?(\s|$)", ok_line)
        self.assertRegex(self.session_lines(ports["auth_plain"])[0], r"\blistener=\"?imap\"?(\s|$)")

        # Stop imapgate (SIGTERM drains, exit 0), then grep everything it ever wrote.
        rc = self.gate.stop(signal.SIGTERM, timeout=30)
        self.assertEqual(rc, 0, "imapgate did not exit 0 on SIGTERM")
        log = self.gate.stderr()
        self.assertTrue(log.strip(), "imapgate wrote no log at all")
        secrets = {
            "alice password": ALICE_PW, "bob password": BOB_PW, "wrong password": WRONG_PW,
            "literal password": LITERAL_PW,
            "PLAIN blob (bob)": base64.b64encode(f"\0{BOB}\0{BOB_PW}".encode()).decode(),
            "PLAIN blob (alice, wrong)": base64.b64encode(f"\0{ALICE}\0{WRONG_PW}".encode()).decode(),
        }
        for what, secret in secrets.items():
            self.assertNotIn(secret, log, f"{what} appears in imapgate's stderr")


if __name__ == "__main__":
    unittest.main()
