"""Issue C: abuse defence on the in-process store, against a real Dovecot with real clients.

imapgate checks the passwords itself here (a users file, issue B), so a wrong password is
answered in milliseconds and the tarpit's delays can be measured exactly (Dovecot answers a failed
login only at its next 500 ms failure flush, which would blur them); the backend login then goes
to Dovecot as the master user.

Each test is its own set of client addresses (127.0.0.0/8 is all local on Linux: the harness
connects from a chosen source address) and users, so the tests share one imapgate per class
without seeing each other's windows. Every limit is asserted on the client's wire (tarpit delays
measured from LOGIN to its answer, `* BYE` at connect, NO [UNAVAILABLE] / NO [LIMIT]) and on the
metrics and admin API.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import unittest
from typing import Dict, List, Optional, Tuple

import harness as h

# libevent may fire a timer up to a millisecond or so early (epoll's millisecond timeout): a tarpit
# of d seconds is asserted as at least d - TIMER_SLACK.
TIMER_SLACK = 0.02

USERS = {f"user{i}@demo.test": f"user{i}-password" for i in range(1, 9)}
USERS.update(h.USERS)


class AbuseTestCase(h.AuthGateTestCase):
    SHARDS = [("main", ["m1"])]
    BACKEND_USERS = USERS
    HEALTH_CHECKS = {"interval": "5s", "timeout": "2s", "rise": 1, "fall": 3}
    STARTTLS = False
    WORKERS = 2
    # Many failed logins on one connection are fine here: each test counts its own.
    LIMITS = {"max_auth_attempts": 100}
    ABUSE = "\n".join([
        "enabled: true",
        "window: 10m",
        "tarpit_after: 3",
        "tarpit_base: 200ms",
        "tarpit_max: 800ms",
        "block_address_after: 20",
        "block_spraying_after: 10",
        "block_subnet_after: 0",
        "block_for: 1m",
        "user_under_attack_after: 30",
        "connections: { per_address: 4, per_user_address: 2, per_user: 3 }",
    ])

    @classmethod
    def users_entries(cls):
        return {u: {"password": h.crypt_hash(pw, "$6$")} for u, pw in USERS.items()}, {}

    @classmethod
    def auth_section(cls):
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file)}}, "chain": ["users"],
                "cache_ttl": "0s", "second_factor": {"remember_devices": "0s"}}

    def login(self, c, user=h.ALICE, password=h.ALICE_PW, tag="l1"):
        return super().login(c, user, self.used(password), tag)

    def client(self, source: str) -> h.RawClient:
        c = self.implicit(source=source)
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        return c

    def try_login(self, c: h.RawClient, user: str, password: str, tag: str = "l") -> Tuple[bytes, float]:
        """LOGIN; returns the tagged answer's line and how long it took."""
        self.used(password)
        start = time.monotonic()
        lines = c.command(tag, f'LOGIN "{user}" "{password}"', timeout=30)
        return lines[-1].rstrip(b"\r\n"), time.monotonic() - start

    def metrics(self) -> str:
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200)
        return body.decode()

    def blocks(self) -> List[dict]:
        status, _, data = self.admin_request("GET", "/api/v1/abuse/blocks")
        self.assertEqual(status, 200, data)
        return data["blocks"]


