"""The metrics catalog (issue E) against a live imapgate and a real Dovecot: a scripted set of
logins and TLS handshakes (imaplib over implicit TLS and STARTTLS, a wrong password, openssl
s_client with a protocol version, a cipher and an ALPN the server refuses, a session resumed from
a ticket, a silent client hitting the handshake timeout, a client closing mid-handshake), a scrape
before and after piped into `promtool check metrics`, and every counter asserted to have moved by
exactly the expected amount. Also: the certificate's notAfter as `openssl x509` reads it, the
start time, the sessions limit, last_reload_successful across a failed and a good reload, and
docs/METRICS.md against the scrape."""

import calendar
import imaplib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest
from typing import Dict, Tuple

from harness import (ALICE, ALICE_PW, BOB, BOB_PW, HOST, SOURCE_DIR, GateTestCase, ds, metric_sum,
                     run_cmd)

WRONG_PW = "wrong-secret-Mt4q"
RELOAD_DONE = r"event=reload_(ok|failed)"


def parse_families(text: str) -> Dict[str, str]:
    """{family name: type} from the # TYPE lines of an exposition."""
    return dict(re.findall(r"(?m)^# TYPE (\S+) (\S+)$", text))


class MetricsCatalogTest(GateTestCase):
    LIMITS = {"max_sessions_per_worker": 1000}
    TIMEOUTS = {"tls_handshake": "1s"}

    @classmethod
    def setUpClass(cls):
        cls.started_before = time.time()
        super().setUpClass()
        cls.started_after = time.time()

    # -- helpers -----------------------------------------------------------------------------
    def scrape(self) -> str:
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200, body[:200])
        return body.decode()

    def settled_scrape(self, accepted_imaps: float = None, timeout: float = 15) -> str:
        """A scrape once no session is open (and, when given, once imaps accepted that many):
        a session's counters move on its worker right after the client sees the close."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.scrape()
            active = metric_sum(text, "imapgate_sessions_active")
            ended = metric_sum(text, "imapgate_sessions_ended_total")
            accepted = metric_sum(text, "imapgate_connections_accepted_total")
            done = active == 0 and ended == accepted
            if accepted_imaps is not None:
                done = done and metric_sum(text, "imapgate_connections_accepted_total",
                                           listener="imaps") >= accepted_imaps
            if done or time.monotonic() > deadline:
                return text
            time.sleep(0.1)

    def promtool_check(self, text: str) -> None:
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing (scripts/install-deps installs prometheus)")
        r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        self.assertEqual(r.stdout.decode().strip(), "", "promtool reports lint problems")

    def s_client(self, port: int, *extra: str, stdin: bytes = b"z LOGOUT\n") -> Tuple[int, str]:
        cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-CAfile", self.ca_file,
               "-servername", "localhost", "-crlf", "-ign_eof", *extra]
        r = run_cmd(cmd, input=stdin, timeout=30)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def logout_after_server_closes(self, m: imaplib.IMAP4) -> None:
        """LOGOUT, then read until the server closes: the session ends as `logout` on the server's
        side (imaplib.logout() closes at once, racing the backend's close)."""
        m.send(b"z LOGOUT\r\n")
        m.sock.settimeout(20)
        while m.readline():
            pass
        m.shutdown()

    # -- the scripted run --------------------------------------------------------------------
    def test_scripted_logins_and_handshakes_move_each_counter_exactly(self):
        before = self.settled_scrape()
        self.promtool_check(before)
        ctx = self.client_ctx()

        # 1. A good login over implicit TLS (imaplib).
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=ctx, timeout=20)
        m.login(ALICE, ALICE_PW)
        m.select("INBOX")
        self.logout_after_server_closes(m)

        # 2. A good login after STARTTLS (imaplib).
        m = imaplib.IMAP4("localhost", self.starttls_port, timeout=20)
        m.starttls(ssl_context=ctx)
        m.login(BOB, BOB_PW)
        self.logout_after_server_closes(m)

        # 3. A wrong password over implicit TLS, then LOGOUT before login.
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=ctx, timeout=20)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(BOB, WRONG_PW)
        self.logout_after_server_closes(m)

        # 4. TLS 1.2, no login.
        ctx12 = self.client_ctx()
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=ctx12, timeout=20)
        self.assertEqual(m.sock.version(), "TLSv1.2")
        self.logout_after_server_closes(m)

        # 5. TLS failures: a protocol version, a cipher and an ALPN protocol the server refuses.
        rc, out = self.s_client(self.implicit_port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        self.assertNotIn("no protocols available", out, "the client did not offer TLS 1.1: test is void")
        self.assertIn("Cipher is (NONE)", out)
        rc, out = self.s_client(self.implicit_port, "-tls1_2", "-cipher", "AES128-SHA")
        self.assertIn("Cipher is (NONE)", out)
        rc, out = self.s_client(self.implicit_port, "-alpn", "http/1.1")
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out.lower(), r"no.application.protocol")

        # 6. A full TLS 1.3 handshake that saves its session, then one that resumes it.
        sess = str(self.tmp / "resume.pem")
        rc, out = self.s_client(self.implicit_port, "-tls1_3", "-sess_out", sess)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^z OK")
        rc, out = self.s_client(self.implicit_port, "-tls1_3", "-sess_in", sess)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^Reused, TLSv1.3", out)

        # 7. A client that connects and says nothing: the 1 s handshake timeout ends it.
        with socket.create_connection((HOST, self.implicit_port), timeout=10) as s:
            try:
                self.assertEqual(s.recv(1), b"")  # closed by the server, nothing sent
            except ConnectionResetError:
                pass
        # 8. A client that closes before its handshake.
        socket.create_connection((HOST, self.implicit_port), timeout=10).close()

        after = self.settled_scrape(
            accepted_imaps=metric_sum(before, "imapgate_connections_accepted_total", listener="imaps") + 10)
        self.promtool_check(after)

        def moved(name: str, **labels: str) -> float:
            return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)

        expected = [
            # (metric, labels, delta)
            ("imapgate_connections_accepted_total", {"listener": "imaps"}, 10),
            ("imapgate_connections_accepted_total", {"listener": "imap"}, 1),
            ("imapgate_logins_total", {"listener": "imaps", "result": "ok"}, 1),
            ("imapgate_logins_total", {"listener": "imaps", "result": "auth_failed"}, 1),
            ("imapgate_logins_total", {"listener": "imaps", "result": "unavailable"}, 0),
            ("imapgate_logins_total", {"listener": "imap", "result": "ok"}, 1),
            ("imapgate_logins_total", {"listener": "imap", "result": "auth_failed"}, 0),
            ("imapgate_tls_handshakes_total", {"listener": "imaps", "version": "tls1_3", "result": "ok"}, 4),
            ("imapgate_tls_handshakes_total", {"listener": "imaps", "version": "tls1_2", "result": "ok"}, 1),
            ("imapgate_tls_handshakes_total", {"listener": "imaps", "version": "unknown", "result": "failed"}, 5),
            ("imapgate_tls_handshakes_total", {"listener": "imap", "version": "tls1_3", "result": "ok"}, 1),
            ("imapgate_tls_handshakes_total", {"listener": "imap", "result": "failed"}, 0),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "protocol_version"}, 1),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "no_shared_cipher"}, 1),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "alpn"}, 1),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "timeout"}, 1),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "closed"}, 1),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "sni"}, 0),
            ("imapgate_tls_handshake_failures_total", {"listener": "imaps", "reason": "other"}, 0),
            ("imapgate_tls_resumed_handshakes_total", {"listener": "imaps"}, 1),
            ("imapgate_tls_resumed_handshakes_total", {"listener": "imap"}, 0),
            ("imapgate_starttls_upgrades_total", {"listener": "imap"}, 1),
            ("imapgate_starttls_upgrades_total", {"listener": "imaps"}, 0),
            ("imapgate_sessions_ended_total", {"listener": "imaps", "reason": "logout"}, 5),
            ("imapgate_sessions_ended_total", {"listener": "imaps", "reason": "tls_failed"}, 4),
            ("imapgate_sessions_ended_total", {"listener": "imaps", "reason": "preauth_timeout"}, 1),
            ("imapgate_sessions_ended_total", {"listener": "imaps"}, 10),
            ("imapgate_sessions_ended_total", {"listener": "imap", "reason": "logout"}, 1),
            ("imapgate_sessions_ended_total", {"listener": "imap"}, 1),
            ("imapgate_preauth_rejections_total", {"listener": "imaps", "reason": "tls_handshake"}, 4),
            ("imapgate_preauth_rejections_total", {"listener": "imaps", "reason": "preauth_timeout"}, 1),
            ("imapgate_session_duration_seconds_count", {"listener": "imaps"}, 10),
            ("imapgate_cleartext_logins_refused_total", {}, 0),
        ]
        wrong = [f"{name}{labels}: moved {moved(name, **labels):g}, expected {delta}"
                 for name, labels, delta in expected if moved(name, **labels) != delta]
        self.assertEqual(wrong, [])
        for name in ("imapgate_sessions_active",):
            self.assertEqual(metric_sum(after, name), 0)

    # -- process gauges ----------------------------------------------------------------------
    def test_certificate_not_after_is_the_certificates(self):
        r = run_cmd(["openssl", "x509", "-noout", "-enddate", "-in", str(self.tls["cert"])])
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.match(r"notAfter=(.+) GMT$", r.stdout.decode().strip())
        self.assertIsNotNone(m, r.stdout)
        not_after = calendar.timegm(time.strptime(m.group(1), "%b %d %H:%M:%S %Y"))
        text = self.scrape()
        for listener in ("imaps", "imap"):
            self.assertEqual(metric_sum(text, "imapgate_tls_certificate_not_after_seconds", listener=listener),
                             not_after, listener)

    def test_start_time_and_sessions_limit(self):
        text = self.scrape()
        start = metric_sum(text, "imapgate_start_time_seconds")
        self.assertGreaterEqual(start, self.started_before - 1)
        self.assertLessEqual(start, self.started_after + 1)
        self.assertLessEqual(start, time.time())
        # Workers x 1000 sessions each; the abuse defence (and its total) is off.
        self.assertEqual(metric_sum(text, "imapgate_sessions_limit"), self.WORKERS * 1000)

    def test_zz_last_reload_successful_follows_failed_and_good_reloads(self):
        # Last in the class (it rewrites the config): a failed reload then the original again.
        self.assertEqual(metric_sum(self.scrape(), "imapgate_config_last_reload_successful"), 1)
        ds.readable_after_privilege_drop(self.tls["key"])
        original = self.config_path.read_text()
        try:
            self.config_path.write_text(original + "no_such_key: 1\n")
            self.sighup_and_wait("reload_failed")
            text = self.scrape()
            self.assertEqual(metric_sum(text, "imapgate_config_last_reload_successful"), 0)
            self.assertEqual(metric_sum(text, "imapgate_config_reloads_total", result="failed"), 1)
        finally:
            self.config_path.write_text(original)
        self.sighup_and_wait("reload_ok")
        text = self.scrape()
        self.assertEqual(metric_sum(text, "imapgate_config_last_reload_successful"), 1)
        self.assertEqual(metric_sum(text, "imapgate_config_reloads_total", result="ok"), 1)

    def sighup_and_wait(self, event: str) -> None:
        before = len(self.wait_for_log(RELOAD_DONE, timeout=0))
        os.kill(self.gate.pid, signal.SIGHUP)
        lines = self.wait_for_log(RELOAD_DONE, timeout=20, count=before + 1)
        self.assertGreater(len(lines), before, "no reload outcome after SIGHUP")
        self.assertIn(f"event={event}", lines[before])

    # docs/METRICS.md against the scrape, both ways: test_dashboard.py (with a real Prometheus).


class LogWriteFailuresTest(GateTestCase):
    """log_file on /dev/full: every log line fails (ENOSPC). imapgate serves on, and
    imapgate_log_write_failures_total counts the lines lost."""

    @classmethod
    def imapgate_config(cls) -> str:
        return super().imapgate_config() + "log_file: /dev/full\n"

    def failures(self) -> float:
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200, body[:200])
        return metric_sum(body.decode(), "imapgate_log_write_failures_total")

    def test_lines_that_cannot_be_written_are_counted_and_logins_go_on(self):
        before = self.failures()
        self.assertGreater(before, 0, "start-up writes log lines, and each failed")
        m = imaplib.IMAP4_SSL("localhost", self.implicit_port, ssl_context=self.client_ctx(), timeout=20)
        m.login(ALICE, ALICE_PW)
        m.logout()
        # session_start, login_ok and session_end at least, each counted by the next scrape.
        deadline = time.monotonic() + 10
        while self.failures() < before + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(self.failures(), before + 3)


if __name__ == "__main__":
    unittest.main()
