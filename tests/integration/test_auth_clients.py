"""The mail clients people use, in their default settings, logging in through imapgate's own
password check (issue B, users file) in front of real Dovecots (backend_login master).

Every user's users-file password differs from their Dovecot password, so a client that gets in
got in through imapgate's check: Dovecot would refuse what the client sends, and only sees
imapgate's master-user login. Each run also moves imapgate_auth_attempts_total{source="users",
result="ok"}.

* ClientsTest: mbsync (isync 1.4, the config test_compress.py writes: COMPRESS=DEFLATE on by
  default) syncs alice's whole INBOX through the implicit-TLS and the STARTTLS listener, exit 0,
  every message there intact; fetchmail (6.4, the settings of test_fetchmail.py) fetches all of
  alice's mail on both listeners; offlineimap (Debian's offlineimap3, its defaults: ssl = yes,
  starttls = yes, auth_mechanisms ending in PLAIN, LOGIN) syncs her INBOX on both listeners.
* TotpMbsyncTest: a TOTP user (second_factor: totp) with remember_devices on: mbsync with the
  password and the current code as its password syncs; a second mbsync run right after, with the
  same (now used) code, syncs too, through the remembered device (see the class).

No secret of either class in imapgate's or Dovecot's logs, nor in a failure message here (the
clients' output is shown with the secrets replaced).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
import unittest
from pathlib import Path
from typing import List, Tuple

from harness import AuthGateTestCase, crypt_hash, ds, mbsync_config

ALICE, TINA = "alice@demo.test", "tina@demo.test"
# What the Dovecots accept (the clients never send these: imapgate logs in as the master user).
BACKEND_USERS = {u: f"{u.split('@')[0]}-dovecot-{secrets.token_hex(4)}" for u in (ALICE, TINA)}
# What the users file accepts.
PW = {u: f"{u.split('@')[0]}-gate-{secrets.token_urlsafe(12)}" for u in (ALICE, TINA)}
TINA_TOTP = base64.b32encode(os.urandom(20)).decode().rstrip("=")
CLIENT_ENV_PATH = "/usr/bin:/bin"


class ClientTestBase(AuthGateTestCase):
    """Users file with the users of BACKEND_USERS on shard-a (whose copy of the mail is
    cls.messages), cache off (every login checks the hash), the default mechanisms."""
    BACKEND_USERS = BACKEND_USERS
    MESSAGES_PER_USER = 5
    REMEMBER = "0s"
    # imapgate's own defaults for the abuse defence (issue C: on), so the real clients in their
    # default settings meet what a user of the shipped config meets.
    ABUSE = None

    @classmethod
    def users_entries(cls):
        return {ALICE: {"password": crypt_hash(PW[ALICE]), "shard": "shard-a"}}, {}

    @classmethod
    def auth_section(cls):
        return {"sources": {"users": {"type": "file", "path": str(cls.users_file), "unknown_users": "reject"}},
                "chain": ["users"], "cache_ttl": "0s", "timeout": "10s",
                "second_factor": {"remember_devices": cls.REMEMBER}}

    # -- helpers -----------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """`text` with every secret of this class replaced (for failure messages)."""
        cls = type(self)
        for s in sorted(cls.secrets_used, key=len, reverse=True):
            if len(s) >= 6:
                text = text.replace(s, "<secret>")
        for c in cls.codes_used:
            text = re.sub(r"(?<!\d)" + c + r"(?!\d)", "<code>", text)
        return text

    def run_client(self, cmd: List[str], home: Path, what: str) -> str:
        """Runs a client with HOME=home; fails the test (output scrubbed) unless it exits 0.
        Returns its stdout and stderr."""
        proc = subprocess.run(cmd, capture_output=True, timeout=90, env={"HOME": str(home), "PATH": CLIENT_ENV_PATH})
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertEqual(proc.returncode, 0, f"{what} exit {proc.returncode}\n{self.scrub(out)[-4000:]}")
        return out

    def users_ok(self) -> Tuple[float, float]:
        name = "imapgate_auth_attempts_total"
        return self.metric(name, source="users", result="ok"), self.metric(name, source="users", result="fail")

    def assert_logged_in_through_users_file(self, before: Tuple[float, float], what: str) -> None:
        ok, fail = self.users_ok()
        self.assertGreaterEqual(ok - before[0], 1, f"{what}: no good login counted for the users source")
        self.assertEqual(fail - before[1], 0, f"{what}: a refused login counted for the users source")

    def assert_maildir_has(self, folder: Path, messages: List[bytes], what: str) -> None:
        """The Maildir folder holds exactly `messages`, each intact (a client may add header
        lines of its own, e.g. mbsync's X-TUID, and write LF line ends)."""
        got = sorted(p.read_bytes() for d in ("cur", "new") for p in (folder / d).iterdir())
        self.assertEqual(len(got), len(messages), f"{what}: message count in {folder}")
        got = [g.replace(b"\r\n", b"\n") for g in got]
        for msg in messages:
            head, body = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)
            self.assertTrue(any(all(h in g for h in head.split(b"\n")) and g.endswith(b"\n\n" + body) for g in got),
                            f"{what}: a message did not arrive intact: {head[:200]!r}")

    def mbsync(self, home: Path, port: int, ssl_type: str, user: str, password: str) -> Tuple[str, Path]:
        """mbsync with the config of test_compress.py (its defaults otherwise) syncing all of
        `user`'s folders into home/mail. Returns its output (-Dn: its network log, LOGIN masked
        by mbsync) and the INBOX folder."""
        self.used(password)
        maildir = home / "mail"
        maildir.mkdir(parents=True, exist_ok=True)
        rc = home / "mbsyncrc"
        rc.write_text(mbsync_config(port, user, password, ssl_type, self.ca_file, maildir))
        rc.chmod(0o600)
        out = self.run_client(["mbsync", "-c", str(rc), "-Dn", "sync"], home, "mbsync")
        return out, maildir / "INBOX"