class BruteForceTest(AbuseTestCase):
    def test_wrong_passwords_are_tarpitted_then_blocked_while_the_user_logs_in_from_a_known_address(self):
        user, password = "user1@demo.test", USERS["user1@demo.test"]
        home, attacker = "127.0.1.1", "127.0.1.9"
        # user1 succeeded from home before the attack: that address is remembered.
        c = self.client(home)
        self.login(c, user, password)
        c.command("o", "LOGOUT")

        a = self.client(attacker)
        delays = []
        for i in range(20):
            line, took = self.try_login(a, user, f"guess-{i}")
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", line, (i, line))
            delays.append(took)
        # The first three are checked at once; from the fourth on each waits the tarpit,
        # growing (200 ms, 400 ms, 800 ms cap).
        self.assertLess(max(delays[:3]), 0.2, delays)
        self.assertGreaterEqual(delays[3], 0.2 - TIMER_SLACK, delays)
        self.assertGreaterEqual(delays[4], 0.4 - TIMER_SLACK, delays)
        self.assertGreaterEqual(min(delays[5:]), 0.8 - TIMER_SLACK, delays)
        self.assertLess(max(delays), 3.0, delays)

        # The twentieth distinct failure blocked the address: refused at connect and at login.
        self.assertTrue(self.wait_for_log(r"abuse_block .*key=127\.0\.1\.9"))
        line, _ = self.try_login(a, user, password)
        self.assertIn(b"NO [UNAVAILABLE]", line)
        b = self.implicit(source=attacker)
        data = self.assert_bye_and_close(b, what="a blocked address at connect")
        self.assertIn(b"Too many failed logins", data)

        # Meanwhile the user logs in from home at once: no tarpit, no lock-out.
        c = self.client(home)
        _, took = self.try_login(c, user, password)
        self.assertLess(took, 0.5)

        self.assertIn({"scope": "address", "key": attacker, "cause": "address_failures"},
                      [{k: b[k] for k in ("scope", "key", "cause")} for b in self.blocks()])
        m = self.metrics()
        self.assertEqual(h.metric_sum(m, "imapgate_abuse_actions_total", action="block", reason="address_failures"), 1)
        self.assertGreaterEqual(h.metric_sum(m, "imapgate_abuse_actions_total", action="tarpit"), 17)
        self.assertGreaterEqual(h.metric_sum(m, "imapgate_connections_refused_total", reason="blocked"), 1)
        self.assertGreaterEqual(h.metric_sum(m, "imapgate_abuse_blocked_keys", scope="address"), 1)

        # An operator lifts it: the address connects again.
        status, _, data = self.admin_request("POST", "/api/v1/abuse/unblock", token=self.admin_token,
                                             body=json.dumps({"key": attacker}).encode())
        self.assertEqual((status, data.get("lifted")), (200, True), data)
        self.client(attacker)

    def test_a_repeated_stale_password_does_not_escalate(self):
        user, phone = "user2@demo.test", "127.0.2.1"
        c = self.client(phone)
        for i in range(10):
            line, took = self.try_login(c, user, "last-years-password")
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", line)
            self.assertLess(took, 0.2, f"attempt {i} was tarpitted: one stale password counts once")
        status, _, data = self.admin_request("GET", f"/api/v1/abuse/address?address={phone}")
        self.assertEqual(status, 200, data)
        self.assertEqual(data["failures"], 1, data)
        self.assertIsNone(data["block"])
        self.login(c, user, USERS[user], tag="ok")

    def test_spraying_one_address_over_many_users_is_blocked(self):
        sprayer = "127.0.3.1"
        c = self.client(sprayer)
        names = [f"nobody{i}@demo.test" for i in range(5)] + [f"user{i}@demo.test" for i in range(3, 8)]
        answers = set()
        for name in names:
            line, _ = self.try_login(c, name, "Spring2026!")
            # The same answer whether the user exists or not.
            answers.add(line.split(b" ", 1)[1])
        self.assertEqual(answers, {b"NO [AUTHENTICATIONFAILED] Authentication failed"}, answers)
        self.assertTrue(self.wait_for_log(r"abuse_block .*key=127\.0\.3\.1 cause=spraying"))
        b = self.implicit(source=sprayer)
        self.assertIn(b"Too many failed logins", self.assert_bye_and_close(b, what="sprayer"))
        status, _, data = self.admin_request("GET", f"/api/v1/abuse/address?address={sprayer}")
        self.assertEqual((status, data["users_tried"]), (200, 10), data)
        self.assertEqual(data["block"]["cause"], "spraying")


    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class UserUnderAttackTest(AbuseTestCase):
    ABUSE = AbuseTestCase.ABUSE.replace("user_under_attack_after: 30", "user_under_attack_after: 5") \
        .replace("tarpit_after: 3", "tarpit_after: 0")

    def test_a_user_under_attack_is_refused_from_new_addresses_only(self):
        user, password = "user8@demo.test", USERS["user8@demo.test"]
        self.login(self.client("127.0.4.1"), user, password)  # her phone, remembered
        # Five addresses each try one password (low and slow): per-address limits see nothing.
        for i in range(5):
            line, _ = self.try_login(self.client(f"127.0.4.{10 + i}"), user, f"pw{i}")
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", line)
        # A new address, even with the right password, is refused while the attack lasts ...
        line, _ = self.try_login(self.client("127.0.4.50"), user, password)
        self.assertIn(b"NO [UNAVAILABLE]", line)
        # ... the same answer as for a wrong one (nothing says whether the password was right),
        line2, _ = self.try_login(self.client("127.0.4.51"), user, "wrong")
        self.assertEqual(line.split(b" ", 1)[1], line2.split(b" ", 1)[1])
        # ... while her known address logs in.
        self.login(self.client("127.0.4.1"), user, password, tag="k")
        m = self.metrics()
        self.assertGreaterEqual(h.metric_sum(m, "imapgate_abuse_actions_total", action="refuse",
                                             reason="user_under_attack"), 2)
        status, _, data = self.admin_request("GET", f"/api/v1/abuse/user?user={user}")
        self.assertEqual((status, data["failures"]), (200, 5), data)


