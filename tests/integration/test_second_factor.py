"""Second factors inside imapgate (issue B) with real Dovecots behind (backend_login master):
TOTP appended to the password, app passwords, remembered devices and the push-approval hook.

* TotpTest (remember_devices 0s): password+code logs in; the same code is refused on a new
  connection (replay), so is the password alone or with a wrong code, all with the same NO
  [AUTHENTICATIONFAILED] as a wrong password; an app password logs in without a code; removing
  an app password from the users file ends that device's session with * BYE within seconds while
  another device's session goes on; imapgate_second_factor_total moves; no secret in any log.
* RememberDevicesTest (remember_devices 12h): after one password+code, a second connection from
  the same client IP with the password and the old code (or any 6 digits) logs in.
* PushTest (workers 1): a hook that approves after ~2 s (answering "pending" first) while another
  session on the same worker keeps answering NOOPs promptly; a hook that never answers gives NO
  [UNAVAILABLE] after push.timeout; a denial gives NO [AUTHENTICATIONFAILED]; a wrong password
  never reaches the hook; the hook's JSON carries the session's facts.

The push and TOTP services are test fixtures (harness.PushHookService) standing in for a site's
own push service.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
import time
import unittest

from harness import (AuthGateTestCase, crypt_hash, sha256_app_hash, tagged_status, totp,
                     write_users_file)

CAROL, CATHY, DAVE, FRANK = "carol@demo.test", "cathy@demo.test", "dave@demo.test", "frank@demo.test"
ALICE = "alice@demo.test"
PIA, DAN, NORA = "pia@demo.test", "dan@demo.test", "nora@example.com"
ALL = (ALICE, CAROL, CATHY, DAVE, FRANK, PIA, DAN, NORA)
BACKEND_USERS = {u: f"{u.split('@')[0]}-dovecot-{secrets.token_hex(4)}" for u in ALL}
PW = {u: f"{u.split('@')[0]}-gate-{secrets.token_urlsafe(12)}" for u in ALL}
SECRET = {u: base64.b32encode(os.urandom(20)).decode().rstrip("=") for u in ALL}
APP = {name: f"app-{name}-{secrets.token_urlsafe(16)}" for name in ("dave-phone", "frank-phone", "frank-tablet")}


def wrong_code(secret: str) -> str:
    """Six digits that are not the code of the previous, current or next step."""
    now = time.time()
    near = {totp(secret, now + d) for d in (-60, -30, 0, 30, 60)}
    while True:
        c = f"{secrets.randbelow(10 ** 6):06d}"
        if c not in near:
            return c


class SecondFactorBase(AuthGateTestCase):
    BACKEND_USERS = BACKEND_USERS
    REMEMBER = "0s"
    PUSH_CONF = None

    @classmethod
    def users_entries(cls):
        return cls.entries(), {"example.com": {"second_factor": "push"}}

    @classmethod
    def entries(cls, frank_apps=("phone", "tablet")):
        if not hasattr(cls, "_hashes"):
            cls._hashes = {u: crypt_hash(PW[u]) for u in ALL}
            cls._app_hashes = {k: sha256_app_hash(v) for k, v in APP.items()}
        h, ah = cls._hashes, cls._app_hashes
        users = {
            ALICE: {"password": h[ALICE]},
            CAROL: {"password": h[CAROL], "totp": SECRET[CAROL], "second_factor": "totp"},
            CATHY: {"password": h[CATHY], "totp": SECRET[CATHY], "second_factor": "totp"},
            DAVE: {"password": h[DAVE], "totp": SECRET[DAVE], "second_factor": "totp",
                   "app_passwords": [{"name": "phone", "hash": ah["dave-phone"]}]},
            FRANK: {"password": h[FRANK], "totp": SECRET[FRANK], "second_factor": "totp",
                    "app_passwords": [{"name": n, "hash": ah[f"frank-{n}"]} for n in frank_apps]},
            PIA: {"password": h[PIA], "second_factor": "push"},
            DAN: {"password": h[DAN], "second_factor": "push"},
            NORA: {"password": h[NORA]},    # push from the example.com domain policy
        }
        return users

    @classmethod
    def auth_section(cls):
        sf = {"remember_devices": cls.REMEMBER}
        if cls.PUSH_CONF is not None:
            sf["push"] = dict(cls.PUSH_CONF, url=cls.push.url)
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file), "unknown_users": "reject"}},
                "chain": ["users"], "mechanisms": ["PLAIN", "LOGIN"], "hash_threads": 2,
                # the auth cache on: a replayed code must be refused even when the password
                # check itself comes from the cache (Dovecot CVE-2026-27855 was that mistake)
                "cache_ttl": "5m", "timeout": "10s", "second_factor": sf}

    def factor(self, kind: str, result: str) -> float:
        return self.metric("imapgate_second_factor_total", kind=kind, result=result)

    def assert_ok(self, lines, what=""):
        self.assertEqual(tagged_status(lines, "l1"), b"OK", (what, lines))

    def wrong_password_answer(self, user: str) -> bytes:
        c, lines, _ = self.try_login(user, "wrong-" + PW[user])
        c.close()
        return self.refusal(lines)


class TotpTest(SecondFactorBase):
    REMEMBER = "0s"

    def test_password_and_code_then_replay_refused(self):
        before = {r: self.factor("totp", r) for r in ("ok", "replayed")}
        code = self.code(SECRET[CAROL])
        c, lines, _ = self.try_login(CAROL, PW[CAROL] + code)
        self.assert_ok(lines, "password+code")
        lines = c.command("s", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        c.close()
        # the same code again, new connection (no remembered device: remember_devices 0s)
        c, lines, _ = self.try_login(CAROL, PW[CAROL] + code)
        replay = self.refusal(lines)
        c.close()
        self.assertIn(b"[AUTHENTICATIONFAILED]", replay)
        self.assertEqual(replay, self.wrong_password_answer(CAROL))
        after = {r: self.factor("totp", r) for r in ("ok", "replayed")}
        self.assertEqual({r: after[r] - before[r] for r in before}, {"ok": 1, "replayed": 1})

    def test_password_alone_or_wrong_code_refused_like_wrong_password(self):
        reference = self.wrong_password_answer(CATHY)
        self.assertIn(b"[AUTHENTICATIONFAILED]", reference)
        fail_before = self.factor("totp", "fail")
        for what, secret in (("password alone", PW[CATHY]),
                             ("password + wrong code", PW[CATHY] + self.code_used(wrong_code(SECRET[CATHY]))),
                             ("right code, wrong password", "x" + PW[CATHY] + self.code(SECRET[CATHY]))):
            c, lines, _ = self.try_login(CATHY, secret)
            self.assertEqual(self.refusal(lines), reference, what)
            c.close()
        self.assertGreaterEqual(self.factor("totp", "fail") - fail_before, 1)
        # the right code still works after those (none of them used it up)
        c, lines, _ = self.try_login(CATHY, PW[CATHY] + self.code(SECRET[CATHY]))
        self.assert_ok(lines, "password + right code")
        c.close()

    def code_used(self, code: str) -> str:
        type(self).codes_used.add(code)
        return code

    def test_app_password_alone_satisfies_second_factor(self):
        before = self.factor("app_password", "ok")
        c, lines, _ = self.try_login(DAVE, APP["dave-phone"])
        self.assert_ok(lines, "app password")
        lines = c.command("s", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        c.close()
        self.assertEqual(self.factor("app_password", "ok") - before, 1)
        # an app password with a code appended is not the app password
        c, lines, _ = self.try_login(DAVE, APP["dave-phone"] + self.code(SECRET[DAVE]))
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()

    def test_removed_app_password_ends_that_devices_session(self):
        phone, _, _ = self.try_login(FRANK, APP["frank-phone"])
        tablet, lines, _ = self.try_login(FRANK, APP["frank-tablet"])
        self.assert_ok(lines, "tablet")
        for c in (phone, tablet):
            lines = c.command("s", "SELECT INBOX")
            self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        self.addCleanup(lambda: write_users_file(self.users_file, self.entries(), {"example.com": {"second_factor": "push"}}))
        t0 = time.monotonic()
        write_users_file(self.users_file, self.entries(frank_apps=("tablet",)),
                         {"example.com": {"second_factor": "push"}})
        self.assert_bye_and_close(phone, timeout=8, what="the removed app password's session")
        took = time.monotonic() - t0
        self.assertLess(took, 6, f"BYE {took:.1f}s after the change")
        # the other device's session goes on
        lines = tablet.command("n", "NOOP")
        self.assertEqual(tagged_status(lines, "n"), b"OK", lines)
        # and the removed app password no longer logs in
        c, lines, _ = self.try_login(FRANK, APP["frank-phone"])
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()
        self.assertTrue(self.wait_for_log(r"event=users_file_reloaded\b.*app_passwords_revoked=1"),
                        "no users_file_reloaded line counting the revoked app password")

    def test_zy_admin_revokes_an_app_password(self):
        # (zy: after the tests that use dave's app password.) Revoked through the admin API: the
        # device's session gets BYE, the app password no longer logs in, the password+code does.
        phone, lines, _ = self.try_login(DAVE, APP["dave-phone"])
        self.assert_ok(lines, "app password")
        status, raw, body = self.admin_request("POST", f"/api/v1/users/{DAVE}/revoke-app-password",
                                               token=self.admin_token, body=b'{"name": "phone"}')
        self.assertEqual(status, 200, raw)
        self.assertEqual(body.get("sessions_ended"), 1, raw)
        self.assert_bye_and_close(phone, timeout=5, what="the revoked app password's session")
        c, lines, _ = self.try_login(DAVE, APP["dave-phone"])
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()
        status, raw, _ = self.admin_request("POST", f"/api/v1/users/{DAVE}/revoke-app-password",
                                            token=self.admin_token, body=b'{"name": "laptop"}')
        self.assertEqual(status, 404, raw)
        self.assertTrue(self.wait_for_log(r"event=app_password_revoked\b.*app_password=phone"))

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class RememberDevicesTest(SecondFactorBase):
    REMEMBER = "12h"

    def test_second_connection_with_old_code_works(self):
        code = self.code(SECRET[CAROL])
        c, lines, _ = self.try_login(CAROL, PW[CAROL] + code)
        self.assert_ok(lines, "first: password+code")
        c.close()
        before = self.factor("remembered", "ok")
        c, lines, _ = self.try_login(CAROL, PW[CAROL] + code)
        self.assert_ok(lines, "second connection: password + the same code")
        c.close()
        # by design any 6 digits pass for a remembered (user, client IP)
        c, lines, _ = self.try_login(CAROL, PW[CAROL] + wrong_code(SECRET[CAROL]))
        self.assert_ok(lines, "third connection: password + other digits")
        c.close()
        self.assertEqual(self.factor("remembered", "ok") - before, 2)
        # the password still has to be right
        c, lines, _ = self.try_login(CAROL, "x" + PW[CAROL] + code)
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()

    def test_remembering_is_per_user(self):
        # cathy has not passed a second factor: her password with wrong digits is refused
        c, lines, _ = self.try_login(CATHY, PW[CATHY] + wrong_code(SECRET[CATHY]))
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class PushTest(SecondFactorBase):
    WORKERS = 1      # the waiting login and the NOOP session share the one worker
    PUSH = True
    PUSH_TIMEOUT = 3.0
    PUSH_CONF = {"timeout": "3s", "poll_interval": "500ms", "request_timeout": "5s"}

    def test_approval_after_pending_while_worker_stays_responsive(self):
        self.push.set(PIA, "pending_then_allow", 2.0)
        other, lines, _ = self.try_login(ALICE, PW[ALICE])
        self.assert_ok(lines, "alice (no second factor)")
        ok_before = self.factor("push", "ok")
        result = {}

        def login():
            c = self.connected()
            result["port"] = c.sock.getsockname()[1]
            try:
                result["id"] = c.command("i", 'ID ("name" "imapgate-tests" "version" "1.0")')
                _, lines, took = self.try_login(PIA, PW[PIA], c=c)
                result["lines"], result["took"] = lines, took
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = type(e).__name__

        t = threading.Thread(target=login)
        t.start()
        rtts = []
        i = 0
        while t.is_alive():
            i += 1
            t0 = time.monotonic()
            lines = other.command(f"n{i}", "NOOP", timeout=5)
            rtts.append(time.monotonic() - t0)
            self.assertEqual(tagged_status(lines, f"n{i}"), b"OK", lines)
            time.sleep(0.1)
        t.join()
        self.assertNotIn("error", result)
        self.assert_ok(result["lines"], "pia after approval")
        self.assertGreaterEqual(result["took"], 1.8)
        self.assertGreaterEqual(len(rtts), 5, "too few NOOPs during the push wait")
        self.assertLess(max(rtts), 0.5, f"NOOP round trips during the push wait: {[round(r, 3) for r in rtts]}")
        reqs = self.push.requests_of(PIA)
        self.assertGreaterEqual(len(reqs), 2, "no second poll after 'pending'")
        first = reqs[0]["body"]
        self.assertTrue(first.get("session_id"), first)
        self.assertIn("TLS", str(first.get("tls_version")), first)
        self.assertEqual(tagged_status(result["id"], "i"), b"OK", result["id"])
        # every fact at once, so one report shows all that differ
        got = {k: first.get(k) for k in ("user", "client_ip", "client_port", "sni", "mechanism", "attempt", "client_id")}
        got["mechanism"] = str(got["mechanism"]).lower()
        self.assertEqual(got, {"user": PIA, "client_ip": "127.0.0.1", "client_port": result["port"], "sni": "localhost",
                               "mechanism": "login", "attempt": 1,
                               "client_id": {"name": "imapgate-tests", "version": "1.0"}})
        self.assertNotIn("transaction", first)
        self.assertEqual(reqs[-1]["body"].get("transaction"), f"tx-{PIA}", "the poll does not carry the transaction")
        for r in reqs:
            self.assertNotIn(PW[PIA].encode(), r["raw"], "the password went to the push hook")
        self.assertEqual(self.factor("push", "ok") - ok_before, 1)

    def test_hook_never_answers_unavailable_after_timeout(self):
        self.push.set(NORA, "never")
        before = self.factor("push", "timeout")
        c, lines, took = self.try_login(NORA, PW[NORA])
        self.assertIn(b"[UNAVAILABLE]", self.refusal(lines))
        # push.timeout bounds the whole approval, a request in flight included (request_timeout
        # is longer here on purpose)
        self.assertGreaterEqual(took, self.PUSH_TIMEOUT - 0.3)
        self.assertLess(took, self.PUSH_TIMEOUT + 1.0)
        self.assertEqual(len(self.push.requests_of(NORA)), 1)  # the domain policy asked for a push
        self.assertEqual(self.factor("push", "timeout") - before, 1)
        # the session is still usable after a temporary failure
        lines = c.command("n", "NOOP")
        self.assertEqual(tagged_status(lines, "n"), b"OK", lines)
        c.close()

    def test_client_gone_cancels_the_hooks_request(self):
        # A client that hangs up while its push approval waits: imapgate ends the session and
        # closes its request to the hook at once (nginx keeps polling for nobody).
        self.push.set(DAN, "never")
        c = self.implicit()
        c.greeting()
        c.send(f"l1 LOGIN {DAN} {PW[DAN]}\r\n".encode())
        self.used(PW[DAN])
        deadline = time.monotonic() + 5
        while not self.push.requests_of(DAN) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(self.push.requests_of(DAN), "the hook was never asked")
        hangups_before = len([h for h in self.push.hangups if h["user"] == DAN])
        t0 = time.monotonic()
        c.close()
        while time.monotonic() < t0 + 3:
            if len([h for h in self.push.hangups if h["user"] == DAN]) > hangups_before:
                break
            time.sleep(0.05)
        took = time.monotonic() - t0
        self.assertGreater(len([h for h in self.push.hangups if h["user"] == DAN]), hangups_before,
                           "imapgate kept the hook's request open after the client left")
        self.assertLess(took, 2.0)
        self.assertTrue(self.wait_for_log(rf"event=session_end\b.*user={re.escape(DAN)}\b.*result=client_closed"),
                        "no session_end result=client_closed for the client that left")

    def test_deny_is_authenticationfailed(self):
        self.push.set(DAN, "deny")
        before = self.factor("push", "denied")
        c, lines, _ = self.try_login(DAN, PW[DAN])
        denied = self.refusal(lines)
        c.close()
        self.assertIn(b"[AUTHENTICATIONFAILED]", denied)
        self.assertEqual(denied, self.wrong_password_answer(DAN))
        self.assertEqual(self.factor("push", "denied") - before, 1)

    def test_wrong_password_never_reaches_hook(self):
        self.push.set(DAN, "allow")
        n = len(self.push.requests_of(DAN))
        self.wrong_password_answer(DAN)
        self.assertEqual(len(self.push.requests_of(DAN)), n)

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


if __name__ == "__main__":
    unittest.main()
