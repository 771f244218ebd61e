"""Reusable pieces of the imapgate demo stack and of the integration tests.

Standard library only. Everything here talks to 127.0.0.1 and to nothing else.

  * tls:      make_ca_and_server_cert()  -- a CA and an ECDSA P-256 server certificate (openssl CLI)
  * ports:    free_port(), wait_for_port(), wait_for_greeting()
  * Dovecot:  Dovecot(...)                -- a real Dovecot IMAP backend in its own directory
                                             (optionally sharing a mail store, optionally STARTTLS)
  * mail:     make_message()               -- a small RFC 5322 message with CRLF line ends
  * imapgate: imapgate_yaml(...), shard_backend(...), write_admin_token(...), ImapGate(...)
                                           -- config text (one backend or shards) and process control
  * Prometheus(...)                         -- a real Prometheus scraping imapgate, alert rules loaded

Run `python3 scripts/lib/demostack.py demo` to start the demo stack in the foreground
(scripts/demo does that after building): two shards of real Dovecots behind imapgate.
"""

from __future__ import annotations

import argparse
import base64
import errno
import hashlib
import json
import os
import re
import pwd
import grp
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

LOOPBACK = "127.0.0.1"


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------

_HANDED_OUT: set = set()


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago and that this process has not
    handed out before (the kernel may give a just-closed port again: two listeners of one config
    then got the same port)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_listening(port: int) -> Optional[bool]:
    """Whether a TCP socket listens on 127.0.0.1:port or 0.0.0.0:port, from /proc/net/tcp.

    None when /proc/net/tcp is unreadable. Unlike a probe connection, this leaves no session
    in the server's logs and metrics.
    """
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    for line in lines:
        f = line.split()
        if len(f) > 3 and f[1] in wanted and f[3] == "0A":   # 0A = LISTEN
            return True
    return False


def wait_for_port(port: int, host: str = LOOPBACK, timeout: float = 15.0,
                  proc: Optional[subprocess.Popen] = None) -> None:
    """Wait until host:port listens (or accepts a TCP connection). Raise if `proc` exits meanwhile."""
    if host not in (LOOPBACK, "localhost"):
        raise ValueError("only loopback is ever a target")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        listening = port_listening(port)
        if listening or (listening is None and port_accepts(port, host)):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not accept connections within {timeout}s")


def wait_for_greeting(port: int, expect: bytes = b"* OK", host: str = LOOPBACK,
                      timeout: float = 15.0) -> bytes:
    """Wait until a plaintext IMAP server on host:port sends a greeting starting with `expect`."""
    deadline = time.monotonic() + timeout
    last = b""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                buf = b""
                while b"\r\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                last = buf
                if buf.startswith(expect):
                    try:
                        s.sendall(b"z LOGOUT\r\n")
                    except OSError:
                        pass
                    return buf
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no {expect!r} greeting on {host}:{port} within {timeout}s (last: {last!r})")


# --------------------------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------------------------