class SubnetBlockTest(AbuseTestCase):
    ABUSE = AbuseTestCase.ABUSE.replace("block_subnet_after: 0", "block_subnet_after: 5")

    def test_failures_spread_over_a_subnet_block_the_subnet(self):
        for i in range(5):  # one failure each from five addresses of 127.0.19.0/24
            line, _ = self.try_login(self.client(f"127.0.19.{i + 1}"), "user1@demo.test", f"subnet-{i}")
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", line)
        self.assertTrue(self.wait_for_log(r"abuse_block scope=subnet key=127\.0\.19\.0/24 cause=subnet_failures"))
        data = self.assert_bye_and_close(self.implicit(source="127.0.19.200"), what="another address of the subnet")
        self.assertIn(b"Too many failed logins", data)
        self.client("127.0.20.1")  # the next subnet is not affected
        self.assertIn({"scope": "subnet", "key": "127.0.19.0/24", "cause": "subnet_failures"},
                      [{k: b[k] for k in ("scope", "key", "cause")} for b in self.blocks()])
        self.assertEqual(h.metric_sum(self.metrics(), "imapgate_abuse_blocked_keys", scope="subnet"), 1)


class TotalConnectionsTest(AbuseTestCase):
    TRUSTED = "127.0.22.0/24"  # a webmail's addresses: not limited per address, yet in the total
    ABUSE = (AbuseTestCase.ABUSE.replace("per_user: 3 }", "per_user: 3, total: 3 }")
             + f"\ntrusted_networks: [{TRUSTED}]")

    def test_a_trusted_peers_connections_count_towards_the_total(self):
        held = [self.client("127.0.22.1") for _ in range(3)]  # the whole total, from a trusted peer
        data = self.assert_bye_and_close(self.implicit(source="127.0.23.1"), what="a connection past the total")
        self.assertIn(b"* BYE Too many connections", data)
        data = self.assert_bye_and_close(self.implicit(source="127.0.22.2"), what="a trusted one past the total")
        self.assertIn(b"* BYE Too many connections", data)
        for c in held:
            c.close()
        self.wait_no_sessions()  # the slots come back as the server sees the closes
        self.client("127.0.23.1").close()
        self.wait_no_sessions()

    def wait_no_sessions(self) -> None:
        deadline = time.monotonic() + 10
        while h.metric_sum(self.metrics(), "imapgate_sessions_active") > 0:
            self.assertLess(time.monotonic(), deadline, "sessions still open 10 s after their clients closed")
            time.sleep(0.1)

    def test_logged_in_sessions_count_towards_the_total(self):
        self.login(self.client("127.0.21.1"), "user5@demo.test", USERS["user5@demo.test"])
        self.login(self.client("127.0.21.2"), "user6@demo.test", USERS["user6@demo.test"])
        self.client("127.0.21.3")
        data = self.assert_bye_and_close(self.implicit(source="127.0.21.4"), what="a fourth connection")
        self.assertIn(b"* BYE Too many connections", data)
        self.assertGreaterEqual(h.metric_sum(self.metrics(), "imapgate_connections_refused_total", reason="total"), 1)


