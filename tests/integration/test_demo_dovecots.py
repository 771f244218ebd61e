"""The Dovecots of the two-shard demo and of the shard tests, started with the harness helpers:
two instances sharing one mail store (a primary and its replica) and one offering STARTTLS with
a certificate of the test CA. No imapgate here: these prove the backends the shard tests rely on.
"""

import imaplib
import os
import re
import shutil
import ssl
import stat
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import (ALICE, ALICE_PW, BOB, USERS, ds, seed_mail, start_dovecots, stop_dovecots,
                     write_overrides)


def imap_login(dovecot: ds.Dovecot, user: str = ALICE, password: str = ALICE_PW) -> imaplib.IMAP4:
    m = imaplib.IMAP4(ds.LOOPBACK, dovecot.port, timeout=10)
    m.login(user, password)
    return m


def inbox(m: imaplib.IMAP4):
    """(uid, Message-ID, Subject) of every message in INBOX."""
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])")
    assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        hdr = item[1].decode()
        mid = re.search(r"Message-ID: (\S+)", hdr, re.I).group(1)
        subj = re.search(r"Subject: (.*?)\r\n", hdr, re.I).group(1)
        out.append((uid, mid, subj))
    return sorted(out)


class TempDirTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix=f"imapgate-it-{cls.__name__}-"))
        cls.tmp.chmod(0o755)
        cls.dovecots = []

    @classmethod
    def tearDownClass(cls):
        stop_dovecots(cls.dovecots)
        if os.environ.get("IMAPGATE_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)


class SharedStoreTest(TempDirTest):
    """A primary and a replica on one mail store, each with its own base_dir, log and indexes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.dovecots = start_dovecots(cls.tmp / "shard-a", 2, names=["a1", "a2"], shared_store=True)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.a1, cls.a2 = cls.dovecots
        cls.seeded = seed_mail(cls.dovecots, list(USERS), per_user=2)

    def test_instances_are_separate_but_share_the_store(self):
        self.assertNotEqual(self.a1.port, self.a2.port)
        self.assertEqual(self.a1.home_dir, self.a2.home_dir)
        for attr in ("base_dir", "state_dir", "log_path", "index_dir", "users_file"):
            self.assertNotEqual(getattr(self.a1, attr), getattr(self.a2, attr), attr)
        self.assertNotEqual(self.a1.pid, self.a2.pid)

    def test_seeded_once_per_store(self):
        # seed_mail delivered through one instance only: each user has 2 messages, not 4.
        for d in self.dovecots:
            m = imap_login(d, BOB, USERS[BOB])
            try:
                self.assertEqual(len(inbox(m)), 2, d.root)
            finally:
                m.logout()

    def test_delivered_through_one_seen_through_the_other(self):
        msgid = f"<shared-{os.urandom(6).hex()}@demo.test>"
        self.a1.deliver(ALICE, ds.make_message("delivered via a1", "hello", msgid=msgid))
        m = imap_login(self.a2)
        try:
            seen2 = inbox(m)
        finally:
            m.logout()
        self.assertIn(msgid, [mid for _, mid, _ in seen2], "a2 does not see what a1 delivered")
        # The other way round, with IMAP APPEND on a2, and UIDs agree on both instances.
        msgid2 = f"<shared-{os.urandom(6).hex()}@demo.test>"
        m = imap_login(self.a2)
        try:
            typ, _ = m.append("INBOX", None, None, ds.make_message("appended via a2", "hi", msgid=msgid2))
            self.assertEqual(typ, "OK")
            seen2 = inbox(m)
        finally:
            m.logout()
        m = imap_login(self.a1)
        try:
            seen1 = inbox(m)
        finally:
            m.logout()
        self.assertIn(msgid2, [mid for _, mid, _ in seen1], "a1 does not see what a2 appended")
        self.assertEqual(seen1, seen2, "the two instances disagree on UIDs or messages")

    def test_each_instance_keeps_its_own_indexes(self):
        for d in self.dovecots:
            m = imap_login(d)
            m.select("INBOX")
            m.logout()
        maildir = self.a1.home_dir / ALICE / "Maildir"
        self.assertTrue((maildir / "dovecot-uidlist").exists(), "UIDs are not kept in the shared store")
        self.assertEqual(list(maildir.rglob("dovecot*.index*")), [], "an index landed in the shared maildir")
        for d in self.dovecots:
            self.assertTrue(list((d.index_dir / ALICE).rglob("dovecot.index*")),
                            f"no private index under {d.index_dir}")

    def test_idle_on_the_replica_sees_mail_delivered_through_the_primary(self):
        m = imap_login(self.a2)
        try:
            m.select("INBOX")
            tag = m._new_tag().decode()
            m.send(f"{tag} IDLE\r\n".encode())
            self.assertTrue(m.readline().startswith(b"+"))
            self.a1.deliver(ALICE, ds.make_message("while idling", "new mail"))
            m.sock.settimeout(10)
            line = m.readline()
            self.assertRegex(line, rb"^\* \d+ EXISTS", "the replica's IDLE did not see the new message")
            m.send(b"DONE\r\n")
            while not m.readline().startswith(tag.encode()):
                pass
        finally:
            m.logout()

    def test_logins_are_recorded_by_the_instance_that_served_them(self):
        before = [len(d.logins(BOB)) for d in self.dovecots]
        imap_login(self.a2, BOB, USERS[BOB]).logout()
        deadline = time.monotonic() + 5
        while len(self.a2.logins(BOB)) == before[1] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.a2.logins(BOB)), before[1] + 1)
        self.assertEqual(len(self.a1.logins(BOB)), before[0])


class StartTlsDovecotTest(TempDirTest):
    """A Dovecot offering STARTTLS with a certificate signed by the test CA."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.tls = ds.make_ca_and_server_cert(cls.tmp / "tls")
            cls.other = ds.make_ca_and_server_cert(cls.tmp / "other-ca")
            cls.dovecots = start_dovecots(cls.tmp / "shard-b", 1, names=["b1"], tls=cls.tls)
            cls.plain = start_dovecots(cls.tmp / "plain", 1)[0]
            cls.dovecots.append(cls.plain)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.b1 = cls.dovecots[0]

    def ctx(self, ca) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(ca))

    def test_starttls_verifies_with_the_ca_and_login_works(self):
        m = imaplib.IMAP4(ds.LOOPBACK, self.b1.port, timeout=10)
        try:
            self.assertIn("STARTTLS", m.capabilities)
            m.starttls(ssl_context=self.ctx(self.tls["ca"]))   # server name checked: 127.0.0.1 in the SAN
            self.assertIsInstance(m.sock, ssl.SSLSocket)
            self.assertIn(m.sock.version(), ("TLSv1.2", "TLSv1.3"))
            typ, _ = m.login(ALICE, ALICE_PW)
            self.assertEqual(typ, "OK")
        finally:
            m.logout()

    def test_starttls_with_the_name_localhost(self):
        # imapgate's demo config names tls_server_name: localhost.
        import socket
        with socket.create_connection((ds.LOOPBACK, self.b1.port), timeout=10) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"* OK"))
            s.sendall(b"s STARTTLS\r\n")
            self.assertTrue(f.readline().startswith(b"s OK"))
            with self.ctx(self.tls["ca"]).wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.getpeercert()["subject"][0][0], ("commonName", "localhost"))

    def test_starttls_fails_with_another_ca(self):
        m = imaplib.IMAP4(ds.LOOPBACK, self.b1.port, timeout=10)
        try:
            with self.assertRaises(ssl.SSLCertVerificationError):
                m.starttls(ssl_context=self.ctx(self.other["ca"]))
        finally:
            try:
                m.shutdown()
            except OSError:
                pass

    def test_openssl_s_client_starttls_verifies_with_the_ca_only(self):
        def s_client(ca):
            return subprocess.run(
                ["openssl", "s_client", "-starttls", "imap", "-connect", f"{ds.LOOPBACK}:{self.b1.port}",
                 "-CAfile", str(ca), "-verify_hostname", "localhost", "-verify_return_error"],
                input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        good = s_client(self.tls["ca"])
        self.assertEqual(good.returncode, 0, good.stdout[-2000:])
        self.assertIn(b"Verify return code: 0 (ok)", good.stdout)
        bad = s_client(self.other["ca"])
        self.assertNotEqual(bad.returncode, 0, bad.stdout[-2000:])
        self.assertNotIn(b"Verify return code: 0 (ok)", bad.stdout)

    def test_default_instance_stays_plaintext(self):
        m = imaplib.IMAP4(ds.LOOPBACK, self.plain.port, timeout=10)
        try:
            self.assertNotIn("STARTTLS", m.capabilities)
        finally:
            m.logout()
        self.assertIn("ssl = no", self.plain.config_text())
        self.assertFalse(self.plain.shared_store)
        self.assertEqual(self.plain.mail_location(), "maildir:~/Maildir")


class DemoFilesTest(unittest.TestCase):
    """The admin token and override files the demo and the shard tests write."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="imapgate-it-demofiles-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_admin_token_is_random_private_and_kept(self):
        p = self.tmp / "admin-token"
        t1 = ds.write_admin_token(p)
        self.assertGreaterEqual(len(t1), 40)
        self.assertEqual(stat.S_IMODE(p.stat().st_mode), 0o600)
        self.assertEqual(ds.write_admin_token(p), t1, "an existing token was replaced")
        self.assertNotEqual(ds.write_admin_token(self.tmp / "other"), t1)

    def test_override_file_lines(self):
        p = self.tmp / "overrides"
        write_overrides(p, {ALICE: "shard-a", BOB: "shard-b"}, comment="two users")
        self.assertEqual(p.read_text(), f"# two users\n{ALICE} shard-a\n{BOB} shard-b\n")

    def test_config_keeps_one_backend_or_takes_shards(self):
        one = ds.imapgate_yaml("/c.pem", "/k.pem", 11143, implicit_port=1)
        self.assertIn("backend: { name: default, address: 127.0.0.1:11143, security: plaintext }", one)
        self.assertNotIn("shards:", one)
        sharded = ds.imapgate_yaml(
            "/c.pem", "/k.pem", implicit_port=1, admin_port=2,
            shards=[("shard-a", [ds.shard_backend("a1", 11143), ds.shard_backend("a2", 11144)]),
                    ("shard-b", [ds.shard_backend("b1", 11145, "starttls", tls_ca="/ca.pem",
                                                  tls_server_name="localhost")], 2)],
            routing={"override_file": "/o", "domains": {"demo.test": "shard-a"}},
            admin_token_file="/t", health_checks={"interval": "2s", "rise": 2}, drain_grace="10s")
        self.assertNotIn("\nbackend:", sharded)
        for want in ("shards:\n  - name: shard-a\n    backends:\n"
                     "      - { name: a1, address: 127.0.0.1:11143, security: plaintext }\n"
                     "      - { name: a2, address: 127.0.0.1:11144, security: plaintext }\n"
                     "  - name: shard-b\n    weight: 2\n    backends:\n"
                     "      - { name: b1, address: 127.0.0.1:11145, security: starttls, tls_ca: /ca.pem, "
                     "tls_server_name: localhost }\n",
                     "routing:\n  override_file: /o\n  domains: { demo.test: shard-a }\n",
                     "drain_grace: 10s }", "health_checks: { interval: 2s, rise: 2 }",
                     "admin: { address: 127.0.0.1:2, token_file: /t }"):
            self.assertIn(want, sharded)
        with self.assertRaises(ValueError):
            ds.imapgate_yaml("/c.pem", "/k.pem", implicit_port=1)


if __name__ == "__main__":
    unittest.main()
