"""Authentication inside imapgate (issue B), file source: imapgate checks the users file's hashes
itself and logs in to real Dovecots as their master user (backend_login mode master).

Each user's users-file password differs from their Dovecot password, and the Dovecot password
is refused by imapgate: a login that works proves imapgate did the check (Dovecot would refuse
the client's password).

* FileSourceTest: LOGIN (imaplib), AUTHENTICATE PLAIN (imaplib, curl --login-options
  AUTH=PLAIN), AUTHENTICATE LOGIN (raw); a wrong password, the Dovecot password and an unknown
  user get the very same NO [AUTHENTICATIONFAILED]; $6$, $y$, $2b$ and $argon2id$ hashes; the
  users file's `shard:` decides the backend; a SASL authzid naming another user is refused
  (no master_users); a broken rewrite of the users file keeps the users in effect
  (users_file_error logged); imapgate_auth_attempts_total moves per mechanism and result; no
  secret in any log.
* UsersFileCheckTest: `imapgate -t` refuses a users file others can read (chmod 600) or a
  malformed one (FILE:LINE:COL), quoting no hash.
* ListenerChainTest: a listener's own auth_chain ([users_next, pass]: a user the file does not
  know goes on to the backend's check, one it knows does not) and auth_mechanisms ([PLAIN]),
  beside the default chain and mechanisms on the other listener.
* HashPoolBoundTest: hash_threads 1, hash_queue 1, slow argon2id: of 10 parallel logins the ones
  beyond the queue get NO [UNAVAILABLE] at once, counted in
  imapgate_auth_hash_pool_rejected_total; the pool works again afterwards.
"""

from __future__ import annotations

import base64
import imaplib
import json
import os
import secrets
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Optional

from harness import (AuthGateTestCase, argon2id_hash, close_quietly, crypt_hash, ds, give_to_unprivileged, imapgate_bin,
                     run_cmd, tagged_status, write_users_file)

ALICE, BOB = "alice@demo.test", "bob@demo.test"
HB, HA = "hb@demo.test", "ha@demo.test"
# What the Dovecots accept (the clients never send these: imapgate logs in as the master user).
BACKEND_USERS = {u: f"{u.split('@')[0]}-dovecot-{secrets.token_hex(4)}" for u in (ALICE, BOB, HB, HA)}
# What the users file accepts.
PW = {u: f"{u.split('@')[0]}-gate-{secrets.token_urlsafe(12)}" for u in (ALICE, BOB, HB, HA)}