class ConnectionLimitsTest(AbuseTestCase):
    def test_connections_per_address_before_login(self):
        src = "127.0.5.1"
        held = [self.client(src) for _ in range(4)]
        extra = self.implicit(source=src)
        data = self.assert_bye_and_close(extra, what="fifth connection")
        self.assertIn(b"* BYE Too many connections", data)
        # Another address is not affected; a login frees its slot.
        self.client("127.0.5.2")
        self.login(held[0], "user3@demo.test", USERS["user3@demo.test"])
        self.client(src)
        self.assertGreaterEqual(h.metric_sum(self.metrics(), "imapgate_connections_refused_total",
                                             reason="per_address"), 1)

    def test_sessions_per_user_and_per_user_address(self):
        user, password = "user4@demo.test", USERS["user4@demo.test"]
        s1 = self.client("127.0.6.1")
        self.login(s1, user, password)
        s2 = self.client("127.0.6.1")
        self.login(s2, user, password)
        s3 = self.client("127.0.6.1")
        line, _ = self.try_login(s3, user, password)
        self.assertIn(b"NO [LIMIT]", line)
        self.assertIn(b"from your address", line)
        s4 = self.client("127.0.6.2")
        self.login(s4, user, password)
        s5 = self.client("127.0.6.3")
        line, _ = self.try_login(s5, user, password)
        self.assertIn(b"NO [LIMIT] Too many sessions for this user", line)
        # The session still works for another login after a refusal; a logout frees a slot.
        s1.command("o", "LOGOUT")
        deadline = time.monotonic() + 5
        while True:
            line, _ = self.try_login(s5, user, password, tag="again")
            if b"OK" in line.split(b" ", 2)[1] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIn(b"again OK", line)
        m = self.metrics()
        self.assertGreaterEqual(h.metric_sum(m, "imapgate_connections_refused_total", reason="per_user"), 1)
        self.assertGreaterEqual(h.metric_sum(m, "imapgate_connections_refused_total", reason="per_user_address"), 1)


    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class _PolicyHandler(h._FixtureHandler):
    def do_POST(self):
        svc: "PolicyServerFixture" = self.server.owner
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        body = json.loads(raw or b"{}")
        command = h.urllib.parse.parse_qs(h.urllib.parse.urlsplit(self.path).query).get("command", [""])[0]
        with svc.lock:
            svc.requests.append({"command": command, "body": body, "raw": raw, "user": body.get("login")})
            answer = svc.answers.get(body.get("login"), {"status": 0, "msg": "ok"})
        self.reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode())


class PolicyServerFixture(h._FixtureService):
    """A fixture standing in for weakforced (not packaged for Debian here): a Dovecot auth_policy
    server answering per login name ({"status": N, "msg": ...}; default allow) and recording
    every request (command, JSON body)."""

    handler_class = _PolicyHandler

    def __init__(self):
        super().__init__()
        self.answers: Dict[str, Dict] = {}