def _run(cmd: List[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n"
                           f"{res.stdout.decode(errors='replace')}{res.stderr.decode(errors='replace')}")
    return res


def make_ca_and_server_cert(directory, dns_names: Iterable[str] = ("localhost", "imap.demo.test"),
                            ips: Iterable[str] = ("127.0.0.1",), force: bool = False) -> Dict[str, Path]:
    """Create DIR/ca.pem (+ca.key) and a CA-signed ECDSA P-256 DIR/server.pem + DIR/server.key.

    Existing files are kept unless `force`. Returns the paths by name.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {
        "ca": d / "ca.pem", "ca_key": d / "ca.key",
        "cert": d / "server.pem", "key": d / "server.key",
    }
    if not force and all(p.exists() and p.stat().st_size > 0 for p in paths.values()):
        return paths
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    old_umask = os.umask(0o077)
    try:
        _run(["openssl", "genpkey", *ec, "-out", str(paths["ca_key"])])
        _run(["openssl", "req", "-x509", "-new", "-key", str(paths["ca_key"]), "-sha256",
              "-days", "3650", "-subj", "/O=imapgate demo/CN=imapgate demo CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign",
              "-addext", "subjectKeyIdentifier=hash",
              "-out", str(paths["ca"])])
        _run(["openssl", "genpkey", *ec, "-out", str(paths["key"])])
        csr = d / "server.csr"
        ext = d / "server.ext"
        san = ",".join([f"DNS:{n}" for n in dns_names] + [f"IP:{i}" for i in ips])
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n"
            f"subjectAltName={san}\n")
        first = next(iter(dns_names), "localhost")
        _run(["openssl", "req", "-new", "-key", str(paths["key"]), "-subj", f"/CN={first}",
              "-out", str(csr)])
        _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(paths["ca"]),
              "-CAkey", str(paths["ca_key"]), "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
              "-days", "825", "-sha256", "-extfile", str(ext), "-out", str(paths["cert"])])
        csr.unlink()
        ext.unlink()
    finally:
        os.umask(old_umask)
    for name in ("ca", "cert"):
        paths[name].chmod(0o644)
    return paths


# --------------------------------------------------------------------------------------------
# Mail
# --------------------------------------------------------------------------------------------

def make_message(subject: str, body: str, to: str = "alice@demo.test",
                 sender: str = "carol@demo.test", msgid: Optional[str] = None) -> bytes:
    """A small RFC 5322 message with CRLF line ends (what an IMAP FETCH returns byte for byte)."""
    msgid = msgid or f"<{os.urandom(6).hex()}@demo.test>"
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Mon, 02 Jun 2025 10:00:00 +0000",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
    ] + body.split("\n")
    return ("\r\n".join(lines) + "\r\n").encode()


# --------------------------------------------------------------------------------------------
# Dovecot
# --------------------------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Dovecot:
    """A real Dovecot IMAP backend on 127.0.0.1:port, plaintext, all state under `root`.

    users: {"alice@demo.test": "alice-password", ...} (passwd-file, {PLAIN} scheme).
    As root the mail is owned by `nobody`; otherwise by the calling user.

    Optional, keyword only (the defaults give the plain single instance above):
      mail_home:    the directory holding the users' homes (ROOT/home by default). Two instances
                    given the same mail_home share one mail store, like a primary and a replica
                    on shared storage. Each keeps its own base_dir, state_dir, log and users file.
      shared_index: with mail_home, whether the instances also share Dovecot's index files (in
                    the maildirs). Default False: each instance keeps its indexes under
                    ROOT/index (maildir's INDEX=), while the maildir itself, its dovecot-uidlist
                    (UIDs) and dovecot-keywords stay shared, so UIDs and flags agree across
                    instances and a stale private index is only a cache that Dovecot refreshes
                    from the maildir (tests/integration/test_demo_dovecots.py checks this).
      log_path:     where Dovecot logs (ROOT/dovecot.log by default).
      ssl_cert, ssl_key: PEM files; with them the listener offers STARTTLS (`ssl = yes`; still
                    no implicit-TLS listener). Without them `ssl = no`, as before.
      master_users: {"imapgate": "its-password", ...}: master users (issue B's backend_login
                    mode master). `auth_master_user_separator = *` and a master passwd-file
                    passdb (ROOT/master-users, `pass = yes`: the user must still exist in the
                    normal passdb) before the normal one, so LOGIN "alice@demo.test*imapgate"
                    with the master password logs in as alice. Default: none (no master passdb).
    """

    def __init__(self, root, port: Optional[int] = None, instance_name: Optional[str] = None,
                 users: Optional[Dict[str, str]] = None, extra_config: str = "", *,
                 mail_home=None, shared_index: bool = False, log_path=None,
                 ssl_cert=None, ssl_key=None, master_users: Optional[Dict[str, str]] = None):
        if (ssl_cert is None) != (ssl_key is None):
            raise ValueError("ssl_cert and ssl_key go together")
        self.root = Path(root).resolve()
        self.port = port or free_port()
        self.instance_name = instance_name or f"igt{os.getpid()}x{self.port}"
        self.users: Dict[str, str] = dict(users or {})
        self.extra_config = extra_config
        self.proc: Optional[subprocess.Popen] = None
        self.conf = self.root / "dovecot.conf"
        self.base_dir = self.root / "run"
        if len(str(self.base_dir)) > 70:
            # Unix socket paths are limited to 108 bytes; keep the run dir short.
            self.base_dir = Path("/tmp") / f"imapgate-dovecot-{self.instance_name}"
        self.state_dir = self.root / "state"
        self.shared_store = mail_home is not None
        self.home_dir = Path(mail_home).resolve() if mail_home is not None else self.root / "home"
        self.shared_index = shared_index
        self.index_dir = self.root / "index"
        self.log_path = Path(log_path).resolve() if log_path is not None else self.root / "dovecot.log"
        self.ssl_cert = Path(ssl_cert).resolve() if ssl_cert is not None else None
        self.ssl_key = Path(ssl_key).resolve() if ssl_key is not None else None
        self.stderr_path = self.root / "dovecot.stderr"
        self.users_file = self.root / "users"
        self.master_users: Dict[str, str] = dict(master_users or {})
        self.master_users_file = self.root / "master-users"
        if os.geteuid() == 0:
            self.mail_user, self.mail_group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        else:
            self.mail_user = pwd.getpwuid(os.getuid()).pw_name
            self.mail_group = grp.getgrgid(os.getgid()).gr_name

    # -- files --------------------------------------------------------------------------------
    def config_text(self) -> str:
        r = self.root
        lines = [
            f"base_dir = {self.base_dir}",
            f"state_dir = {self.state_dir}",
            f"instance_name = {self.instance_name}",
            "protocols = imap",
            "listen = 127.0.0.1",
            *self._ssl_lines(),
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            f"log_path = {self.log_path}",
            "login_trusted_networks = 127.0.0.1/32",
            "imap_id_log = *",
            "verbose_proctitle = yes",
            "login_log_format_elements = user=<%u> method=%m rip=%r rport=%{rport} lip=%l mpid=%e %c session=<%{session}>",
            "mail_max_userip_connections = 1000",
            "mailbox_idle_check_interval = 1 secs",
            f"mail_location = {self.mail_location()}",
            "mail_plugins = $mail_plugins zlib",
            "protocol imap {",
            "  mail_plugins = $mail_plugins imap_zlib",
            "}",
            *self._master_lines(),
            "passdb {",
            "  driver = passwd-file",
            f"  args = {self.users_file}",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={self.mail_user} gid={self.mail_group} home={self.home_dir}/%u",
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            "    address = 127.0.0.1",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            "    port = 0",
            "  }",
            "}",
            # No growing auth penalty per IP (tests fail logins on purpose, all from 127.0.0.1).
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "service pop3-login {",
            "  inet_listener pop3 {",
            "    port = 0",
            "  }",
            "}",
        ]
        if os.geteuid() != 0:
            me = self.mail_user
            lines += [
                f"default_internal_user = {me}",
                f"default_internal_group = {self.mail_group}",
                f"default_login_user = {me}",
                "service anvil {",
                "  chroot =",
                "}",
                "service imap-login {",
                "  chroot =",
                "}",
            ]
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def _master_lines(self) -> List[str]:
        """The master-user passdb (before the normal one), or nothing without master_users."""
        if not self.master_users:
            return []
        return ["auth_master_user_separator = *",
                "passdb {",
                "  driver = passwd-file",
                "  master = yes",
                f"  args = {self.master_users_file}",
                "  pass = yes",
                "}"]

    @property
    def starttls(self) -> bool:
        """Whether the listener offers STARTTLS (ssl_cert/ssl_key given)."""
        return self.ssl_cert is not None

    def _ssl_lines(self) -> List[str]:
        if not self.starttls:
            return ["ssl = no"]
        # `ssl = yes`: STARTTLS offered, not required (loopback counts as secured for Dovecot
        # anyway). An ECDSA certificate, so no ssl_dh is needed (ECDHE only).
        return ["ssl = yes", f"ssl_cert = <{self.ssl_cert}", f"ssl_key = <{self.ssl_key}",
                "ssl_min_protocol = TLSv1.2"]

    def mail_location(self) -> str:
        """Dovecot's mail_location: maildir in each user's home; private indexes for a shared
        store unless shared_index (see the class comment)."""
        if self.shared_store and not self.shared_index:
            return f"maildir:~/Maildir:INDEX={self.index_dir}/%u"
        return "maildir:~/Maildir"

    def _write_users(self) -> None:
        self._write_passwd_file(self.users_file, self.users)
        if self.master_users:
            self._write_passwd_file(self.master_users_file, self.master_users)

    @staticmethod
    def _write_passwd_file(path: Path, users: Dict[str, str]) -> None:
        text = "".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o644)
        if os.geteuid() == 0:
            try:  # readable by Dovecot's auth process (user dovecot), not by everyone
                os.chown(tmp, 0, grp.getgrnam("dovecot").gr_gid)
                tmp.chmod(0o640)
            except KeyError:
                pass
        os.replace(tmp, path)

    def add_user(self, user: str, password: str) -> None:
        """Add (or change) a user; passwd-file is re-read by Dovecot when it changes."""
        self.users[user] = password
        self._write_users()

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # The mail uid and Dovecot's unprivileged users must be able to traverse the tree.
        for p in [self.root, *self.root.parents]:
            try:
                st = p.stat()
            except OSError:
                break
            if os.geteuid() == 0 and (st.st_mode & 0o001) == 0:
                if p == self.root or str(p).startswith(str(self.root)):
                    p.chmod(st.st_mode | 0o711)
                else:
                    raise RuntimeError(
                        f"{p} is not searchable by other users; Dovecot's mail user cannot reach {self.root}")
        self.state_dir.mkdir(exist_ok=True)
        self.home_dir.mkdir(parents=self.shared_store, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        uid = pwd.getpwnam(self.mail_user).pw_uid
        gid = grp.getgrnam(self.mail_group).gr_gid
        private = [self.home_dir]
        if self.shared_store and not self.shared_index:
            self.index_dir.mkdir(exist_ok=True)
            private.append(self.index_dir)
        for d in private:
            if os.geteuid() == 0:
                os.chown(d, uid, gid)
            d.chmod(0o700)
        self.conf.write_text(self.config_text())
        self._write_users()

    # -- process ------------------------------------------------------------------------------
    def cleanup_stale(self) -> None:
        """Stop a Dovecot left running from an earlier run of the same directory, drop stale files."""
        pidfile = self.base_dir / "master.pid"
        if pidfile.exists():
            try:
                pid = int(pidfile.read_text().strip())
            except ValueError:
                pid = 0
            if pid and _pid_alive(pid) and "dovecot" in _proc_cmdline(pid):
                subprocess.run(["doveadm", "-c", str(self.conf), "stop"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                deadline = time.monotonic() + 10
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if self.base_dir.exists():
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def start(self, timeout: float = 20.0) -> "Dovecot":
        if port_accepts(self.port):
            raise RuntimeError(f"127.0.0.1:{self.port} is already in use")
        self._prepare()
        self.cleanup_stale()
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                     start_new_session=True)
        err.close()
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dovecot exited with {self.proc.returncode}:\n{self.diagnostics()}")
                if port_accepts(self.port):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"dovecot did not listen on {self.port}:\n{self.diagnostics()}")
                time.sleep(0.05)
            wait_for_greeting(self.port, timeout=max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def diagnostics(self) -> str:
        out = []
        for p in (self.stderr_path, self.log_path):
            try:
                out.append(f"--- {p} ---\n" + p.read_text(errors="replace")[-4000:])
            except OSError:
                pass
        return "\n".join(out)

    def stop(self, timeout: float = 15.0, use_doveadm: bool = True) -> None:
        """Stop the master (`doveadm stop`, or SIGTERM straight to it) and wait until it exits."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if use_doveadm:
                subprocess.run(["doveadm", "-c", str(self.conf), "stop"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.proc = None
        if str(self.base_dir).startswith("/tmp/imapgate-dovecot-"):
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- mail ---------------------------------------------------------------------------------
    def deliver(self, user: str, message: bytes, mailbox: str = "INBOX") -> None:
        """Store `message` in the user's mailbox with `doveadm save` (Dovecot must be running)."""
        # Dovecot re-reads passwd-file at most once a second: a user added just now may need a retry.
        deadline = time.monotonic() + 3
        while True:
            try:
                _run(["doveadm", "-c", str(self.conf), "save", "-u", user, "-m", mailbox], input=message)
                return
            except RuntimeError as e:
                if "doesn't exist" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def logins(self, user: Optional[str] = None) -> List[str]:
        """Lines of this instance's log that record a successful IMAP login (of `user` if given):
        which backend a session really reached, asserted on the backend side."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        want = f"Login: user=<{user}>" if user is not None else "Login: user=<"
        return [l for l in text.splitlines() if "imap-login:" in l and want in l]

    def session_pids(self, user: Optional[str] = None) -> List[int]:
        """Pids of the `imap` processes (one per logged-in session), optionally for one user."""
        pids = []
        if self.proc is None:
            return pids
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid != self.proc.pid:
                continue
            cmd = _proc_cmdline(int(d.name))
            title = cmd.strip().split(" ", 1)[0]
            if title == "dovecot/imap" or title.endswith("/imap"):
                if user is None or user in cmd:
                    pids.append(int(d.name))
        return pids


# --------------------------------------------------------------------------------------------
# imapgate
# --------------------------------------------------------------------------------------------

DEFAULT_LIMITS = {
    "max_command_line": "8KiB", "max_literal": "8KiB", "max_preauth_bytes": "64KiB",
    "max_bad_commands": 10, "max_auth_attempts": 3, "relay_high_watermark": "256KiB",
    "relay_low_watermark": "64KiB", "backend_max_line": "64KiB",
}
DEFAULT_TIMEOUTS = {
    "preauth": "60s", "tls_handshake": "10s", "idle": "30m", "backend_connect": "5s",
    "backend_login": "15s", "shutdown_grace": "10s",
}


_PLAIN_SCALAR_BAD = set(",[]{}#&*!|>'\"%@`")


def _scalar(v) -> str:
    """A YAML scalar: booleans as true/false, numbers as they are, strings plain when that is
    safe (every value the harness wrote before the shard keys; "false" stays a plain false),
    JSON-quoted otherwise (a path with a space or a comma, say)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if (s == "" or s != s.strip() or ": " in s or " #" in s or s.endswith(":")
            or s[0] in "-?:" or any(ch in _PLAIN_SCALAR_BAD for ch in s)):
        return json.dumps(s)
    return s


def _flow(d: Dict) -> str:
    return "{ " + ", ".join(f"{k}: {_scalar(v)}" for k, v in d.items()) + " }"


def unprivileged_account() -> Optional[Tuple[str, str]]:
    """As root: the (user, group) imapgate is told to switch to (nobody and its primary group),
    since imapgate refuses to serve as root. Otherwise None: imapgate runs as the caller."""
    if os.geteuid() != 0:
        return None
    pw = pwd.getpwnam("nobody")
    return "nobody", grp.getgrgid(pw.pw_gid).gr_name


def shard_backend(name: str, port: int, security: str = "plaintext", tls_ca=None,
                  tls_server_name: Optional[str] = None, **extra) -> Dict:
    """One backend entry of a shard (for imapgate_yaml's `shards`): name, 127.0.0.1:port, link
    security (plaintext | tls | starttls), and for tls/starttls the CA and the name to verify."""
    b: Dict = {"name": name, "address": f"{LOOPBACK}:{port}", "security": security}
    if tls_ca is not None:
        b["tls_ca"] = str(tls_ca)
    if tls_server_name is not None:
        b["tls_server_name"] = tls_server_name
    b.update(extra)
    return b


def _shards_yaml(shards) -> List[str]:
    """`shards:` in block style. Each shard: (name, [backend dicts]), (name, [backends], weight)
    or a dict {name, weight?, backends}."""
    out = ["shards:"]
    for sh in shards:
        if isinstance(sh, dict):
            name, backends, weight = sh["name"], sh["backends"], sh.get("weight")
        elif len(sh) == 2:
            (name, backends), weight = sh, None
        else:
            name, backends, weight = sh
        out.append(f"  - name: {_scalar(name)}")
        if weight is not None:
            out.append(f"    weight: {_scalar(weight)}")
        out.append("    backends:")
        out += [f"      - {_flow(b)}" for b in backends]
    return out


def _routing_yaml(routing: Dict) -> List[str]:
    """`routing:` with default_domain, override_file and domains (a map domain -> shard)."""
    out = ["routing:"]
    for k, v in routing.items():
        if k == "domains":
            out.append(f"  domains: {_flow(v) if v else '{ }'}")
        else:
            out.append(f"  {k}: {_scalar(v)}")
    return out


def imapgate_yaml(cert: str, key: str, backend_port: Optional[int] = None, implicit_port: Optional[int] = None,
                  starttls_port: Optional[int] = None, admin_port: Optional[int] = None,
                  backend_security: str = "plaintext", backend_extra: Optional[Dict] = None,
                  limits: Optional[Dict] = None, timeouts: Optional[Dict] = None,
                  workers: int = 2, log_level: str = "info", drop_privileges: bool = True,
                  allow_root: bool = False, *, shards: Optional[List] = None,
                  routing: Optional[Dict] = None, admin_token_file=None,
                  health_checks: Optional[Dict] = None, drain_grace: Optional[str] = None,
                  abuse: Optional[str] = "enabled: false") -> str:
    """The text of an imapgate YAML config with the schema's exact keys. As root it names an
    unprivileged `user:`/`group:` to switch to after binding (see unprivileged_account);
    drop_privileges=False leaves them out (for a build older than those keys, e.g. an A/B run).
    allow_root=True keeps the process as started, root included (for tools that attach to it,
    such as callgrind_control: a process that switched user and is not dumpable refuses them).

    One backend: backend_port (+ backend_security, backend_extra) gives A's `backend:` key, and
    the output is exactly what it was before shards existed. Shards instead: shards=[(name,
    [backend dicts]) or (name, [backends], weight), ...] (see shard_backend), with optional
    routing={"default_domain": ..., "override_file": ..., "domains": {domain: shard}},
    admin_token_file (admin.token_file; needs admin_port), health_checks={"interval": "2s",
    "timeout": ..., "rise": ..., "fall": ...} and drain_grace (timeouts.drain_grace). Giving both
    backend_port and shards writes both keys: a config imapgate must refuse.

    abuse: the body of the `abuse:` section (issue C), one key per line, nested mappings in flow
    style (e.g. "tarpit_after: 3\nconnections: { per_address: 5 }"); None leaves the
    section out (imapgate's defaults: the defence on). The default turns the defence off, so a
    test or a benchmark that opens many connections or fails many logins from 127.0.0.1 measures
    what it is about; the abuse tests pass their own."""
    if backend_port is None and not shards:
        raise ValueError("imapgate_yaml needs backend_port or shards")
    out = [f"workers: {workers}", f"log_level: {log_level}"]
    account = unprivileged_account() if drop_privileges and not allow_root else None
    if account:
        out += [f"user: {account[0]}", f"group: {account[1]}"]
    if allow_root:
        out.append("allow_root: true")
    out.append("listeners:")
    tls = _flow({"certificate": cert, "key": key})
    if implicit_port:
        out += ["  - name: imaps", f"    address: {LOOPBACK}:{implicit_port}",
                "    mode: implicit", f"    tls: {tls}"]
    if starttls_port:
        out += ["  - name: imap", f"    address: {LOOPBACK}:{starttls_port}",
                "    mode: starttls", f"    tls: {tls}"]
    if backend_port is not None:
        backend = {"name": "default", "address": f"{LOOPBACK}:{backend_port}", "security": backend_security}
        backend.update(backend_extra or {})
        out.append(f"backend: {_flow(backend)}")
    if shards:
        out += _shards_yaml(shards)
    if routing:
        out += _routing_yaml(routing)
    lim = dict(DEFAULT_LIMITS)
    lim.update(limits or {})
    out.append(f"limits: {_flow(lim)}")
    tmo = dict(DEFAULT_TIMEOUTS)
    tmo.update(timeouts or {})
    if drain_grace is not None:
        tmo["drain_grace"] = drain_grace
    out.append(f"timeouts: {_flow(tmo)}")
    if health_checks:
        out.append(f"health_checks: {_flow(health_checks)}")
    if admin_port:
        adm = {"address": f"{LOOPBACK}:{admin_port}"}
        if admin_token_file is not None:
            adm["token_file"] = str(admin_token_file)
        out.append(f"admin: {_flow(adm)}")
    elif admin_token_file is not None:
        raise ValueError("admin_token_file needs admin_port")
    if abuse is not None:
        out.append("abuse:")
        out += ["  " + line for line in abuse.splitlines()]
    return "\n".join(out) + "\n"


def readable_after_privilege_drop(key_file: Path, *secret_files: Path) -> None:
    """As root, imapgate reads its files at start and then runs as nobody (user:/group: in the
    config); a reload (SIGHUP, POST /api/v1/reload) reads them again as nobody. Give the secret
    files (the admin token, ...) to that account (they must stay 0600) and the TLS key to its
    group (0640 root:GROUP), as a deployment does. Not root: nothing to do."""
    account = unprivileged_account()
    if account is None:
        return
    uid = pwd.getpwnam(account[0]).pw_uid
    gid = grp.getgrnam(account[1]).gr_gid
    for f in secret_files:
        os.chown(f, uid, gid)
        Path(f).chmod(0o600)
    os.chown(key_file, 0, gid)
    Path(key_file).chmod(0o640)


def write_admin_token(path) -> str:
    """A random admin bearer token (secrets.token_urlsafe, 256 bits) in a new file `path`, mode
    0600 from its creation, owned by the caller. An existing non-empty file is kept (its mode is
    tightened to 0600). Returns the token."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _kept_secret(path, lambda: secrets.token_urlsafe(32))


class Redis:
    """A redis-server on 127.0.0.1:port for the fleet store (issue C): no persistence, its files in
    root, stopped with the object. kill() and start() again (the same port) simulate an outage."""

    def __init__(self, root, port: Optional[int] = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.root / "redis.log"

    def start(self, timeout: float = 10.0) -> "Redis":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--logfile", str(self.log_path), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.log_path}")
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {LOOPBACK}:{self.port} did not answer within {timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: an outage, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


class PrometheusError(RuntimeError):
    """Prometheus's HTTP API answered an error (a query that does not parse or run, ...)."""


class Prometheus:
    """A real Prometheus server (Debian's `prometheus`) on 127.0.0.1:port scraping imapgate's admin
    endpoint(s) `targets` ("127.0.0.1:PORT", job `imapgate`) every `scrape_interval`, with the
    rule files `rule_files` loaded and evaluated as often. Its config (ROOT/prometheus.yml), TSDB
    (ROOT/data) and log (ROOT/prometheus.log) live in `root`; start() waits until it is ready,
    stop() ends it (SIGTERM, then SIGKILL). The API helpers raise PrometheusError on an error answer.
    Only loopback is ever listened on or scraped."""

    JOB = "imapgate"

    def __init__(self, root, targets: Iterable[str], rule_files: Iterable = (), port: Optional[int] = None,
                 scrape_interval: str = "1s"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.targets = list(targets)
        for t in self.targets:
            if not t.startswith(LOOPBACK + ":"):
                raise ValueError(f"only loopback is ever a target: {t}")
        self.rule_files = [str(Path(r).resolve()) for r in rule_files]
        self.port = port or free_port()
        self.scrape_interval = scrape_interval
        self.config_path = self.root / "prometheus.yml"
        self.data_dir = self.root / "data"
        self.log_path = self.root / "prometheus.log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def config_text(self) -> str:
        lines = ["# Written by demostack.Prometheus: imapgate's admin endpoint(s), its alert rules.",
                 "global:",
                 f"  scrape_interval: {self.scrape_interval}",
                 f"  scrape_timeout: {self.scrape_interval}",
                 f"  evaluation_interval: {self.scrape_interval}"]
        if self.rule_files:
            lines += ["rule_files:"] + [f"  - {json.dumps(r)}" for r in self.rule_files]
        lines += ["scrape_configs:",
                  f"  - job_name: {self.JOB}",
                  "    metrics_path: /metrics",
                  "    static_configs:",
                  f"      - targets: {json.dumps(self.targets)}"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 60.0) -> "Prometheus":
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.config_path.write_text(self.config_text())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.data_dir}",
             f"--web.listen-address={LOOPBACK}:{self.port}", "--storage.tsdb.retention.time=2d",
             "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(self.root), start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if self._get("/-/ready")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus on {self.url} was not ready within {timeout}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _get(self, path: str, timeout: float = 10.0) -> Tuple[int, bytes]:
        import urllib.error
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never a proxy
        try:
            with opener.open(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def api(self, path: str, **params) -> object:
        """GET /api/v1/PATH?params; the answer's `data`. PrometheusError on an error answer."""
        import urllib.parse
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = self._get(f"/api/v1/{path}" + (f"?{query}" if query else ""))
        try:
            answer = json.loads(body)
        except ValueError:
            raise PrometheusError(f"/api/v1/{path}: HTTP {status}, not JSON: {body[:300]!r}")
        if status != 200 or answer.get("status") != "success":
            raise PrometheusError(f"{answer.get('errorType', status)}: {answer.get('error', body[:300])}")
        return answer["data"]

    def query(self, expr: str) -> List[Dict]:
        """An instant query (now); the result's list of {metric, value} (a scalar as one item)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def active_targets(self) -> List[Dict]:
        return self.api("targets", state="active")["activeTargets"]

    def wait_targets_up(self, timeout: float = 30.0) -> List[Dict]:
        """Wait until every configured target has been scraped successfully (health "up")."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.active_targets()
            up = {t["labels"].get("instance") for t in active if t.get("health") == "up"}
            if set(self.targets) <= up:
                return active
            if time.monotonic() > deadline:
                raise TimeoutError(f"targets not up within {timeout}s: "
                                   + "; ".join(f"{t['scrapeUrl']} {t['health']} {t.get('lastError', '')}"
                                               for t in active))
            time.sleep(0.2)

    def rule_groups(self) -> List[Dict]:
        return self.api("rules")["groups"]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


class ImapGate:
    """An imapgate process: `BIN -c CONFIG`, stderr captured to a file."""

    def __init__(self, binary, config, stderr_path, ports: Iterable[int] = (), env=None,
                 prefix: Iterable[str] = ()):
        self.prefix = list(prefix)  # e.g. ["prlimit", "--nofile=64:64", "--"] (which execs imapgate)
        self.binary = str(binary)
        self.config = str(config)
        self.stderr_path = Path(stderr_path)
        self.ports = [p for p in ports if p]
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    def start(self, timeout: float = 20.0, new_session: bool = True) -> "ImapGate":
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.prefix + [self.binary, "-c", self.config], stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err, env=self.env,
                                     start_new_session=new_session)
        err.close()
        try:
            for p in self.ports:
                wait_for_port(p, timeout=timeout, proc=self.proc)
        except BaseException as e:
            self.stop(timeout=5)
            raise RuntimeError(f"imapgate did not start: {e}\n--- stderr ---\n{self.stderr()[-4000:]}") from e
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> Optional[int]:
        """Send `sig`, wait; SIGKILL after `timeout`. Returns the exit code (negative = signal)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode


# --------------------------------------------------------------------------------------------
# The demo (scripts/demo)
# --------------------------------------------------------------------------------------------

DEMO_USERS = {"alice@demo.test": "alice-password", "bob@demo.test": "bob-password"}
# More users, so the router's hash has something to spread. The hash lives in imapgate (C++),
# so the demo cannot know where it puts them: their mail is delivered to BOTH shards' stores and
# they are in every backend's passwd-file, and the demo works wherever the hash lands them.
DEMO_MORE_USERS = {f"{n}@demo.test": f"{n}-password" for n in ("carol", "dave", "erin", "frank")}
# alice and bob are pinned by the override file; each exists only on its own shard's backends,
# so a user sent to the wrong shard would fail to log in rather than see an empty mailbox.
DEMO_OVERRIDES = {"alice@demo.test": "shard-a", "bob@demo.test": "shard-b"}
DEMO_BACKEND_PORT = 11143      # a1, the primary of shard-a (A's single backend port)
DEMO_IMPLICIT_PORT = 10993
DEMO_STARTTLS_PORT = 10143
DEMO_ADMIN_PORT = 9464
# shard -> [(backend, port)], primary first; the backends of a shard share one mail store.
DEMO_SHARDS = {
    "shard-a": [("a1", DEMO_BACKEND_PORT), ("a2", 11144)],
    "shard-b": [("b1", 11145)],
}
DEMO_STARTTLS_SHARDS = ("shard-b",)   # linked with STARTTLS, verified against the demo CA
# Issue B: imapgate checks the demo users itself, from .demo/users.yaml (yescrypt hashes), and
# logs in to the backends as the master user "imapgate" (so an app password, which only imapgate
# knows, works too). carol has a second factor: her password followed by the current TOTP code.
DEMO_TOTP_USERS = {"carol@demo.test": "JBSWY3DPEHPK3PXP"}
DEMO_MASTER_USER = "imapgate"
# `scripts/demo --fleet` (issue C): a redis-server and a second imapgate sharing the abuse state
# (failures, tarpits, blocks, kicks) with the first; the same users, backends and CA.
DEMO_FLEET_REDIS_PORT = 16379
DEMO_FLEET_IMPLICIT_PORT = 20993
DEMO_FLEET_STARTTLS_PORT = 20143
DEMO_FLEET_ADMIN_PORT = 29464
# The second instance's ports, by the first's.
DEMO_FLEET_PORT_MAP = {DEMO_IMPLICIT_PORT: DEMO_FLEET_IMPLICIT_PORT, DEMO_STARTTLS_PORT: DEMO_FLEET_STARTTLS_PORT,
                       DEMO_ADMIN_PORT: DEMO_FLEET_ADMIN_PORT}
# Issue E: a real Prometheus scraping the demo's imapgate(s) (both with --fleet) every few seconds,
# with monitoring/alerts.yml loaded; its config, TSDB and log in .demo/prometheus/.
DEMO_PROMETHEUS_PORT = 19090
DEMO_PROMETHEUS_SCRAPE_INTERVAL = "5s"


def demo_alert_rules(repo: Path) -> Path:
    """The alert rules the demo's Prometheus loads: the repository's monitoring/alerts.yml, or the
    one next to this script when the repository has none (a copy with only conf/)."""
    mine = repo / "monitoring" / "alerts.yml"
    return mine if mine.exists() else Path(__file__).resolve().parents[2] / "monitoring" / "alerts.yml"


def _write_secret(path: Path, text: str) -> None:
    """`text` into a new file `path`, mode 0600 from its creation."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _kept_secret(path: Path, make) -> str:
    """The secret in `path` (kept across demo runs), or a new one from make(), written 0600."""
    try:
        old = path.read_text().strip()
    except OSError:
        old = ""
    if old:
        path.chmod(0o600)
        return old
    value = make()
    _write_secret(path, value + "\n")
    return value


def app_password_hash(app_password: str) -> str:
    """Dovecot's {SHA256} scheme (base64 of SHA-256), what imapgate --new-app-password prints."""
    return "{SHA256}" + base64.b64encode(hashlib.sha256(app_password.encode()).digest()).decode()


def write_demo_users(demo: Path, binary: Path, users: Dict[str, str], app_password: str) -> Path:
    """.demo/users.yaml: every demo user with a yescrypt hash made by `imapgate --hash-password`,
    carol's TOTP secret and her app password ("phone"). Written at every start (new salts)."""
    lines = ["# imapgate demo users (issue B), written by scripts/demo at every start.",
             "# Passwords are hashed with `imapgate --hash-password yescrypt`.", "users:"]
    for user, password in users.items():
        h = subprocess.run([str(binary), "--hash-password", "yescrypt"], input=(password + "\n").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout.decode().strip()
        lines.append(f"  {user}:")
        lines.append(f"    password: \"{h}\"")
        if user in DEMO_TOTP_USERS:
            lines.append(f"    totp: {DEMO_TOTP_USERS[user]}")
            lines.append(f"    app_passwords: [ {{ name: phone, hash: \"{app_password_hash(app_password)}\" }} ]")
    path = demo / "users.yaml"
    _write_secret(path, "\n".join(lines) + "\n")
    return path


def _demo_messages(user: str, shard: Optional[str] = None) -> List[bytes]:
    name = user.split("@")[0].capitalize()
    where = f" It is stored on {shard}." if shard else ""
    return [
        make_message(f"Welcome to imapgate, {name}",
                     f"This message came through a real Dovecot behind imapgate.{where}", to=user),
        make_message("Lunch on Friday?", "Are we still on for Friday at noon?\n-- Carol", to=user),
        make_message("Quarterly report", "The numbers look good.\nSee you at the review.", to=user),
    ]


def _stop_pid(pid: int, what: str, timeout: float = 10.0, also: str = "") -> None:
    """SIGTERM, then SIGKILL after `timeout`, to a process whose command line names `what` (and
    `also`, e.g. its config file, so that a reused pid of someone else's process is left alone)."""
    cmd = _proc_cmdline(pid) if pid and _pid_alive(pid) else ""
    if what not in cmd or also not in cmd:
        return
    print(f"[demo] stopping a stale {what} (pid {pid})")
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


class DemoBackend:
    """One Dovecot of the demo: NAME on 127.0.0.1:port in .demo/backends/NAME/, its log at
    .demo/backends/NAME.log and its master's pid in .demo/backends/NAME.pid."""

    def __init__(self, demo: Path, shard: str, name: str, port: int, users: Dict[str, str],
                 tls: Optional[Dict[str, Path]], master_users: Optional[Dict[str, str]] = None):
        self.shard, self.name = shard, name
        self.primary = DEMO_SHARDS[shard][0][0] == name
        bdir = demo / "backends"
        self.pidfile = bdir / f"{name}.pid"
        self.dove = Dovecot(bdir / name, port=port, instance_name=f"imapgate-demo-{name}", users=users,
                            mail_home=demo / "mail" / shard, log_path=bdir / f"{name}.log",
                            ssl_cert=tls["cert"] if tls else None, ssl_key=tls["key"] if tls else None,
                            master_users=master_users)
        self.reported_exit = False

    def master_pid(self) -> int:
        """The running master's pid: ours, or one started again by hand (`dovecot -c CONF`)."""
        if self.dove.proc is not None and self.dove.proc.poll() is None:
            return self.dove.proc.pid
        pid = _read_pid(self.dove.base_dir / "master.pid")
        return pid if pid and _pid_alive(pid) and "dovecot" in _proc_cmdline(pid) else 0

    def cleanup_stale(self) -> None:
        _stop_pid(_read_pid(self.pidfile), "dovecot", also=f"{self.name}/dovecot.conf")
        self.dove._prepare()
        self.dove.cleanup_stale()
        self.pidfile.unlink(missing_ok=True)

    def stop(self) -> None:
        self.dove.stop()
        self.dove.cleanup_stale()   # also one started again by hand after the exercise
        self.pidfile.unlink(missing_ok=True)

    def watch(self) -> None:
        """Report the master's exit once; follow a master started again by hand in the pid file."""
        pid = self.master_pid()
        if pid == 0 and not self.reported_exit:
            self.reported_exit = True
            print(f"\n[demo] Dovecot {self.name} ({self.shard}, 127.0.0.1:{self.dove.port}) is down. "
                  f"Bring it back with: dovecot -c {_rel(self.dove.conf)}\n", flush=True)
        elif pid and _read_pid(self.pidfile) != pid:
            self.pidfile.write_text(f"{pid}\n")
            if self.reported_exit:
                print(f"\n[demo] Dovecot {self.name} is back (pid {pid})\n", flush=True)
            self.reported_exit = False


_REPO: Optional[Path] = None


def _rel(p: Path) -> str:
    try:
        return str(Path(p).relative_to(_REPO)) if _REPO else str(p)
    except ValueError:
        return str(p)


def _maildir_count(dove: Dovecot, user: str) -> int:
    inbox = dove.home_dir / user / "Maildir"
    if not inbox.exists():
        return 0
    return len(list((inbox / "cur").glob("*"))) + len(list((inbox / "new").glob("*")))


def _write_demo_overrides(path: Path) -> None:
    lines = ["# imapgate demo: routing overrides, one `user shard` per line; they win over the hash.",
             "# Written by scripts/demo at every start. Other users go where the hash puts them."]
    lines += [f"{u} {s}" for u, s in DEMO_OVERRIDES.items()]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o644)
    os.replace(tmp, path)


def demo_config_text(demo: Path, tls: Dict[str, Path]) -> str:
    """The demo's config, generated when conf/imapgate.yaml is missing (same shards and ports)."""
    shards = []
    for shard, members in DEMO_SHARDS.items():
        if shard in DEMO_STARTTLS_SHARDS:
            shards.append((shard, [shard_backend(n, p, "starttls", tls_ca=tls["ca"], tls_server_name="localhost")
                                   for n, p in members]))
        else:
            shards.append((shard, [shard_backend(n, p) for n, p in members]))
    return imapgate_yaml(str(tls["cert"]), str(tls["key"]), None, DEMO_IMPLICIT_PORT, DEMO_STARTTLS_PORT,
                         DEMO_ADMIN_PORT, workers=0, shards=shards,
                         routing={"default_domain": "demo.test", "override_file": str(demo / "overrides")},
                         admin_token_file=str(demo / "admin-token"),
                         health_checks={"interval": "2s", "timeout": "2s", "rise": 2, "fall": 2},
                         drain_grace="10s")


_ABUSE_FLEET_KEYS = ("store", "redis", "key_file")


def _fleet_abuse(lines: List[str], key_file: Path) -> List[str]:
    """`lines` with the top-level `abuse:` section set to the fleet's shared store: its own
    store/redis/key_file keys (a nested block under one of them included) replaced by store: redis,
    the demo's redis-server and key_file. Other keys and comments are kept; with no `abuse:`
    section one is appended."""
    shared = ["store: redis",
              f'redis: {{ address: "{LOOPBACK}:{DEMO_FLEET_REDIS_PORT}" }}',
              f"key_file: {key_file}"]
    starts = [i for i, line in enumerate(lines) if re.match(r"abuse\s*:", line)]
    if not starts:
        return lines + ["", "# scripts/demo --fleet: one abuse state for both instances.", "abuse:"] + \
            ["  " + k for k in shared]
    if len(starts) > 1 or not re.fullmatch(r"abuse\s*:\s*(#.*)?", lines[starts[0]]):
        raise ValueError("its `abuse:` section is not a block mapping (`abuse:` alone on its line)")
    begin = starts[0]
    end = next((j for j in range(begin + 1, len(lines)) if lines[j] and not lines[j][0].isspace()), len(lines))
    body = lines[begin + 1:end]
    keys = [ln for ln in body if ln.strip() and not ln.lstrip().startswith("#")]
    indent = (len(keys[0]) - len(keys[0].lstrip())) if keys else 2
    kept: List[str] = []
    insert_at: Optional[int] = None
    skip_deeper = False
    for ln in body:
        depth = len(ln) - len(ln.lstrip())
        if skip_deeper and ln.strip():
            if depth > indent:
                continue                # the block value of a replaced key
            if not ln.lstrip().startswith("#"):
                skip_deeper = False
        m = re.match(r"(\s*)([a-z_]+)\s*:(.*)$", ln)
        if m and len(m.group(1)) == indent and m.group(2) in _ABUSE_FLEET_KEYS:
            if insert_at is None:
                insert_at = len(kept)
            value = m.group(3).split("#", 1)[0].strip()
            skip_deeper = value == ""
            continue
        kept.append(ln)
    pad = " " * indent
    new = [pad + "# scripts/demo --fleet: one abuse state for both instances, in the demo's redis-server."] + \
        [pad + k for k in shared]
    if insert_at is None:
        insert_at = 0
    kept[insert_at:insert_at] = new
    return lines[:begin + 1] + kept + lines[end:]


def fleet_config_text(base: str, key_file: Path, instance: int) -> str:
    """The config of fleet instance 1 or 2 (`scripts/demo --fleet`), from the text of the demo's
    config (conf/imapgate.yaml): the same keys, with abuse.store: redis on 127.0.0.1:16379 and the
    shared abuse key_file; instance 2 also on its own listeners and admin address (20993, 20143,
    29464 for 10993, 10143, 9464). Relative paths stay as they are: the result is meant for a file
    in .demo/, whose `../.demo/X` is the same file as conf/'s. Raises ValueError when `base` does not
    have the demo's three addresses or its abuse section cannot be rewritten."""
    if instance not in (1, 2):
        raise ValueError("instance is 1 or 2")
    lines = base.splitlines()
    addr = re.compile(r"""(\baddress\s*:\s*["']?)127\.0\.0\.1:(\d+)\b""")
    found: Dict[int, int] = {}

    def move(m: re.Match) -> str:
        port = int(m.group(2))
        if port not in DEMO_FLEET_PORT_MAP:
            return m.group(0)
        found[port] = found.get(port, 0) + 1
        return f"{m.group(1)}{LOOPBACK}:{DEMO_FLEET_PORT_MAP[port] if instance == 2 else port}"

    out = []
    for ln in lines:
        code, hash_, comment = ln.partition("#")     # addresses in comments stay as they are
        out.append(addr.sub(move, code) + hash_ + comment)
    missing = [p for p in DEMO_FLEET_PORT_MAP if found.get(p) != 1]
    if missing:
        raise ValueError("it does not name each of the demo's addresses once: "
                         + ", ".join(f"{LOOPBACK}:{p}" for p in missing))
    head = [f"# imapgate demo fleet, instance {instance} of 2: written by `scripts/demo --fleet` at every start",
            "# from the demo's config; edit that one instead. Relative paths resolve against .demo/."]
    return "\n".join(head + _fleet_abuse(out, key_file)) + "\n"


def _shard_map(backends: List[DemoBackend], ca: str) -> str:
    rows = [f"  {'shard':<8} {'backend':<13} {'address':<16} link to imapgate"]
    last = None
    for b in backends:
        link = (f"STARTTLS, verified against {ca} (name localhost)" if b.dove.starttls else "plaintext")
        role = f"{b.name} ({'primary' if b.primary else 'replica'})"
        shard = b.shard if b.shard != last else ""
        last = b.shard
        rows.append(f"  {shard:<8} {role:<13} 127.0.0.1:{b.dove.port:<6} {link}")
    store = ", ".join(f"{s}: .demo/mail/{s}/" for s in DEMO_SHARDS)
    return "\n".join(rows) + f"\n  mail stores: {store} (a1 and a2 share shard-a's)"


class _LogFollower:
    """Follows a log file from its current end; fleet mode prefixes each line with the instance."""

    def __init__(self, path: Path, prefix: str = ""):
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.prefix = prefix
        self.partial = b""

    def pump(self) -> None:
        chunk = self.f.read()
        if not chunk:
            return
        if not self.prefix:
            sys.stdout.write(chunk.decode(errors="replace"))
        else:
            lines = (self.partial + chunk).split(b"\n")
            self.partial = lines.pop()
            for line in lines:
                sys.stdout.write(self.prefix + line.decode(errors="replace") + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        self.f.close()


def _fleet_banner(ca: str, conf1: str, conf2: str) -> str:
    return f"""
Fleet (--fleet): a second imapgate shares one abuse state with the first through redis-server on
127.0.0.1:{DEMO_FLEET_REDIS_PORT} (failures, tarpits, blocks; an admin kick on either ends the user's sessions on both).
  instance 1: 127.0.0.1:{DEMO_IMPLICIT_PORT} (implicit TLS), 127.0.0.1:{DEMO_STARTTLS_PORT} (STARTTLS), admin http://127.0.0.1:{DEMO_ADMIN_PORT}  ({conf1}, log .demo/imapgate.log)
  instance 2: 127.0.0.1:{DEMO_FLEET_IMPLICIT_PORT} (implicit TLS), 127.0.0.1:{DEMO_FLEET_STARTTLS_PORT} (STARTTLS), admin http://127.0.0.1:{DEMO_FLEET_ADMIN_PORT}  ({conf2}, log .demo/imapgate-2.log)
  Both: the same users, backends, master password, admin token and CA; abuse.store: redis with the
  key .demo/abuse-key. redis-server's log: .demo/redis/redis.log. Their log lines below start [1] and [2].

  Fail a password on instance 1, see it counted on instance 2 (its next login there waits once 3 failed):
    curl --cacert {ca} 'imaps://localhost:{DEMO_IMPLICIT_PORT}/INBOX' -u alice@demo.test:wrong-password
    curl -s 'http://127.0.0.1:{DEMO_FLEET_ADMIN_PORT}/api/v1/abuse/address?address=127.0.0.1'
  Kick alice on instance 1; her session on instance 2 ends (* BYE):
    curl -X POST -H "Authorization: Bearer $(cat .demo/admin-token)" http://127.0.0.1:{DEMO_ADMIN_PORT}/api/v1/users/alice@demo.test/kick
"""


def run_demo(repo: Path, binary: Path, config: Optional[Path] = None, fleet: bool = False) -> int:
    """The demo in the foreground until Ctrl-C/SIGTERM. fleet: also a redis-server on 16379 and a
    second imapgate (20993, 20143, admin 29464) sharing the abuse state with the first; both run
    configs derived from `config` (.demo/fleet-1.yaml, .demo/fleet-2.yaml, see fleet_config_text)."""
    global _REPO
    _REPO = repo
    demo = repo / ".demo"
    demo.mkdir(exist_ok=True)
    demo.chmod(0o755)
    tls = make_ca_and_server_cert(demo / "tls")
    print(f"[demo] TLS: CA {_rel(tls['ca'])}, server cert {_rel(tls['cert'])}")

    # Stop leftovers of an earlier run (killed hard) before taking the ports.
    pidfile = demo / "imapgate.pid"
    _stop_pid(_read_pid(pidfile), "imapgate")
    pidfile.unlink(missing_ok=True)
    # ... and of an earlier --fleet run: its second imapgate and its redis-server.
    pidfile2 = demo / "imapgate-2.pid"
    _stop_pid(_read_pid(pidfile2), "imapgate")
    pidfile2.unlink(missing_ok=True)
    redis_pidfile = demo / "redis.pid"
    _stop_pid(_read_pid(redis_pidfile), "redis-server", also=str(DEMO_FLEET_REDIS_PORT))
    redis_pidfile.unlink(missing_ok=True)
    # ... and its Prometheus.
    prom_pidfile = demo / "prometheus.pid"
    _stop_pid(_read_pid(prom_pidfile), "prometheus", also=str(demo / "prometheus"))
    prom_pidfile.unlink(missing_ok=True)
    legacy = demo / "dovecot"   # the single Dovecot of the demo before shards
    if (legacy / "dovecot.conf").exists():
        old = Dovecot(legacy, port=DEMO_BACKEND_PORT, instance_name="imapgate-demo")
        if _read_pid(old.base_dir / "master.pid"):
            print("[demo] stopping the single Dovecot of an earlier (pre-shard) demo run, if it runs")
        old.cleanup_stale()

    everyone = dict(DEMO_USERS, **DEMO_MORE_USERS)
    master_password = _kept_secret(demo / "master-password", lambda: secrets.token_urlsafe(24))
    app_password = _kept_secret(demo / "carol-app-password", lambda: secrets.token_urlsafe(18))
    users_file = write_demo_users(demo, binary, everyone, app_password)
    backends: List[DemoBackend] = []
    for shard, members in DEMO_SHARDS.items():
        users = {u: p for u, p in everyone.items() if DEMO_OVERRIDES.get(u, shard) == shard}
        for name, port in members:
            backends.append(DemoBackend(demo, shard, name, port, users,
                                        tls if shard in DEMO_STARTTLS_SHARDS else None,
                                        master_users={DEMO_MASTER_USER: master_password}))
    for b in backends:
        b.cleanup_stale()
    ports = [b.dove.port for b in backends] + [DEMO_IMPLICIT_PORT, DEMO_STARTTLS_PORT, DEMO_ADMIN_PORT]
    if fleet and not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        print("[demo] --fleet needs redis-server (scripts/install-deps installs it)", file=sys.stderr)
        return 1
    if fleet:
        ports += [DEMO_FLEET_REDIS_PORT, DEMO_FLEET_IMPLICIT_PORT, DEMO_FLEET_STARTTLS_PORT, DEMO_FLEET_ADMIN_PORT]
    have_prometheus = bool(shutil.which("prometheus") or Path("/usr/bin/prometheus").exists())
    if have_prometheus:
        ports.append(DEMO_PROMETHEUS_PORT)
    else:
        print("[demo] warning: prometheus is not installed (scripts/install-deps installs it): "
              "the demo runs without it", file=sys.stderr)
    for port in ports:
        if port_accepts(port):
            print(f"[demo] 127.0.0.1:{port} is already in use (another demo running?)", file=sys.stderr)
            return 1

    token_file = demo / "admin-token"
    write_admin_token(token_file)
    _write_demo_overrides(demo / "overrides")
    secret_files = [users_file, demo / "master-password"]
    abuse_key = demo / "abuse-key"
    if fleet:
        # The fingerprint key both instances share (abuse.key_file), kept across runs.
        _kept_secret(abuse_key, lambda: secrets.token_urlsafe(32))
        secret_files.append(abuse_key)
    readable_after_privilege_drop(tls["key"], token_file, *secret_files)

    conf = config or repo / "conf" / "imapgate.yaml"
    if not conf.exists():
        conf = demo / "imapgate.yaml"
        print(f"[demo] warning: conf/imapgate.yaml is missing; using a generated {_rel(conf)}")
        conf.write_text(demo_config_text(demo, tls))
    conf2: Optional[Path] = None
    if fleet:
        base = conf
        conf, conf2 = demo / "fleet-1.yaml", demo / "fleet-2.yaml"
        try:
            for n, path in ((1, conf), (2, conf2)):
                path.write_text(fleet_config_text(base.read_text(), abuse_key, n))
        except ValueError as e:
            print(f"[demo] --fleet cannot derive the fleet's configs from {base}: {e}", file=sys.stderr)
            return 1
        print(f"[demo] fleet configs from {_rel(base)}: {_rel(conf)} and {_rel(conf2)} (abuse.store: redis)")
    for c in (conf, conf2):
        if c is None:
            continue
        check = subprocess.run([str(binary), "-t", "-c", str(c)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        if check.returncode != 0:
            print(f"[demo] {c} does not check:\n{check.stdout.decode(errors='replace')}", file=sys.stderr)
            return 1

    gate: Optional[ImapGate] = None
    gate2: Optional[ImapGate] = None
    redis: Optional[Redis] = None
    prom: Optional[Prometheus] = None
    followers: List[_LogFollower] = []

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if fleet:
            redis = Redis(demo / "redis", port=DEMO_FLEET_REDIS_PORT)
            print(f"[demo] starting redis-server on 127.0.0.1:{DEMO_FLEET_REDIS_PORT} (no persistence; "
                  f"log {_rel(redis.log_path)})")
            redis.start()
            redis_pidfile.write_text(f"{redis.proc.pid}\n")
        for b in backends:
            link = "STARTTLS" if b.dove.starttls else "plaintext"
            print(f"[demo] starting Dovecot {b.name} ({b.shard}) on 127.0.0.1:{b.dove.port}, {link}"
                  f" (state in {_rel(b.dove.root)}/, log {_rel(b.dove.log_path)})")
            b.dove.start()
            b.pidfile.write_text(f"{b.dove.pid}\n")
        # Seed each store once, through the shard's primary.
        for shard, members in DEMO_SHARDS.items():
            primary = next(b for b in backends if b.name == members[0][0])
            for user in everyone:
                if DEMO_OVERRIDES.get(user, shard) != shard:
                    continue
                have = _maildir_count(primary.dove, user)
                for msg in _demo_messages(user, shard)[have:]:
                    primary.dove.deliver(user, msg)
        log = demo / "imapgate.log"
        print(f"[demo] starting imapgate: {_rel(binary)} -c {_rel(conf)} (stderr also in .demo/imapgate.log)")
        if os.geteuid() == 0:
            print("[demo] imapgate binds its ports and loads its key as root, then runs as nobody/nogroup"
                  " (user:/group: in the config)")
        gate = ImapGate(binary, conf, log, ports=(DEMO_IMPLICIT_PORT, DEMO_STARTTLS_PORT, DEMO_ADMIN_PORT))
        gate.start()
        pidfile.write_text(f"{gate.pid}\n")
        followers.append(_LogFollower(log, "[1] " if fleet else ""))
        if fleet:
            log2 = demo / "imapgate-2.log"
            print(f"[demo] starting the second imapgate: {_rel(binary)} -c {_rel(conf2)} (stderr also in {_rel(log2)})")
            gate2 = ImapGate(binary, conf2, log2,
                             ports=(DEMO_FLEET_IMPLICIT_PORT, DEMO_FLEET_STARTTLS_PORT, DEMO_FLEET_ADMIN_PORT))
            gate2.start()
            pidfile2.write_text(f"{gate2.pid}\n")
            followers.append(_LogFollower(log2, "[2] "))
        admin_ports = [DEMO_ADMIN_PORT] + ([DEMO_FLEET_ADMIN_PORT] if fleet else [])
        if have_prometheus:
            rules = demo_alert_rules(repo)
            prom = Prometheus(demo / "prometheus", [f"{LOOPBACK}:{p}" for p in admin_ports], rule_files=[rules],
                              port=DEMO_PROMETHEUS_PORT, scrape_interval=DEMO_PROMETHEUS_SCRAPE_INTERVAL)
            print(f"[demo] starting Prometheus on {prom.url}: scrapes imapgate's admin endpoint"
                  f"{'s' if fleet else ''} every {DEMO_PROMETHEUS_SCRAPE_INTERVAL}, rules {_rel(rules)} "
                  f"(config, data and log in {_rel(prom.root)}/)")
            try:
                prom.start()
                prom_pidfile.write_text(f"{prom.proc.pid}\n")
            except RuntimeError as e:   # the demo still works without it
                print(f"[demo] warning: Prometheus did not start; the demo runs without it: {e}", file=sys.stderr)
                prom = None
        status_pages = "  ".join(f"http://{LOOPBACK}:{p}/" for p in admin_ports)
        prom_lines = (f"""  Prometheus: http://{LOOPBACK}:{DEMO_PROMETHEUS_PORT}  (alerts: /alerts, targets: /targets; the rules of
    monitoring/alerts.yml; Grafana dashboard to import: monitoring/grafana/imapgate.json)"""
                      if prom is not None else "  Prometheus: not running (see the warning above)")
        ca = _rel(tls["ca"])
        more = ", ".join(f"{u} / {p}" for u, p in DEMO_MORE_USERS.items())
        print(f"""
imapgate demo is running. Users: alice@demo.test / alice-password, bob@demo.test / bob-password
  (3 messages each), and {more}
imapgate checks them itself (.demo/users.yaml, yescrypt hashes) and logs in to the backends as the
master user {DEMO_MASTER_USER}. carol@demo.test has a second factor: her password followed by the current
6-digit TOTP code of the secret {DEMO_TOTP_USERS["carol@demo.test"]}, e.g.
    curl --cacert {ca} 'imaps://localhost:{DEMO_IMPLICIT_PORT}/INBOX;UID=1' \\
         -u "carol@demo.test:carol-password$(oathtool --totp -b {DEMO_TOTP_USERS["carol@demo.test"]})"
  (a code works once; the same client address is then remembered for 12 h), or her app password
  (in .demo/carol-app-password), which needs no code: {app_password}

Shard map ({_rel(conf)}). alice -> shard-a and bob -> shard-b by .demo/overrides;
the others by the hash (their mail is on both shards, so they work wherever they land):
{_shard_map(backends, ca)}

  Fetch a message over implicit TLS (port {DEMO_IMPLICIT_PORT}):
    curl --cacert {ca} 'imaps://localhost:{DEMO_IMPLICIT_PORT}/INBOX;UID=1' -u alice@demo.test:alice-password

  Talk IMAP by hand over STARTTLS (port {DEMO_STARTTLS_PORT}), then type: a LOGIN alice@demo.test alice-password
    openssl s_client -starttls imap -connect 127.0.0.1:{DEMO_STARTTLS_PORT} -CAfile {ca}

  Metrics and health:
    curl http://127.0.0.1:{DEMO_ADMIN_PORT}/metrics
    curl http://127.0.0.1:{DEMO_ADMIN_PORT}/healthz
  Status page (open in a browser): {status_pages}
{prom_lines}

  Kill the primary of shard-a; alice's next login goes to its replica a2 (same mail):
    kill $(cat .demo/backends/a1.pid)
    curl --cacert {ca} 'imaps://localhost:{DEMO_IMPLICIT_PORT}/INBOX;UID=1' -u alice@demo.test:alice-password
  Watch the backends' state (up/down/draining) meanwhile:
    watch -n1 curl -s http://127.0.0.1:{DEMO_ADMIN_PORT}/api/v1/backends
  Drain a backend (its sessions get * BYE after the 10 s drain grace), then undrain it:
    curl -X POST -H "Authorization: Bearer $(cat .demo/admin-token)" http://127.0.0.1:{DEMO_ADMIN_PORT}/api/v1/backends/a1/drain

{_fleet_banner(ca, _rel(conf), _rel(conf2)) if fleet else ""}
Backend logs: .demo/backends/NAME.log. Press Ctrl-C to stop. imapgate's log follows:
""", flush=True)
        # Follow imapgate's log until it exits or we are told to stop; report backends' exits.
        redis_reported = False
        prom_reported = False
        while True:
            for f in followers:
                f.pump()
            for n, g in ((1, gate), (2, gate2)):
                if g is not None and not g.running():
                    name = f"imapgate {n}" if fleet else "imapgate"
                    print(f"[demo] {name} exited with {g.proc.returncode}", file=sys.stderr)
                    return 1
            for b in backends:
                b.watch()
            if redis is not None and redis.proc is not None and redis.proc.poll() is not None \
                    and not redis_reported:
                redis_reported = True
                print(f"\n[demo] redis-server exited ({redis.proc.returncode}): the instances count alone"
                      f" (fail-open) until it is back on 127.0.0.1:{DEMO_FLEET_REDIS_PORT}\n", flush=True)
            if prom is not None and prom.proc is not None and prom.proc.poll() is not None and not prom_reported:
                prom_reported = True
                print(f"\n[demo] Prometheus exited ({prom.proc.returncode}); see {_rel(prom.log_path)}\n",
                      flush=True)
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("\n[demo] stopping ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for f in followers:
            f.close()
        if prom is not None:
            prom.stop()
            print("[demo] Prometheus stopped")
        prom_pidfile.unlink(missing_ok=True)
        if gate2 is not None:
            rc = gate2.stop(signal.SIGTERM, timeout=20)
            print(f"[demo] imapgate 2 stopped (exit {rc})")
        pidfile2.unlink(missing_ok=True)
        if gate is not None:
            rc = gate.stop(signal.SIGTERM, timeout=20)
            print(f"[demo] imapgate {'1 ' if fleet else ''}stopped (exit {rc})")
        pidfile.unlink(missing_ok=True)
        if redis is not None:
            redis.stop()
            print("[demo] redis-server stopped")
        redis_pidfile.unlink(missing_ok=True)
        for b in backends:
            try:
                b.stop()
            except Exception as e:  # keep stopping the others
                print(f"[demo] stopping Dovecot {b.name}: {e}", file=sys.stderr)
        print("[demo] Dovecots stopped")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the demo stack in the foreground")
    here = Path(__file__).resolve().parents[2]
    d.add_argument("--repo", type=Path, default=here)
    d.add_argument("--binary", type=Path, default=None)
    d.add_argument("--config", type=Path, default=None,
                   help="imapgate config (default conf/imapgate.yaml)")
    d.add_argument("--fleet", action="store_true",
                   help=f"also a redis-server on 127.0.0.1:{DEMO_FLEET_REDIS_PORT} and a second imapgate "
                        f"({DEMO_FLEET_IMPLICIT_PORT}, {DEMO_FLEET_STARTTLS_PORT}, admin {DEMO_FLEET_ADMIN_PORT}) "
                        "sharing the abuse state with the first")
    c = sub.add_parser("certs", help="create a CA and server certificate in DIR")
    c.add_argument("dir", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "demo":
        repo = args.repo.resolve()
        binary = (args.binary or repo / "build" / "imapgate").resolve()
        if not binary.exists():
            print(f"[demo] {binary} does not exist; build first", file=sys.stderr)
            return 1
        return run_demo(repo, binary, args.config.resolve() if args.config else None, fleet=args.fleet)
    if args.cmd == "certs":
        for k, v in make_ca_and_server_cert(args.dir).items():
            print(f"{k}: {v}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