class FileSourceTest(AuthGateTestCase):
    BACKEND_USERS = BACKEND_USERS

    @classmethod
    def users_entries(cls):
        return {
            # alice's shard is the one the users file names (b1), bob's the other (a1)
            ALICE: {"password": crypt_hash(PW[ALICE], "$6$"), "shard": "shard-b"},
            BOB: {"password": crypt_hash(PW[BOB], "$y$"), "shard": "shard-a"},
            HB: {"password": crypt_hash(PW[HB], "$2b$")},
            HA: {"password": argon2id_hash(PW[HA])},
        }, {}

    @classmethod
    def auth_section(cls):
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file), "unknown_users": "reject"}},
                "chain": ["users"], "mechanisms": ["PLAIN", "LOGIN"], "hash_threads": 2,
                "cache_ttl": "0s", "timeout": "10s",
                "second_factor": {"remember_devices": "0s"}}

    def imaplib_client(self) -> imaplib.IMAP4_SSL:
        m = imaplib.IMAP4_SSL("127.0.0.1", self.implicit_port, ssl_context=self.client_ctx(), timeout=30)
        self.addCleanup(close_quietly, m)
        return m

    def test_login_imaplib_reads_mail(self):
        m = self.imaplib_client()
        typ, data = m.login(ALICE, self.used(PW[ALICE]))
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)
        # alice's mail lives on shard-b (her users-file shard); cls.messages holds shard-a's
        # copy, which differs only in its Message-ID
        self.assertIn(b"Subject: Message 1 for alice@demo.test\r\n", data[0][1])

    def test_users_file_shard_decides_backend(self):
        for user, backend in ((ALICE, "b1"), (BOB, "a1")):
            since = self.login_counts(user)
            c, lines, _ = self.try_login(user, PW[user])
            self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
            deadline = time.monotonic() + 5
            while not self.backend_that_logged(user, since) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.backend_that_logged(user, since), [backend], user)
            c.close()

    def test_authenticate_plain_imaplib(self):
        m = self.imaplib_client()
        blob = f"\0{ALICE}\0{PW[ALICE]}".encode()
        self.used(base64.b64encode(blob).decode())
        typ, data = m.authenticate("PLAIN", lambda _: blob)
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)

    def test_curl_login_options_auth_plain(self):
        r = run_cmd(["curl", "--silent", "--show-error", "--ipv4", "--max-time", "30", "--cacert", self.ca_file,
                     "--login-options", "AUTH=PLAIN", "-u", f"{BOB}:{self.used(PW[BOB])}",
                     f"imaps://localhost:{self.implicit_port}/INBOX;UID=2"], timeout=40)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.messages[BOB][1])

    def test_authenticate_login_raw(self):
        c = self.connected()
        c.send(b"a AUTHENTICATE LOGIN\r\n")
        self.assertTrue(c.readline().startswith(b"+"), "no continuation for the user name")
        c.send(base64.b64encode(ALICE.encode()) + b"\r\n")
        self.assertTrue(c.readline().startswith(b"+"), "no continuation for the password")
        c.send(base64.b64encode(self.used(PW[ALICE]).encode()) + b"\r\n")
        lines = c.read_response("a", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        lines = c.command("n", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "n"), b"OK", lines)

    def test_sasl_authzid_of_another_user_refused(self):
        # master_users is empty: alice's own password may not act for bob; her own name as the
        # authzid is fine
        since = self.login_counts(BOB)
        for authzid, want in ((BOB, b"NO"), (ALICE, b"OK")):
            c = self.connected()
            ir = self.used(base64.b64encode(f"{authzid}\0{ALICE}\0{PW[ALICE]}".encode()).decode())
            lines = c.command("a", f"AUTHENTICATE PLAIN {ir}", timeout=20)
            self.assertEqual(tagged_status(lines, "a"), want, (authzid, lines))
            c.close()
        time.sleep(0.3)
        self.assertEqual(self.backend_that_logged(BOB, since), [], "a login reached Dovecot as bob")

    def test_wrong_password_dovecot_password_and_unknown_user_same_no(self):
        answers = {}
        for what, user, pw in (("wrong password", ALICE, "not-" + PW[ALICE]),
                               ("the Dovecot password", ALICE, BACKEND_USERS[ALICE]),
                               ("unknown user", "nobody-here@demo.test", PW[ALICE])):
            c, lines, _ = self.try_login(user, pw)
            answers[what] = self.refusal(lines)
            self.assertIn(b"[AUTHENTICATIONFAILED]", answers[what], what)
            c.close()
        self.assertEqual(len(set(answers.values())), 1, answers)

    def test_hash_formats(self):
        for user in (ALICE, BOB, HB, HA):
            c, lines, _ = self.try_login(user, PW[user])
            self.assertEqual(tagged_status(lines, "l1"), b"OK", (user, lines))
            c.close()

    def test_metrics_auth_attempts(self):
        name = "imapgate_auth_attempts_total"
        before = {k: self.metric(name, source="users", mechanism=m, result=r)
                  for k, (m, r) in {"login_ok": ("login", "ok"), "login_fail": ("login", "fail"),
                                    "plain_ok": ("plain", "ok"), "sasl_login_ok": ("sasl_login", "ok")}.items()}
        c, lines, _ = self.try_login(ALICE, PW[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        c.close()
        c, lines, _ = self.try_login(ALICE, "wrong-" + PW[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"NO", lines)
        c.close()
        c = self.connected()
        ir = base64.b64encode(f"\0{BOB}\0{PW[BOB]}".encode()).decode()
        lines = c.command("a", f"AUTHENTICATE PLAIN {self.used(ir)}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        c.close()
        after = {k: self.metric(name, source="users", mechanism=m, result=r)
                 for k, (m, r) in {"login_ok": ("login", "ok"), "login_fail": ("login", "fail"),
                                   "plain_ok": ("plain", "ok"), "sasl_login_ok": ("sasl_login", "ok")}.items()}
        self.assertEqual({k: after[k] - before[k] for k in before},
                         {"login_ok": 1, "login_fail": 1, "plain_ok": 1, "sasl_login_ok": 0})

    def test_broken_users_file_keeps_the_users_in_effect(self):
        fake_hash = "$6$" + secrets.token_hex(8) + "$" + secrets.token_hex(20)
        self.used(fake_hash)
        tmp = self.users_file.with_name("users.yaml.broken")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'users:\n  {ALICE}: {{ password: "{fake_hash}" }}\n  broken: [\n')
        give_to_unprivileged(tmp)
        errors = len(self.wait_for_log(r"event=users_file_error\b", timeout=0))
        reloads = len(self.wait_for_log(r"event=users_file_reloaded\b", timeout=0))
        os.replace(tmp, self.users_file)
        self.addCleanup(self.restore_users_file, reloads)
        self.assertGreater(len(self.wait_for_log(r"event=users_file_error\b", timeout=8, count=errors + 1)), errors,
                           "no users_file_error after a broken rewrite")
        c, lines, _ = self.try_login(ALICE, PW[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        c.close()

    def restore_users_file(self, reloads_before: int) -> None:
        users, domains = self.users_entries()
        write_users_file(self.users_file, users, domains)
        self.wait_for_log(r"event=users_file_reloaded\b", timeout=8, count=reloads_before + 1)

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class MasterUserTest(AuthGateTestCase):
    """auth.master_users: hb may act for bob with a SASL authzid (AUTHENTICATE PLAIN
    "bob\\0hb\\0hb's password"); the session is bob's, on bob's users-file shard, and the backend
    login is the master user's. alice, not a master user, may not."""
    BACKEND_USERS = BACKEND_USERS

    @classmethod
    def users_entries(cls):
        return {
            ALICE: {"password": crypt_hash(PW[ALICE], "$6$"), "shard": "shard-b"},
            BOB: {"password": crypt_hash(PW[BOB], "$6$"), "shard": "shard-a"},
            HB: {"password": crypt_hash(PW[HB], "$6$")},
        }, {}

    @classmethod
    def auth_section(cls):
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file)}},
                "chain": ["users"], "cache_ttl": "0s", "master_users": [HB]}

    def test_master_user_acts_for_another_user(self):
        since = self.login_counts(BOB)
        c = self.connected()
        ir = self.used(base64.b64encode(f"{BOB}\0{HB}\0{PW[HB]}".encode()).decode())
        lines = c.command("a", f"AUTHENTICATE PLAIN {ir}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"OK", lines)
        lines = c.command("s", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        c.close()
        self.assertEqual(self.backend_that_logged(BOB, since), ["a1"], "bob's session is not on his shard's backend")
        # alice is no master user: her password may not act for bob
        c = self.connected()
        ir = self.used(base64.b64encode(f"{BOB}\0{ALICE}\0{PW[ALICE]}".encode()).decode())
        lines = c.command("a", f"AUTHENTICATE PLAIN {ir}", timeout=20)
        self.assertEqual(tagged_status(lines, "a"), b"NO", lines)
        c.close()

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class HashPoolBoundTest(AuthGateTestCase):
    """One hash thread, one waiting check: a burst of logins beyond that is refused at once."""
    BACKEND_USERS = {ALICE: BACKEND_USERS[ALICE]}
    PARALLEL = 10

    @classmethod
    def users_entries(cls):
        # argon2id, 64 MiB, 12 passes: several hundred milliseconds per check on purpose
        return {ALICE: {"password": argon2id_hash(PW[ALICE], t_cost=12)}}, {}

    @classmethod
    def auth_section(cls):
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file)}},
                "chain": ["users"], "hash_threads": 1, "hash_queue": 1, "cache_ttl": "0s",
                "timeout": "30s", "second_factor": {"remember_devices": "0s"}}

    def test_burst_beyond_queue_gets_unavailable_at_once(self):
        # One login alone: how long one check takes here.
        _, lines, one = self.try_login(ALICE, PW[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        rejected_before = self.metric("imapgate_auth_hash_pool_rejected_total")

        clients = [self.connected() for _ in range(self.PARALLEL)]
        barrier = threading.Barrier(self.PARALLEL)
        results = [None] * self.PARALLEL

        def run(i):
            barrier.wait()
            t0 = time.monotonic()
            try:
                lines = clients[i].command("l1", f'LOGIN "{ALICE}" "{PW[ALICE]}"', timeout=60)
                results[i] = (tagged_status(lines, "l1"), lines[-1], time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = (b"ERROR", type(e).__name__.encode(), time.monotonic() - t0)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(self.PARALLEL)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        ok = [r for r in results if r and r[0] == b"OK"]
        unavailable = [r for r in results if r and r[0] == b"NO" and b"[UNAVAILABLE]" in r[1]]
        summary = [(r[0], r[1][:80], round(r[2], 2)) for r in results if r]
        self.assertEqual(len(ok) + len(unavailable), self.PARALLEL, summary)
        self.assertGreaterEqual(len(ok), 1, summary)
        # 1 running + 1 waiting: with checks this slow, most of a simultaneous burst is refused
        self.assertGreaterEqual(len(unavailable), self.PARALLEL // 2, summary)
        # "at once": each refusal came well before one check could have finished
        for r in unavailable:
            self.assertLess(r[2], one / 2, f"a refusal took {r[2]:.2f}s; one check takes {one:.2f}s: {summary}")
        rejected = self.metric("imapgate_auth_hash_pool_rejected_total") - rejected_before
        self.assertEqual(rejected, len(unavailable), summary)
        # and the pool still works
        _, lines, _ = self.try_login(ALICE, PW[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


CARL = "carl@demo.test"
LISTENER_BACKEND_USERS = {ALICE: BACKEND_USERS[ALICE], BOB: BACKEND_USERS[BOB], CARL: f"carl-dovecot-{secrets.token_hex(4)}"}


class ListenerChainTest(AuthGateTestCase):
    """Per-listener auth_chain and auth_mechanisms, backend_login client (the client's password
    goes on to Dovecot). imaps: the default chain [users] (unknown users rejected); imap
    (STARTTLS): auth_chain [users_next, pass] (the same users file with unknown_users: next, then
    Dovecot's own check) and auth_mechanisms [PLAIN]. alice's users-file password is her Dovecot
    one; bob's differs; carl is only in Dovecot."""
    BACKEND_USERS = LISTENER_BACKEND_USERS
    BACKEND_LOGIN = "client"

    @classmethod
    def users_entries(cls):
        return {ALICE: {"password": crypt_hash(BACKEND_USERS[ALICE])},
                BOB: {"password": crypt_hash(PW[BOB])}}, {}

    @classmethod
    def auth_section(cls):
        f = str(cls.users_file)
        return {"sources": {"users": {"type": "file", "path": f, "unknown_users": "reject"},
                            "users_next": {"type": "file", "path": f, "unknown_users": "next"},
                            "pass": {"type": "backend"}},
                "chain": ["users"], "mechanisms": ["PLAIN", "LOGIN"], "cache_ttl": "0s",
                "second_factor": {"remember_devices": "0s"}}

    @classmethod
    def imapgate_config(cls, **overrides) -> str:
        text = super().imapgate_config(**overrides)
        marker = "    mode: starttls\n"
        assert text.count(marker) == 1
        return text.replace(marker, marker + "    auth_chain: [users_next, pass]\n    auth_mechanisms: [PLAIN]\n")

    def starttls_login(self, user, secret, tag="l1"):
        self.used(secret)
        c = self.starttls()
        return c, c.command(tag, f'LOGIN "{user}" "{secret}"', timeout=30)

    def test_default_chain_on_implicit_listener(self):
        c, lines, _ = self.try_login(ALICE, BACKEND_USERS[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        c.close()
        # carl is only Dovecot's: the users source (unknown_users: reject) refuses him
        c, lines, _ = self.try_login(CARL, LISTENER_BACKEND_USERS[CARL])
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()
        # bob's Dovecot password is not his users-file password
        c, lines, _ = self.try_login(BOB, BACKEND_USERS[BOB])
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()

    def test_listener_chain_unknown_user_falls_through_to_backend(self):
        name = "imapgate_auth_attempts_total"
        before = (self.metric(name, source="users_next", result="not_mine"),
                  self.metric(name, source="pass", result="pass_through"))
        c, lines = self.starttls_login(CARL, LISTENER_BACKEND_USERS[CARL])
        self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
        c.close()
        after = (self.metric(name, source="users_next", result="not_mine"),
                 self.metric(name, source="pass", result="pass_through"))
        self.assertEqual((after[0] - before[0], after[1] - before[1]), (1, 1))
        # a user the file knows does not fall through: bob's Dovecot password is refused
        c, lines = self.starttls_login(BOB, BACKEND_USERS[BOB])
        self.assertIn(b"[AUTHENTICATIONFAILED]", self.refusal(lines))
        c.close()

    def test_listener_mechanisms(self):
        c = self.starttls()
        lines = c.command("c", "CAPABILITY")
        caps = [w for l in lines if l.startswith(b"* CAPABILITY") for w in l.decode().split()]
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("AUTH=LOGIN", caps)
        lines = c.command("a", "AUTHENTICATE LOGIN")
        self.assertIn(tagged_status(lines, "a"), (b"NO", b"BAD"), lines)
        # the implicit listener keeps the default [PLAIN, LOGIN]
        c2 = self.connected()
        lines = c2.command("c", "CAPABILITY")
        caps = [w for l in lines if l.startswith(b"* CAPABILITY") for w in l.decode().split()]
        self.assertIn("AUTH=LOGIN", caps)

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


class UsersFileCheckTest(unittest.TestCase):
    """`imapgate -t` reads the users file: one group or others can read is refused with a
    message saying to chmod 600 it, and a malformed one is refused naming its line; neither
    message quotes a hash."""

    @classmethod
    def setUpClass(cls):
        cls.binary = str(imapgate_bin())
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="imapgate-it-usersfile-")
        cls.tmp = Path(cls.tmpdir.name)
        cls.tls = ds.make_ca_and_server_cert(cls.tmp / "tls")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def check(self, users_text: Optional[str] = None, mode: int = 0o600):
        users_file = self.tmp / "users.yaml"
        self.hash = crypt_hash(PW[ALICE])
        write_users_file(users_file, {ALICE: {"password": self.hash}})
        if users_text is not None:
            users_file.write_text(users_text.replace("HASH", self.hash))
        users_file.chmod(mode)
        config = self.tmp / "imapgate.yaml"
        config.write_text(ds.imapgate_yaml(str(self.tls["cert"]), str(self.tls["key"]), backend_port=ds.free_port(),
                                           implicit_port=ds.free_port(), admin_port=ds.free_port())
                          + "auth: " + json.dumps({"sources": {"users": {"type": "file", "path": str(users_file)}},
                                                   "chain": ["users"]}) + "\n")
        return run_cmd([self.binary, "-t", "-c", str(config)])

    def test_good_file_passes(self):
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_readable_by_others_refused(self):
        r = self.check(mode=0o644)
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr.decode()
        self.assertIn("users.yaml", err)
        self.assertIn("chmod 600", err)
        self.assertNotIn(self.hash, err)

    def test_plaintext_password_refused_without_echoing_it(self):
        for stored in ("{PLAIN}Summer2026!", "Summer2026!", "{CLEARTEXT}Summer2026!"):
            r = self.check(f'users:\n  alice@demo.test: {{ password: "{stored}" }}\n')
            self.assertNotEqual(r.returncode, 0, stored)
            err = r.stderr.decode()
            self.assertRegex(err, r"users\.yaml:2:\d+: ", err)
            self.assertNotIn("Summer2026", err)

    def test_malformed_file_refused_with_its_line(self):
        r = self.check('users:\n  alice@demo.test: { password: "HASH" }\n  broken: [\n')
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr.decode()
        self.assertRegex(err, r"users\.yaml:\d+:\d+: ")
        self.assertNotIn(self.hash, err)


if __name__ == "__main__":
    unittest.main()