class TrustListsAndPolicyHookTest(AbuseTestCase):
    """Trusted networks, the blocklist (and its reload), the accept rate, and the auth_policy
    hook (a fixture server), on one imapgate."""

    WEBMAIL = "127.0.13.1"
    policy: PolicyServerFixture

    @classmethod
    def setUpClass(cls):
        cls.policy = PolicyServerFixture().start()
        cls.policy.answers["user1@demo.test"] = {"status": -1, "msg": "known bad"}
        cls.policy.answers["user2@demo.test"] = {"status": 1, "msg": "slow down"}
        nonce_dir = h.Path(h.tempfile.mkdtemp(prefix="imapgate-it-policy-"))
        nonce_dir.chmod(0o755)  # a reload reads the nonce again after the privilege drop
        cls.nonce_file = nonce_dir / "nonce"
        h.write_secret_file(cls.nonce_file, secrets.token_urlsafe(24))
        h.give_to_unprivileged(cls.nonce_file)
        cls.BLOCKLIST = "[127.0.14.0/24]"
        try:
            super().setUpClass()
        except BaseException:
            cls.policy.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.policy.stop()

    @classmethod
    def imapgate_config(cls, **overrides):
        abuse = AbuseTestCase.ABUSE.replace("connections: { per_address: 4, per_user_address: 2, per_user: 3 }",
                                            "connections: { per_address: 4, per_user_address: 2, per_user: 3, "
                                            "accepts_per_minute: 5 }")
        abuse += "\n" + "\n".join([
            f"trusted_networks: [{cls.WEBMAIL}]",
            f"blocklist: {cls.BLOCKLIST}",
            f'policy_hook: {{ url: "http://127.0.0.1:{cls.policy.port}/policy", nonce_file: {cls.nonce_file}, '
            'timeout: 1s, max_delay: 2s }',
        ])
        return super().imapgate_config(abuse=abuse, **overrides)

    def test_a_trusted_peer_is_not_limited_and_the_address_it_forwards_is_counted(self):
        user = "user3@demo.test"
        c = self.client(self.WEBMAIL)
        lines = c.command("i", 'ID ("name" "webmail" "x-originating-ip" "127.0.15.7")')
        self.assertIn(b"i OK", lines[-1])
        for i in range(6):
            line, took = self.try_login(c, user, f"webmail-wrong-{i}")
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", line)
        # The forwarded address was counted (and tarpitted), the webmail server not at all.
        status, _, data = self.admin_request("GET", "/api/v1/abuse/address?address=127.0.15.7")
        self.assertEqual((status, data["failures"]), (200, 6), data)
        status, _, data = self.admin_request("GET", f"/api/v1/abuse/address?address={self.WEBMAIL}")
        self.assertEqual(data["failures"], 0, data)
        # Many connections from the webmail server: no per-address limit for it.
        held = [self.client(self.WEBMAIL) for _ in range(6)]
        self.assertEqual(len(held), 6)

    def test_a_blocklisted_address_is_refused_at_connect_and_a_reload_lifts_it(self):
        data = self.assert_bye_and_close(self.implicit(source="127.0.14.9"), what="blocklisted")
        self.assertIn(b"* BYE Access denied", data)
        type(self).BLOCKLIST = "[]"
        h.ds.readable_after_privilege_drop(self.tls["key"], self.token_file)  # a reload reads them again
        self.write_config()
        self.reload()
        deadline = time.monotonic() + 10
        while True:
            c = h.RawClient.connect(self.implicit_port, tls=True, ctx=self.client_ctx(), source="127.0.14.9")
            self.addCleanup(c.close)
            if c.readline().startswith(b"* OK") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.login(c, "user3@demo.test", USERS["user3@demo.test"])

    def test_the_accept_rate_per_address(self):
        src = "127.0.16.1"
        for _ in range(5):
            c = self.client(src)
            c.close()
        data = self.assert_bye_and_close(self.implicit(source=src), what="sixth connection within a minute")
        self.assertIn(b"Too many connections", data)
        self.client("127.0.16.2")
        self.assertGreaterEqual(h.metric_sum(self.metrics(), "imapgate_connections_refused_total",
                                             reason="accept_rate"), 1)

    def test_the_policy_hook_allows_rejects_delays_and_is_told_the_result(self):
        # allow, and the report after
        c = self.client("127.0.17.1")
        self.login(c, "user4@demo.test", USERS["user4@demo.test"])
        # reject: refused before the password is checked, whatever it is
        line, _ = self.try_login(self.client("127.0.17.2"), "user1@demo.test", USERS["user1@demo.test"])
        self.assertIn(b"NO [UNAVAILABLE] Login refused by policy", line)
        # delay: 1 s before the check
        line, took = self.try_login(self.client("127.0.17.3"), "user2@demo.test", USERS["user2@demo.test"])
        self.assertIn(b"OK", line)
        self.assertGreaterEqual(took, 1.0 - TIMER_SLACK)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self.policy.lock:
                reports = [r for r in self.policy.requests if r["command"] == "report"]
            if len(reports) >= 3:
                break
            time.sleep(0.1)
        with self.policy.lock:
            requests = list(self.policy.requests)
        by = {(r["command"], r["user"]): r["body"] for r in requests}
        allow = by[("allow", "user4@demo.test")]
        self.assertEqual(allow["remote"], "127.0.17.1")
        self.assertEqual(allow["protocol"], "imap")
        self.assertTrue(allow["tls"])
        self.assertEqual(len(allow["pwhash"]), 4)  # 12 bits, as Dovecot sends them
        self.assertIs(by[("report", "user4@demo.test")]["success"], True)
        rejected = by[("report", "user1@demo.test")]
        self.assertIs(rejected["success"], False)
        self.assertIs(rejected["policy_reject"], True)
        for r in requests:  # never a password in what the hook sees
            for pw in USERS.values():
                self.assertNotIn(pw.encode(), r["raw"])
        m = self.metrics()
        for result in ("allow", "reject", "delay"):
            self.assertGreaterEqual(h.metric_sum(m, "imapgate_abuse_policy_hook_total", result=result), 1, result)

    def test_the_policy_hook_down_fails_open_and_is_counted(self):
        self.policy.down()
        try:
            c = self.client("127.0.18.1")
            line, _ = self.try_login(c, "user5@demo.test", USERS["user5@demo.test"])
            self.assertIn(b"OK", line)
            self.assertGreaterEqual(h.metric_sum(self.metrics(), "imapgate_abuse_policy_hook_total", result="failed"), 1)
        finally:
            self.policy.up()

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


if __name__ == "__main__":
    unittest.main()
