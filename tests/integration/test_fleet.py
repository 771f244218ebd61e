"""Issue C, point 5: two imapgate instances share one abuse state through a real redis-server.

Both instances front the same Dovecot and users file (imapgate checks passwords itself, so a
failure is answered at once); `abuse.store: redis` with one key file. Asserted on the wire and on
/metrics: failures counted through one instance tarpit and block on the other; an operator's kick
on one ends the user's session on the other; with redis-server killed, logins go on (fail-open,
counted) and memory does not grow; once it is back, sharing resumes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import unittest

import harness as h
from harness import ds
from test_abuse import TIMER_SLACK, USERS, AbuseTestCase


class FleetTest(AbuseTestCase):
    ABUSE_BASE = AbuseTestCase.ABUSE
    SHARDS = [("main", ["m1"]), ("other", ["o1"])]

    @classmethod
    def setUpClass(cls):
        cls.redis = None
        cls.second = None
        root = h.Path(h.tempfile.mkdtemp(prefix="imapgate-it-redis-"))
        cls.redis = ds.Redis(root).start()
        cls.key_file = root / "abuse-key"
        h.write_secret_file(cls.key_file, secrets.token_urlsafe(32))
        h.give_to_unprivileged(cls.key_file)
        cls.ABUSE = cls.ABUSE_BASE + "\n" + "\n".join([
            "store: redis",
            f'redis: {{ address: "127.0.0.1:{cls.redis.port}", timeout: 200ms }}',
            f"key_file: {cls.key_file}",
        ])
        try:
            super().setUpClass()
            # The second instance: the same config on its own ports.
            cls.second_implicit = ds.free_port()
            cls.second_admin = ds.free_port()
            conf = cls.tmp / "imapgate-2.yaml"
            conf.write_text(cls.imapgate_config(implicit_port=cls.second_implicit, admin_port=cls.second_admin))
            cls.second = ds.ImapGate(cls.binary, conf, cls.tmp / "imapgate-2.stderr",
                                     ports=(cls.second_implicit, cls.second_admin)).start()
        except BaseException:
            cls._stop_extra()
            raise

    @classmethod
    def _stop_extra(cls):
        if cls.second is not None:
            cls.second.stop()
            cls.second = None
        if cls.redis is not None:
            cls.redis.stop()
            cls.redis = None

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.second is not None:
                text = cls.second.stderr()
                cls.second.stop()
                cls.second = None
                bad = h.SANITIZER_RE.search(text)
                assert bad is None, f"second imapgate: sanitizer report: {text[bad.start():bad.start() + 2000]}"
        finally:
            cls._stop_extra()
            super().tearDownClass()

    def client2(self, source: str) -> h.RawClient:
        c = h.RawClient.connect(self.second_implicit, tls=True, ctx=self.client_ctx(), source=source)
        self.addCleanup(c.close)
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        return c

    def metrics2(self) -> str:
        status, body, _ = h.admin_request(self.second_admin, "GET", "/metrics")
        self.assertEqual(status, 200)
        return body.decode()

    def test_1_one_window_for_the_fleet_and_blocks_reach_every_instance(self):
        user, attacker = "user5@demo.test", "127.0.7.9"
        # Three failures through instance 1, then the fourth through instance 2 is tarpitted.
        a1 = self.client(attacker)
        for i in range(3):
            line, took = self.try_login(a1, user, f"fleet-guess-{i}")
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", line)
            self.assertLess(took, 0.2)
        a2 = self.client2(attacker)
        line, took = self.try_login(a2, user, "fleet-guess-3")
        self.assertIn(b"NO [AUTHENTICATIONFAILED]", line)
        self.assertGreaterEqual(took, 0.2 - TIMER_SLACK, "instance 2 did not see instance 1's failures")
        # Up to the block, alternating instances; the block set by one refuses at the other's door.
        for i in range(4, 20):
            c = a1 if i % 2 == 0 else a2
            self.try_login(c, user, f"fleet-guess-{i}")
        deadline = time.monotonic() + 5
        while True:
            b = h.RawClient.connect(self.second_implicit, tls=True, ctx=self.client_ctx(), source=attacker)
            self.addCleanup(b.close)
            first = b.readline()
            if first.startswith(b"* BYE") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertTrue(first.startswith(b"* BYE Too many failed logins"), first)
        b = self.implicit(source=attacker)
        self.assertIn(b"Too many failed logins", self.assert_bye_and_close(b, what="instance 1"))
        self.assertGreaterEqual(h.metric_sum(self.metrics2(), "imapgate_abuse_blocked_keys", scope="address"), 1)

    def test_2_a_kick_on_one_instance_ends_the_session_on_the_other(self):
        user, password = "user6@demo.test", USERS["user6@demo.test"]
        c = self.client2("127.0.8.1")
        self.login(c, user, password)
        c.command("s", "SELECT INBOX")
        status, _, data = self.admin_request("POST", f"/api/v1/users/{user}/kick", token=self.admin_token)
        self.assertEqual(status, 200, data)
        data = self.assert_bye_and_close(c, what="the session on instance 2")
        self.assertIn(b"Disconnected by the administrator", data)
        # The worker logs the kick after sending the BYE: the line may come a moment after the close.
        deadline = time.monotonic() + 10
        while not re.search(r"event=fleet_kick .*user=user6@demo\.test", self.second.stderr()):
            self.assertLess(time.monotonic(), deadline, "no fleet_kick line on instance 2")
            time.sleep(0.1)

    def test_3_redis_outage_fails_open_and_sharing_resumes(self):
        user, password = "user7@demo.test", USERS["user7@demo.test"]
        self.redis.kill()
        try:
            before = h.metric_sum(self.metrics(), "imapgate_abuse_fail_open_total")
            for i in range(5):
                c = self.client("127.0.9.1")
                line, took = self.try_login(c, user, password)
                self.assertIn(b"OK", line)
                self.assertLess(took, 2.0)
                c.command("o", "LOGOUT")
            after = h.metric_sum(self.metrics(), "imapgate_abuse_fail_open_total")
            self.assertGreaterEqual(after - before, 5)
            self.assertGreaterEqual(h.metric_sum(self.metrics(), "imapgate_abuse_store_errors_total", store="redis"), 5)
        finally:
            self.redis.start()
        # Back: the instances reconnect (backoff up to 5 s) and count together again.
        attacker = "127.0.9.9"
        deadline = time.monotonic() + 20
        shared = False
        n = 0
        while time.monotonic() < deadline and not shared:
            a1 = self.client(attacker)
            for i in range(3):
                self.try_login(a1, user, f"after-outage-{n}-{i}")
            a2 = self.client2(attacker)
            _, took = self.try_login(a2, user, f"after-outage-{n}-x")
            shared = took >= 0.2 - TIMER_SLACK
            n += 1
            if not shared:
                time.sleep(1)
        self.assertTrue(shared, "instance 2 never saw instance 1's failures after Redis came back")

    def test_4_a_move_on_one_instance_reaches_the_other(self):
        user, password = "user3@demo.test", USERS["user3@demo.test"]
        status, _, route = h.admin_request(self.second_admin, "GET", f"/api/v1/route?user={user}")
        self.assertEqual(status, 200, route)
        target = "other" if route["shard"] == "main" else "main"
        c = self.client2("127.0.10.1")
        self.login(c, user, password)
        # The operator moves the user through instance 1 ...
        status, _, data = self.admin_request("POST", f"/api/v1/users/{user}/move", token=self.admin_token,
                                             body=json.dumps({"shard": target}).encode())
        self.assertEqual(status, 200, data)
        # ... the session on instance 2 ends, and its next login goes to the new shard.
        self.assertIn(b"moving", self.assert_bye_and_close(c, what="the moved user's session on instance 2"))
        status, _, route = h.admin_request(self.second_admin, "GET", f"/api/v1/route?user={user}")
        self.assertEqual((route["shard"], route["source"]), (target, "override"), route)
        backend = "o1" if target == "other" else "m1"
        before = len(self.backends[backend].logins(user))
        c = self.client2("127.0.10.1")
        self.login(c, user, password, tag="l2")
        self.assertGreater(len(self.backends[backend].logins(user)), before)
        # A shard that does not exist is refused.
        status, _, data = self.admin_request("POST", f"/api/v1/users/{user}/move", token=self.admin_token,
                                             body=json.dumps({"shard": "nowhere"}).encode())
        self.assertEqual(status, 404, data)

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


if __name__ == "__main__":
    unittest.main()