@unittest.skipIf(shutil.which("mbsync") is None and shutil.which("fetchmail") is None,
                 "neither mbsync (isync) nor fetchmail is installed: scripts/install-deps installs them")
class ClientsTest(ClientTestBase):
    # -- mbsync ------------------------------------------------------------------------------
    def sync_alice(self, port: int, ssl_type: str) -> str:
        if shutil.which("mbsync") is None:
            self.skipTest("mbsync (package isync) is not installed: scripts/install-deps installs it")
        before = self.users_ok()
        out, inbox = self.mbsync(self.tmp / f"mbsync-{ssl_type}", port, ssl_type, ALICE, PW[ALICE])
        self.assert_maildir_has(inbox, self.messages[ALICE], f"mbsync {ssl_type}")
        self.assert_logged_in_through_users_file(before, f"mbsync {ssl_type}")
        # it really compressed (mbsync's network log shows the command)
        self.assertIn("COMPRESS DEFLATE", out, f"mbsync {ssl_type} did not turn COMPRESS on")
        return out

    @staticmethod
    def session_pattern(listener: str) -> str:
        return rf"event=session_end .*listener={listener} .*user={re.escape(ALICE)} .*tls=TLSv1\.[23] "

    def tls_sessions(self, listener: str) -> int:
        """How many TLS sessions of alice on `listener` (imaps or imap) imapgate logged so far."""
        return len(self.wait_for_log(self.session_pattern(listener), timeout=0))

    def assert_session_logged(self, listener: str, before: int) -> None:
        """imapgate logged a new TLS session of alice on `listener` since `before`."""
        self.assertGreater(len(self.wait_for_log(self.session_pattern(listener), count=before + 1)), before,
                           f"no new TLS session of alice on the {listener} listener")

    def test_mbsync_syncs_through_implicit_tls(self):
        before = self.tls_sessions("imaps")
        self.sync_alice(self.implicit_port, "IMAPS")
        self.assert_session_logged("imaps", before)

    def test_mbsync_syncs_through_starttls(self):
        before = self.tls_sessions("imap")
        out = self.sync_alice(self.starttls_port, "STARTTLS")
        self.assertIn("STARTTLS", out)
        self.assert_session_logged("imap", before)

    # -- fetchmail ---------------------------------------------------------------------------
    def fetch_alice(self, port: int, ssl: bool) -> str:
        if shutil.which("fetchmail") is None:
            self.skipTest("fetchmail is not installed: scripts/install-deps installs it")
        home = self.tmp / f"fetchmail-{port}"
        home.mkdir()
        mbox = home / "mbox"
        rc = home / "fetchmailrc"
        rc.write_text(f'poll localhost protocol IMAP port {port} user "{ALICE}" password "{self.used(PW[ALICE])}"'
                      f'{" ssl" if ssl else ""} sslcertck sslcertfile {self.ca_file} keep'
                      f' mda "cat >> {mbox}"\n')
        rc.chmod(0o600)
        before = self.users_ok()
        log = self.run_client(["fetchmail", "-f", str(rc), "-a", "-v", "--nosyslog"], home, "fetchmail")
        got = mbox.read_bytes().replace(b"\r\n", b"\n")
        for msg in self.messages[ALICE]:
            self.assertIn(msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1], got)
            mid = re.search(rb"(?mi)^Message-ID: (\S+)", msg).group(1)
            self.assertIn(mid, got, "a message of alice's shard (shard-a) is missing")
        self.assertEqual(len(re.findall(rb"(?m)^Message-ID: ", got)), len(self.messages[ALICE]))
        self.assert_logged_in_through_users_file(before, "fetchmail")
        return log

    def test_fetchmail_over_implicit_tls(self):
        before = self.tls_sessions("imaps")
        self.fetch_alice(self.implicit_port, ssl=True)
        self.assert_session_logged("imaps", before)

    def test_fetchmail_negotiates_starttls(self):
        before = self.tls_sessions("imap")
        log = self.fetch_alice(self.starttls_port, ssl=False)
        self.assertIn("IMAP> A0001 STARTTLS", log)
        self.assert_session_logged("imap", before)

    # -- offlineimap -------------------------------------------------------------------------
    def offlineimap_alice(self, port: int, ssl: bool) -> str:
        if shutil.which("offlineimap") is None:
            self.skipTest("offlineimap is not installed (Debian package offlineimap3)")
        home = self.tmp / f"offlineimap-{port}"
        mail = home / "Mail"
        mail.mkdir(parents=True)
        rc = home / "offlineimaprc"
        # '%' would be interpolated by offlineimap's config parser; the passwords have none
        self.assertNotIn("%", PW[ALICE])
        rc.write_text(f"""[general]
accounts = gate
metadata = {home}/.offlineimap

[Account gate]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {mail}

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {port}
remoteuser = {ALICE}
remotepass = {self.used(PW[ALICE])}
sslcacertfile = {self.ca_file}
{"" if ssl else "ssl = no"}
""")
        rc.chmod(0o600)
        before = self.users_ok()
        out = self.run_client(["offlineimap", "-c", str(rc), "-o", "-u", "basic"], home, "offlineimap")
        self.assertNotRegex(out, r"(?i)\bERROR\b", self.scrub(out)[-4000:])
        self.assert_maildir_has(mail / "INBOX", self.messages[ALICE], f"offlineimap port {port}")
        self.assert_logged_in_through_users_file(before, "offlineimap")
        return out

    def test_offlineimap_syncs_through_implicit_tls(self):
        before = self.tls_sessions("imaps")
        self.offlineimap_alice(self.implicit_port, ssl=True)
        self.assert_session_logged("imaps", before)

    def test_offlineimap_syncs_through_starttls(self):
        before = self.tls_sessions("imap")
        self.offlineimap_alice(self.starttls_port, ssl=False)
        # offlineimap's default starttls = yes: the session was TLS on the plaintext listener
        self.assert_session_logged("imap", before)

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


