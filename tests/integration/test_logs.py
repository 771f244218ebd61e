"""Structured logs (issue E): a log file reopened on SIGUSR1, the JSON format, the lines every
session, login, backend change and reload writes, and no secret in any log.

* JsonLogFileTest (log_format json, log_file in a directory the run user owns; file auth with a
  password, an app password and password+TOTP; two shards a1, b1):
  - rotation: a session before the rename, one spanning it and one after SIGUSR1: the old file
    keeps what was written before the reopen, the new file gets everything after, no line of
    any session is lost or doubled;
  - every line of the file parses as strict JSON (no NaN, no duplicate key) with ts (RFC 3339
    UTC, milliseconds), level and event, and a session's lines share one sid;
  - session_start / login_ok / login_failed / session_end carry their fields;
  - a reload (ok, then a refused one with FILE:LINE:COL), a drain and undrain through the admin
    API, and a killed backend's Dovecot each give their line (reload_ok / reload_failed,
    backend_state with backend, shard, from, to, reason);
  - no password, app password, TOTP code (right or wrong) in stderr, the log files or a
    Dovecot log.
* BearerTokenLogTest (logfmt on stderr, an nginx auth_http service checking an XOAUTH2 bearer
  token): right and wrong tokens; no token in any log.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import secrets
import signal
import time
import unittest
from pathlib import Path
from typing import Dict, List, Optional

from harness import (AuthGateTestCase, crypt_hash, ds, give_to_unprivileged, sha256_app_hash,
                     tagged_status, totp, write_users_file)

ALICE, DAVE, OLLIE = "alice@demo.test", "dave@demo.test", "ollie@demo.test"
BACKEND_USERS = {u: f"{u.split('@')[0]}-dovecot-{secrets.token_hex(4)}" for u in (ALICE, DAVE, OLLIE)}
PW = {u: f"{u.split('@')[0]}-gate-{secrets.token_urlsafe(12)}" for u in (ALICE, DAVE)}
TOTP_SECRET = base64.b32encode(os.urandom(20)).decode().rstrip("=")
APP_PASSWORD = f"app-dave-phone-{secrets.token_urlsafe(16)}"
TOKEN = "ya29." + secrets.token_urlsafe(32)
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def strict_json(line: str) -> Dict:
    """json.loads that refuses NaN/Infinity and duplicate keys (raises ValueError)."""
    def no_constant(name):
        raise ValueError(f"non-JSON constant {name}")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)
    return json.loads(line, parse_constant=no_constant, object_pairs_hook=no_duplicates)


def wrong_code() -> str:
    near = {totp(TOTP_SECRET, time.time() + d) for d in (-60, -30, 0, 30, 60)}
    while True:
        c = f"{secrets.randbelow(10 ** 6):06d}"
        if c not in near:
            return c


class JsonLogFileTest(AuthGateTestCase):
    BACKEND_USERS = BACKEND_USERS
    SHARDS = [("shard-a", ["a1"]), ("shard-b", ["b1"])]
    HEALTH_CHECKS = {"interval": "500ms", "timeout": "500ms", "rise": 1, "fall": 2}
    OVERRIDES = {ALICE: "shard-a", DAVE: "shard-a"}

    log_dir: Path
    log_path: Path

    @classmethod
    def users_entries(cls):
        return {
            ALICE: {"password": crypt_hash(PW[ALICE])},
            DAVE: {"password": crypt_hash(PW[DAVE]), "totp": TOTP_SECRET, "second_factor": "totp",
                   "app_passwords": [{"name": "phone", "hash": sha256_app_hash(APP_PASSWORD)}]},
        }, {}

    @classmethod
    def auth_section(cls):
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file), "unknown_users": "reject"}},
                "chain": ["users"], "mechanisms": ["PLAIN", "LOGIN"], "hash_threads": 2,
                "cache_ttl": "0s", "timeout": "10s", "second_factor": {"remember_devices": "0s"}}

    @classmethod
    def start_backend(cls) -> int:
        ds.readable_after_privilege_drop(cls.tls["key"])  # a reload loads the key again, as the run user
        # The log directory belongs to the run user: a reopen after the privilege drop creates
        # the new file there.
        cls.log_dir = cls.tmp / "logs"
        cls.log_dir.mkdir()
        give_to_unprivileged(cls.log_dir)
        cls.log_path = cls.log_dir / "imapgate.log"
        port = super().start_backend()
        give_to_unprivileged(cls.token_file)  # a reload reads the admin token again
        return port

    @classmethod
    def imapgate_config(cls, log_format: str = "json", **overrides) -> str:
        return (super().imapgate_config(**overrides)
                + f"log_format: {log_format}\nlog_file: {json.dumps(str(cls.log_path))}\n")

    # -- helpers -------------------------------------------------------------------------------
    def log_files(self) -> List[Path]:
        return sorted(self.log_dir.iterdir())

    def records(self, path: Optional[Path] = None) -> List[Dict]:
        """Every line of `path` (default: the current log file) parsed strictly."""
        path = path or self.log_path
        out = []
        for n, line in enumerate(path.read_text(errors="strict").splitlines(), 1):
            try:
                out.append(strict_json(line))
            except ValueError as e:
                self.fail(f"{path}:{n}: not a strict JSON object: {e}")
        return out

    def wait_record(self, pred, path: Optional[Path] = None, timeout: float = 10, count: int = 1) -> List[Dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.records(path) if pred(r)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def session_of(self, c, path: Optional[Path] = None) -> str:
        """The sid of client `c`'s session (its session_start names the client's port)."""
        port = c.sock.getsockname()[1]
        found = self.wait_record(lambda r: r["event"] == "session_start" and r.get("client") == f"127.0.0.1:{port}",
                                 path)
        self.assertEqual(len(found), 1, f"session_start of client port {port}")
        return found[0]["sid"]

    def logged_in(self, user: str, secret: str):
        c, lines, _ = self.try_login(user, secret)
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        return c

    def logout(self, c) -> None:
        """LOGOUT, then wait for the server to close: the session ends as `logout` (closing at
        once would race the backend's close and end it as `closed`)."""
        c.command("z", "LOGOUT")
        _, closed = c.read_until_close(20)
        self.assertTrue(closed, "the server did not close after LOGOUT")
        c.close()

    def ended(self, sid: str, path: Optional[Path] = None) -> Dict:
        found = self.wait_record(lambda r: r["event"] == "session_end" and r.get("sid") == sid, path)
        self.assertEqual(len(found), 1, f"session_end of {sid}")
        return found[0]

    # -- (a) rotation ----------------------------------------------------------------------------
    def test_a_sigusr1_reopens_after_a_rename_and_loses_nothing(self):
        before = self.logged_in(ALICE, PW[ALICE])
        sid_before = self.session_of(before)
        self.logout(before)
        self.ended(sid_before)
        spanning = self.logged_in(ALICE, PW[ALICE])
        sid_spanning = self.session_of(spanning)

        rotated = self.log_dir / "imapgate.log.1"
        os.rename(self.log_path, rotated)
        os.kill(self.gate.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.log_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(self.log_path.exists(), "no new log file after SIGUSR1")
        reopened = self.wait_record(lambda r: r["event"] == "log_reopened")
        self.assertEqual(len(reopened), 1, "log_reopened in the new file")
        self.assertEqual(reopened[0]["file"], str(self.log_path))

        self.logout(spanning)
        after = self.logged_in(ALICE, PW[ALICE])
        sid_after = self.session_of(after)
        self.logout(after)
        self.ended(sid_after)
        self.ended(sid_spanning)

        old, new = self.records(rotated), self.records()
        def events(recs, sid):
            return [r["event"] for r in recs if r.get("sid") == sid]
        self.assertEqual(events(old, sid_before), ["session_start", "login_ok", "session_end"])
        self.assertEqual(events(new, sid_before), [])
        self.assertEqual(events(old, sid_spanning), ["session_start", "login_ok"])
        self.assertEqual(events(new, sid_spanning), ["session_end"])
        self.assertEqual(events(old, sid_after), [])
        self.assertEqual(events(new, sid_after), ["session_start", "login_ok", "session_end"])
        self.assertNotIn("log_reopened", [r["event"] for r in old])
        self.assertEqual(self.gate_log().count("session_start"), 0, "a line went to stderr")
        if os.geteuid() == 0:  # the new file was made by the run user, mode 0640
            st = self.log_path.stat()
            self.assertEqual(st.st_mode & 0o777, 0o640)

    # -- (b) JSON ----------------------------------------------------------------------------------
    def test_b_every_line_is_strict_json_and_a_session_shares_one_sid(self):
        c = self.logged_in(DAVE, self.used(APP_PASSWORD))
        sid = self.session_of(c)
        c.command("n", "NOOP")
        self.logout(c)
        self.ended(sid)
        for path in self.log_files():
            for r in self.records(path):
                self.assertTrue(TS_RE.match(r.get("ts", "")), r)
                self.assertIn(r.get("level"), ("debug", "info", "warn", "error"), r)
                self.assertIsInstance(r.get("event"), str, r)
                self.assertEqual(list(r)[:3], ["ts", "level", "event"], r)
                ts = datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                self.assertLess(abs((datetime.datetime.utcnow() - ts).total_seconds()), 3600)
        mine = [r for r in self.records() if r.get("sid") == sid]
        self.assertEqual([r["event"] for r in mine], ["session_start", "login_ok", "session_end"])
        ok = mine[1]
        self.assertEqual(ok["user"], DAVE)
        self.assertEqual(ok["app_password"], "phone")  # the device's name
        self.assertIsInstance(mine[2]["bytes_in"], int)
        self.assertIsInstance(mine[2]["duration_s"], float)

    # -- (d) the lines and their fields ---------------------------------------------------------
    def test_c_session_and_login_lines_carry_their_fields(self):
        c = self.connected()
        client = f"127.0.0.1:{c.sock.getsockname()[1]}"
        sid = self.session_of(c)
        for tag, secret in (("w1", "wrong-" + PW[ALICE]),):
            _, lines, _ = self.try_login(ALICE, secret, c=c, tag=tag)
            self.assertEqual(tagged_status(lines, tag), b"NO", lines)
        _, lines, _ = self.try_login(DAVE, PW[DAVE] + self.code(TOTP_SECRET), c=c, tag="l2")
        self.assertEqual(tagged_status(lines, "l2"), b"OK", lines)
        self.logout(c)
        end = self.ended(sid)
        mine = [r for r in self.records() if r.get("sid") == sid]
        self.assertEqual([r["event"] for r in mine], ["session_start", "login_failed", "login_ok", "session_end"])
        start, failed, ok = mine[0], mine[1], mine[2]
        self.assertEqual(start["listener"], "imaps")
        self.assertEqual(start["client"], client)
        self.assertEqual(start["tls"], "implicit")
        self.assertEqual(failed["level"], "info")
        self.assertEqual(failed["user"], ALICE)
        self.assertEqual(failed["listener"], "imaps")
        self.assertEqual(failed["mechanism"], "LOGIN")
        self.assertTrue(failed["reason"], failed)
        self.assertEqual(ok["user"], DAVE)
        self.assertEqual(ok["shard"], "shard-a")
        self.assertEqual(ok["backend"], "a1")
        self.assertEqual(ok["mechanism"], "LOGIN")
        self.assertRegex(ok["tls"], r"^TLSv1\.[23]$")
        self.assertNotIn("app_password", ok)
        for key in ("listener", "client", "backend", "tls", "bytes_in", "bytes_out", "duration_s", "result"):
            self.assertIn(key, end)
        self.assertEqual(end["result"], "logout")
        self.assertGreater(end["bytes_out"], 0)

    def test_d_starttls_listener_and_wrong_second_factors(self):
        c = self.plain()
        self.assertTrue(c.greeting().startswith(b"* OK"))
        sid = self.session_of(c)
        start = [r for r in self.records() if r.get("sid") == sid][0]
        self.assertEqual(start["tls"], "starttls")
        self.assertEqual(start["listener"], "imap")
        # A wrong TOTP code and a wrong app password: each a login_failed with a reason.
        for secret in (PW[DAVE] + self.used(wrong_code()), "app-dave-phone-" + secrets.token_urlsafe(16)):
            d, lines, _ = self.try_login(DAVE, secret)
            self.assertEqual(tagged_status(lines, "l1"), b"NO", lines)
            dsid = self.session_of(d)
            failed = self.wait_record(lambda r: r["event"] == "login_failed" and r.get("sid") == dsid)
            self.assertEqual(len(failed), 1)
            self.assertEqual(failed[0]["user"], DAVE)
            self.assertTrue(failed[0]["reason"])
        type(self).codes_used.add(wrong_code())  # (one more random code: must not appear either)

    def test_e_reloads_log_ok_and_failed_with_the_reason(self):
        original = self.config_path.read_text()
        os.kill(self.gate.pid, signal.SIGHUP)
        ok = self.wait_record(lambda r: r["event"] == "reload_ok")
        self.assertGreaterEqual(len(ok), 1)
        self.assertEqual(ok[-1]["trigger"], "sighup")
        self.assertEqual(ok[-1]["file"], str(self.config_path))
        broken = original.replace("log_format: json", "log_format: xml")
        self.assertNotEqual(broken, original)
        self.config_path.write_text(broken)
        try:
            os.kill(self.gate.pid, signal.SIGHUP)
            failed = self.wait_record(lambda r: r["event"] == "reload_failed")
            self.assertEqual(len(failed), 1)
            self.assertEqual(failed[0]["level"], "error")
            self.assertRegex(failed[0]["error"],
                             re.escape(str(self.config_path)) + r":\d+:\d+: log_format: expected logfmt or json, got 'xml'")
        finally:
            self.config_path.write_text(original)
        os.kill(self.gate.pid, signal.SIGHUP)
        self.assertEqual(len(self.wait_record(lambda r: r["event"] == "reload_ok", count=len(ok) + 1)), len(ok) + 1)

    def test_f_drain_and_undrain_log_backend_state(self):
        def post(path):
            status, body, _ = self.admin_request("POST", path, token=self.admin_token, body=b"{}")
            self.assertEqual(status, 200, body[:200])
        post("/api/v1/backends/a1/drain")
        try:
            drained = self.wait_record(lambda r: r["event"] == "backend_state" and r.get("to") == "draining")
            self.assertEqual(len(drained), 1)
            self.assertEqual((drained[0]["backend"], drained[0]["shard"], drained[0]["from"], drained[0]["via"]),
                             ("a1", "shard-a", "up", "operator"))
        finally:
            post("/api/v1/backends/a1/undrain")
        back = self.wait_record(lambda r: r["event"] == "backend_state" and r.get("from") == "draining")
        self.assertEqual(len(back), 1)
        self.assertEqual((back[0]["backend"], back[0]["to"]), ("a1", "up"))

    def test_y_killed_backend_logs_backend_state_down(self):
        self.backends["b1"].stop(use_doveadm=False)
        down = self.wait_record(lambda r: r["event"] == "backend_state" and r.get("backend") == "b1", timeout=15)
        self.assertEqual(len(down), 1, "backend_state of b1")
        r = down[0]
        self.assertEqual((r["level"], r["shard"], r["from"], r["to"], r["state"]), ("warn", "shard-b", "up", "down", "down"))
        self.assertEqual(r["via"], "check")
        self.assertTrue(r["reason"], r)

    # -- (c) secrets -------------------------------------------------------------------------------
    def logs_to_search(self) -> Dict[str, str]:
        out = super().logs_to_search()
        for p in self.log_files():
            out[str(p)] = p.read_text(errors="replace")
        return out

    def test_zz_no_secret_in_logs(self):
        self.used(PW[ALICE])
        self.used(PW[DAVE])
        self.used(APP_PASSWORD)
        self.assertGreaterEqual(len(self.log_files()), 1)
        self.assertTrue(any(r["event"] == "login_ok" for p in self.log_files() for r in self.records(p)))
        self.check_no_secrets_in_logs()


class BearerTokenLogTest(AuthGateTestCase):
    BACKEND_USERS = BACKEND_USERS
    SHARDS = [("shard-a", ["a1"])]
    BACKEND_LOGIN = "client"
    AUTH_HTTP = True

    @classmethod
    def auth_section(cls):
        return {"sources": {"nginx": {"type": "http", "url": cls.auth_http.url, "timeout": "2s"}},
                "chain": ["nginx"], "mechanisms": ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"],
                "cache_ttl": "0s", "timeout": "10s"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.auth_http.script(OLLIE, password=TOKEN, methods=("xoauth2", "oauthbearer"),
                             backend_user=OLLIE, backend_pass=BACKEND_USERS[OLLIE])

    def authenticate(self, mechanism: str, token: str) -> bytes:
        self.used(token)
        blob = {"XOAUTH2": f"user={OLLIE}\x01auth=Bearer {token}\x01\x01",
                "OAUTHBEARER": f"n,a={OLLIE},\x01host=localhost\x01auth=Bearer {token}\x01\x01"}[mechanism]
        self.used(blob)
        c = self.connected()
        c.send(f"a1 AUTHENTICATE {mechanism} {base64.b64encode(blob.encode()).decode()}\r\n".encode())
        lines = []
        while True:
            line = c.readline(30)
            lines.append(line)
            if line.startswith(b"+"):
                c.send(b"\r\n")  # a SASL error challenge: the client ends it
            elif line.startswith(b"a1 "):
                return tagged_status(lines, "a1")

    def test_bearer_tokens_right_and_wrong_then_no_token_in_logs(self):
        for mechanism in ("XOAUTH2", "OAUTHBEARER"):
            self.assertEqual(self.authenticate(mechanism, TOKEN), b"OK", mechanism)
            self.assertEqual(self.authenticate(mechanism, "ya29." + secrets.token_urlsafe(32)), b"NO", mechanism)
        self.assertEqual(len(self.wait_for_log(r"event=login_ok .*user=" + re.escape(OLLIE) + r" mechanism=(XOAUTH2|OAUTHBEARER)",
                                               count=2)), 2)
        self.assertEqual(len(self.wait_for_log(r"event=login_failed .*user=" + re.escape(OLLIE), count=2)), 2)
        self.check_no_secrets_in_logs()


if __name__ == "__main__":
    unittest.main()
