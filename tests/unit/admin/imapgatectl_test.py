"""imapgatectl against a stub of the admin API (tests/fixtures/admin_api_stub.py, a fixture).

Checks the client's side only: the requests it sends (method, path, quoting, body, bearer
token), its tables and --json output, and its messages and exit statuses on errors. The real API
answers these requests in the C++ tests, and imapgatectl against a running imapgate is an
integration test.
"""

import json
import os
import pathlib
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[3]
CTL = ROOT / "proxy" / "admin" / "imapgatectl"
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

from admin_api_stub import AdminApiStub  # noqa: E402

TOKEN = "0123456789abcdef0123456789abcdef"

BACKENDS = {"backends": [
    {"name": "a1", "shard": "shard-a", "address": "127.0.0.1:11143", "security": "plaintext",
     "state": "up", "active_sessions": 2,
     "last_check": {"ok": True, "detail": "ok", "at": 1700000000}},
    {"name": "b1", "shard": "shard-b", "address": "127.0.0.1:11145", "security": "starttls",
     "state": "down", "active_sessions": 0, "last_check": None},
]}


class ImapgatectlTest(unittest.TestCase):
    def setUp(self):
        self.stub = AdminApiStub()
        self.port = self.stub.start()
        self.addCleanup(self.stub.stop)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.token_file = os.path.join(self.tmp.name, "admin-token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(self.token_file, stat.S_IRUSR | stat.S_IWUSR)

    def ctl(self, *args, token=False):
        cmd = [sys.executable, str(CTL), "--admin", "http://127.0.0.1:%d" % self.port]
        if token:
            cmd += ["--token-file", self.token_file]
        env = dict(os.environ)
        env.pop("IMAPGATE_TOKEN_FILE", None)
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30,
                              env=env)

    def test_backends_table(self):
        self.stub.reply("GET", "/api/v1/backends", 200, BACKENDS)
        r = self.ctl("backends")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split()[:5], ["NAME", "SHARD", "ADDRESS", "LINK", "STATE"])
        self.assertIn("a1", lines[1])
        self.assertIn("shard-a", lines[1])
        self.assertIn("ok (at 2023-11-14T22:13:20Z)", lines[1])
        self.assertIn("down", lines[2])
        self.assertIn("never", lines[2])
        req = self.stub.requests[-1]
        self.assertEqual((req.method, req.path), ("GET", "/api/v1/backends"))
        self.assertNotIn("Authorization", req.headers)  # reads need no token on loopback

    def test_status_summary(self):
        refusals = [{"at": 1700000000 - i, "listener": "imaps", "reason": "per_address",
                     "client_address": "192.0.2.%d" % i} for i in range(12)]
        self.stub.reply("GET", "/api/v1/status", 200, {
            "version": "9.8.7", "started_at": 1700000000, "config_loaded_at": 1700000100,
            "now": 1700000200, "ready": False, "ready_reason": "shard shard-b: no backend up (b1 down)",
            "draining": False,
            "listeners": [{"name": "imaps", "address": "127.0.0.1:993", "mode": "implicit", "tls": True,
                           "proxy_protocol": False}],
            "shards": [{"name": "shard-a", "backends_up": 1, "backends": [
                           {"name": "a1", "state": "up", "active_sessions": 3}]},
                       {"name": "shard-b", "backends_up": 0, "backends": [
                           {"name": "b1", "state": "down", "active_sessions": 0}]}],
            "counters": {"logins": {"ok": 5, "failed": 2}, "tls_handshakes": {"ok": 9, "failed": 1}},
            "refusals": refusals, "refusals_total": 12, "refusals_capacity": 50})
        r = self.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("imapgate 9.8.7", r.stdout)
        self.assertIn("NOT READY: shard shard-b: no backend up (b1 down)", r.stdout)
        lines = r.stdout.splitlines()
        self.assertTrue(any(l.split()[:4] == ["shard-a", "a1", "up", "3"] for l in lines), r.stdout)
        self.assertTrue(any(l.split()[:3] == ["shard-b", "b1", "down"] for l in lines), r.stdout)
        self.assertIn("5 ok, 2 failed", r.stdout)
        self.assertIn("9 ok, 1 failed", r.stdout)
        self.assertIn("12 since start-up", r.stdout)
        # The newest 10 refusals, not all 12.
        self.assertIn("192.0.2.9", r.stdout)
        self.assertNotIn("192.0.2.10", r.stdout)
        self.assertEqual((self.stub.requests[-1].method, self.stub.requests[-1].path), ("GET", "/api/v1/status"))

    def test_failed_check_shows_its_detail(self):
        failed = json.loads(json.dumps(BACKENDS))
        failed["backends"][0]["last_check"] = {"ok": False, "detail": "connect: refused",
                                               "at": 1700000000}
        self.stub.reply("GET", "/api/v1/backends", 200, failed)
        r = self.ctl("backends")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("FAILED (at 2023-11-14T22:13:20Z): connect: refused", r.stdout)

    def test_json_prints_the_reply(self):
        self.stub.reply("GET", "/api/v1/backends", 200, BACKENDS)
        for args in (["--json", "backends"], ["backends", "--json"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), BACKENDS)

    def test_sessions_with_user_filter(self):
        self.stub.reply("GET", "/api/v1/sessions", 200, {"sessions": [
            {"id": "s1", "user": "alice@demo.test", "client_address": "127.0.0.1:5000",
             "backend": "a1", "started_at": 1700000000, "bytes_from_client": 10,
             "bytes_to_client": 20}], "truncated": True})
        r = self.ctl("sessions", "--user", "alice@demo.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("alice@demo.test", r.stdout)
        self.assertIn("truncated", r.stdout)
        self.assertEqual(self.stub.requests[-1].query, "user=alice%40demo.test")

    def test_route(self):
        self.stub.reply("GET", "/api/v1/route", 200, {
            "user": "bob@demo.test", "shard": "shard-b", "backend": "", "source": "override",
            "reason": "b1 down"})
        r = self.ctl("route", "bob@demo.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("shard:   shard-b", r.stdout)
        self.assertIn("(none available)", r.stdout)
        self.assertIn("override", r.stdout)
        self.assertEqual(self.stub.requests[-1].query, "user=bob%40demo.test")

    def test_drain_sends_token_and_grace(self):
        self.stub.reply("POST", "/api/v1/backends/a1/drain", 200,
                        {"backend": {"name": "a1", "state": "draining"}})
        r = self.ctl("drain", "a1", "--grace", "10", token=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "a1: draining (grace 10 s)\n")
        req = self.stub.requests[-1]
        self.assertEqual(req.headers.get("Authorization"), "Bearer " + TOKEN)
        self.assertEqual(json.loads(req.body), {"grace_seconds": 10})
        self.assertNotIn(TOKEN, r.stdout + r.stderr)

    def test_undrain_kick_reload(self):
        self.stub.reply("POST", "/api/v1/backends/a1/undrain", 200,
                        {"backend": {"name": "a1", "state": "up"}})
        self.stub.reply("POST", "/api/v1/users/alice%40demo.test/kick", 200,
                        {"user": "alice@demo.test", "kicked": 2})
        self.stub.reply("POST", "/api/v1/reload", 200, {"ok": True})
        r = self.ctl("undrain", "a1", token=True)
        self.assertEqual((r.returncode, r.stdout), (0, "a1: up\n"), r.stderr)
        self.assertEqual(json.loads(self.stub.requests[-1].body), {})
        r = self.ctl("kick", "alice@demo.test", token=True)
        self.assertEqual((r.returncode, r.stdout),
                         (0, "kicked 2 session(s) of alice@demo.test\n"), r.stderr)
        r = self.ctl("reload", token=True)
        self.assertEqual((r.returncode, r.stdout), (0, "reloaded\n"), r.stderr)

    def test_move_blocks_unblock_and_counters(self):
        self.stub.reply("POST", "/api/v1/users/carol%40demo.test/move", 200,
                        {"user": "carol@demo.test", "shard": "shard-b", "kicked": 1})
        self.stub.reply("GET", "/api/v1/abuse/blocks", 200, {"blocks": [
            {"scope": "address", "key": "192.0.2.7", "cause": "spraying", "remaining_seconds": 60}],
            "truncated": False})
        self.stub.reply("POST", "/api/v1/abuse/unblock", 200, {"key": "192.0.2.7", "lifted": True})
        self.stub.reply("GET", "/api/v1/abuse/address", 200, {
            "address": "192.0.2.7", "failures": 4, "users_tried": 12,
            "block": {"scope": "address", "key": "192.0.2.7", "cause": "spraying", "remaining_seconds": 60}})
        r = self.ctl("move", "carol@demo.test", "shard-b", token=True)
        self.assertEqual((r.returncode, r.stdout),
                         (0, "moved carol@demo.test to shard-b; kicked 1 session(s) here\n"), r.stderr)
        self.assertEqual(json.loads(self.stub.requests[-1].body), {"shard": "shard-b"})
        r = self.ctl("blocks")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("192.0.2.7", r.stdout)
        self.assertIn("spraying", r.stdout)
        r = self.ctl("unblock", "192.0.2.7", token=True)
        self.assertEqual((r.returncode, r.stdout), (0, "192.0.2.7: lifted\n"), r.stderr)
        self.assertEqual(json.loads(self.stub.requests[-1].body), {"key": "192.0.2.7"})
        r = self.ctl("abuse", "--address", "192.0.2.7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stub.requests[-1].path, "/api/v1/abuse/address")
        self.assertIn("users_tried: 12", r.stdout)
        self.assertIn("block:       address 192.0.2.7 (spraying, 60 s left)", r.stdout)
        self.assertNotEqual(self.ctl("abuse").returncode, 0)

    def test_names_are_quoted_into_one_segment(self):
        self.ctl("drain", "a/../b", token=True)
        self.assertEqual(self.stub.requests[-1].path, "/api/v1/backends/a%2F..%2Fb/drain")

    def test_401_names_the_token_file(self):
        self.stub.reply("POST", "/api/v1/reload", 401, {"error": "invalid token"})
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad or missing token (--token-file)", r.stderr)
        self.assertIn("invalid token", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_http_errors_exit_non_zero_with_the_servers_message(self):
        self.stub.reply("POST", "/api/v1/backends/zz/drain", 404,
                        {"error": "no backend named zz"})
        r = self.ctl("drain", "zz", token=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 404: no backend named zz", r.stderr)
        self.stub.reply("POST", "/api/v1/reload", 422, {"error": "a.yaml:3:7: unknown shard"})
        r = self.ctl("reload", token=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused: a.yaml:3:7: unknown shard", r.stderr)
        self.stub.reply("POST", "/api/v1/reload", 413, b"<HTML>too large</HTML>", "text/html")
        r = self.ctl("reload", token=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("request too large", r.stderr)

    def test_control_characters_from_the_server_are_escaped(self):
        self.stub.reply("POST", "/api/v1/backends/x/drain", 404, {"error": "bad\x1b[31mred\n"})
        r = self.ctl("drain", "x", token=True)
        self.assertNotIn("\x1b", r.stderr)
        self.assertIn("\\x1b[31mred\\n", r.stderr)

    def test_unreachable_is_exit_2(self):
        self.stub.stop()
        r = self.ctl("backends")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot reach the admin API", r.stderr)

    def test_missing_token_file_is_exit_2(self):
        r = subprocess.run([sys.executable, str(CTL), "--admin", "http://127.0.0.1:%d" % self.port,
                            "--token-file", os.path.join(self.tmp.name, "absent"), "reload"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read token file", r.stderr)
        self.assertEqual(self.stub.requests, [])

    def test_non_json_reply_is_an_error(self):
        self.stub.reply("GET", "/api/v1/backends", 200, b"not json", "text/plain")
        r = self.ctl("backends")
        self.assertEqual(r.returncode, 2)
        self.assertIn("did not answer JSON", r.stderr)

    def test_bad_grace_is_refused_locally(self):
        r = self.ctl("drain", "a1", "--grace", "-1", token=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(self.stub.requests, [])


if __name__ == "__main__":
    unittest.main()