@unittest.skipIf(shutil.which("mbsync") is None, "mbsync (package isync) is not installed: scripts/install-deps installs it")
class TotpMbsyncTest(ClientTestBase):
    """mbsync and a TOTP user with remember_devices on (12h).

    mbsync keeps one password in its config and logs in anew on every run (from cron or a
    timer, every few minutes). The password+code of the first run is the only second factor it
    can give; a code is refused a second time (TotpTest in test_second_factor.py), so without
    remembered devices every later run would fail until the user edits the config within the
    next 30 s. remember_devices is the intended answer: once the user passed the second factor
    from a client address, the same user from the same address passes without a new code for
    the remembered time, while the password is still checked on every login. So the second run,
    right after the first and with the same (now used) code, must succeed, and it must do so as
    a remembered device (imapgate_second_factor_total{kind="remembered"}), not by accepting the
    used code again as a TOTP (kind="totp", result "replayed" does not move).
    """
    REMEMBER = "12h"

    @classmethod
    def users_entries(cls):
        return {TINA: {"password": crypt_hash(PW[TINA]), "shard": "shard-a", "totp": TINA_TOTP,
                       "second_factor": "totp"}}, {}

    def factor(self, kind: str, result: str) -> float:
        return self.metric("imapgate_second_factor_total", kind=kind, result=result)

    def factors(self):
        return {(k, r): self.factor(k, r) for k, r in (("totp", "ok"), ("totp", "replayed"), ("remembered", "ok"))}

    def test_mbsync_password_and_code_then_again_as_remembered_device(self):
        home = self.tmp / "mbsync-totp"
        code = self.code(TINA_TOTP)
        secret = PW[TINA] + code
        # first run: password + current code
        f0, a0 = self.factors(), self.users_ok()
        _, inbox = self.mbsync(home, self.implicit_port, "IMAPS", TINA, secret)
        self.assert_maildir_has(inbox, self.messages[TINA], "first mbsync run")
        self.assert_logged_in_through_users_file(a0, "first mbsync run")
        f1 = self.factors()
        self.assertGreaterEqual(f1[("totp", "ok")] - f0[("totp", "ok")], 1, "the first run passed no TOTP check")
        # new mail, so the second run has something to fetch
        extra = ds.make_message("After the first sync", f"Hello {TINA},\nthis came later.\n", to=TINA)
        self.backends["a1"].deliver(TINA, extra)
        # second run, right after, the same config: the code is used by now
        a1 = self.users_ok()
        _, inbox = self.mbsync(home, self.implicit_port, "IMAPS", TINA, secret)
        self.assert_maildir_has(inbox, self.messages[TINA] + [extra], "second mbsync run")
        self.assert_logged_in_through_users_file(a1, "second mbsync run")
        f2 = self.factors()
        self.assertGreaterEqual(f2[("remembered", "ok")] - f1[("remembered", "ok")], 1,
                                "the second run did not pass as a remembered device")
        self.assertEqual(f2[("totp", "ok")] - f1[("totp", "ok")], 0, "the used code passed a TOTP check again")
        self.assertEqual(f2[("totp", "replayed")] - f0[("totp", "replayed")], 0,
                         "a login of the runs was checked (and refused) as a replayed code")

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


if __name__ == "__main__":
    unittest.main()
