"""Shared harness of the imapgate integration tests (Python 3 stdlib only).

Every test class derived from GateTestCase gets, in setUpClass:
  * a temporary directory (tempfile.mkdtemp) holding everything below,
  * a CA and an ECDSA P-256 server certificate for localhost / 127.0.0.1,
  * a REAL Dovecot on 127.0.0.1:<ephemeral> with alice and bob, 3 messages each in INBOX
    (unless the class sets NEEDS_DOVECOT = False and points imapgate at a fixture),
  * an imapgate config with ephemeral ports (LIMITS / TIMEOUTS override the defaults); run as
    root, the config names `user: nobody` so imapgate drops privileges after binding,
  * a running imapgate (IMAPGATE_BIN, default <source>/build/imapgate), stderr in a file.
tearDownClass stops imapgate with SIGTERM and fails the class if it did not exit 0 or its stderr
holds a sanitizer report; then it stops Dovecot and the fixtures and removes the directory
(kept when IMAPGATE_KEEP_TMP=1).

Authentication inside imapgate (issue B): AuthGateTestCase (a users file, Dovecots with a master
user, an `auth:` section), the fixtures AuthHttpService (an nginx auth_http service) and
PushHookService (a push-approval hook), totp(), crypt_hash(), argon2id_hash(), sha256_app_hash(),
write_users_file() and metric_samples()/metric_sum() for /metrics.

Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import pwd
import re
import shutil
import secrets
import select
import signal
import socket
import struct
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Tuple

SOURCE_DIR = Path(os.environ.get("IMAPGATE_SOURCE_DIR") or Path(__file__).resolve().parents[2]).resolve()
for _p in (SOURCE_DIR / "scripts" / "lib", SOURCE_DIR / "tests" / "fixtures"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import demostack as ds  # noqa: E402

HOST = "127.0.0.1"
USERS: Dict[str, str] = {"alice@demo.test": "alice-password", "bob@demo.test": "bob-password"}
ALICE, ALICE_PW = "alice@demo.test", "alice-password"
BOB, BOB_PW = "bob@demo.test", "bob-password"

SANITIZER_RE = re.compile(r"(ERROR|WARNING): (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|"
                          r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)")


def imapgate_bin() -> Path:
    env = os.environ.get("IMAPGATE_BIN")
    if env:
        p = Path(env)
        if not p.exists():
            raise FileNotFoundError(f"IMAPGATE_BIN={env} does not exist")
        return p
    p = SOURCE_DIR / "build" / "imapgate"
    if not p.exists():
        raise unittest.SkipTest(f"{p} not built (set IMAPGATE_BIN)")
    return p


# --------------------------------------------------------------------------------------------
# A raw IMAP client over a socket (plain or TLS)
# --------------------------------------------------------------------------------------------

class Closed(Exception):
    """The peer closed the connection (EOF or reset). `.data` holds what came before."""

    def __init__(self, data: bytes = b""):
        super().__init__(f"connection closed; last bytes: {data[-300:]!r}")
        self.data = data


_LITERAL_RE = re.compile(rb"\{(\d+)\+?\}\r\n$")


class RawClient:
    """A line-oriented IMAP client that shows every byte; for bounds, injection and faults."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.transcript = b""   # everything received
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def connect(cls, port: int, tls: bool = False, ctx: Optional[ssl.SSLContext] = None,
                server_hostname: Optional[str] = "localhost", timeout: float = 10,
                source: Optional[str] = None) -> "RawClient":
        """source: a loopback address to connect from (127.0.0.0/8 is all local on Linux), so a
        test can be many clients."""
        s = socket.create_connection((HOST, port), timeout=timeout,
                                     source_address=(source, 0) if source else None)
        if tls:
            assert ctx is not None
            s = ctx.wrap_socket(s, server_hostname=server_hostname)
        return cls(s)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- sending --------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Send `data` with one sendall (one TCP segment for small buffers: TCP_NODELAY)."""
        self.sock.sendall(data)

    # -- receiving ------------------------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out; buffered: {self.buf[-300:]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"timed out; buffered: {self.buf[-300:]!r}") from None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
            raise Closed(self.transcript) from e
        except ssl.SSLError as e:
            raise Closed(self.transcript) from e
        if not chunk:
            raise Closed(self.transcript)
        self.buf += chunk
        self.transcript += chunk

    def readline(self, timeout: float = 10) -> bytes:
        """One response line including CRLF; literals ({n}) are read into the same line."""
        deadline = time.monotonic() + timeout
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            i = self.buf.index(b"\r\n") + 2
            line, self.buf = self.buf[:i], self.buf[i:]
            out += line
            m = _LITERAL_RE.search(line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill(deadline)
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def read_response(self, tag: str, timeout: float = 10) -> List[bytes]:
        """Lines up to and including the tagged response for `tag`."""
        deadline = time.monotonic() + timeout
        lines = []
        t = tag.encode() + b" "
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            lines.append(line)
            if line.startswith(t):
                return lines

    def command(self, tag: str, text: str, timeout: float = 10) -> List[bytes]:
        self.send(f"{tag} {text}\r\n".encode())
        return self.read_response(tag, timeout)

    def greeting(self, timeout: float = 10) -> bytes:
        return self.readline(timeout)

    def read_until_close(self, timeout: float = 10) -> Tuple[bytes, bool]:
        """Everything until the peer closes. Returns (data, closed); closed=False on timeout."""
        deadline = time.monotonic() + timeout
        start = len(self.transcript) - len(self.buf)
        try:
            while True:
                self._fill(deadline)
        except Closed:
            return self.transcript[start:], True
        except TimeoutError:
            return self.transcript[start:], False

    def upgrade(self, ctx: ssl.SSLContext, server_hostname: str = "localhost") -> None:
        """Start TLS on this connection (after a tagged OK to STARTTLS)."""
        if self.buf:
            raise AssertionError(f"bytes after the STARTTLS OK, before the handshake: {self.buf!r}")
        self.sock.settimeout(10)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)


def tagged_status(lines: List[bytes], tag: str) -> bytes:
    """'OK' / 'NO' / 'BAD' of the tagged line for `tag`."""
    for line in lines:
        if line.startswith(tag.encode() + b" "):
            return line.split(b" ", 2)[1].upper()
    raise AssertionError(f"no tagged response for {tag}: {lines!r}")


def caps_of(line: bytes) -> List[str]:
    """Capabilities from '* CAPABILITY ...' or '[CAPABILITY ...]'."""
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        return m.group(1).decode().split()
    m = re.match(rb"\* CAPABILITY (.*)\r\n", line)
    if m:
        return m.group(1).decode().split()
    raise AssertionError(f"no capabilities in {line!r}")


# --------------------------------------------------------------------------------------------
# The base test class
# --------------------------------------------------------------------------------------------

class GateTestCase(unittest.TestCase):
    NEEDS_DOVECOT = True
    IMPLICIT = True          # an implicit-TLS listener
    STARTTLS = True          # a STARTTLS listener
    # imapgate worker threads; IMAPGATE_TEST_WORKERS overrides it (the TSan stage of scripts/test)
    WORKERS = int(os.environ.get("IMAPGATE_TEST_WORKERS", "2"))
    ADMIN = True
    COMMAND_PREFIX: List[str] = []  # run imapgate through this (e.g. prlimit), which execs it
    # Sanitizer reports that are the sanitizer's own false positive in this class's setting (each
    # says why); any other report in imapgate's stderr fails the class.
    KNOWN_FALSE_SANITIZER_REPORTS: List[re.Pattern] = []
    LIMITS: Dict = {}
    TIMEOUTS: Dict = {}
    # The `abuse:` section's body (see demostack.imapgate_yaml); off unless a class tests it.
    ABUSE: Optional[str] = "enabled: false"
    BACKEND_SECURITY = "plaintext"
    MESSAGES_PER_USER = 3

    tmp: Path
    dovecot: Optional[ds.Dovecot] = None
    gate: Optional[ds.ImapGate] = None
    messages: Dict[str, List[bytes]]

    # hooks --------------------------------------------------------------------------------
    @classmethod
    def start_backend(cls) -> int:
        """Start the backend; return its port. Default: a real Dovecot with USERS and mail."""
        cls.dovecot = ds.Dovecot(cls.tmp / "dovecot", users=USERS).start()
        cls.messages = {}
        for user in USERS:
            cls.messages[user] = []
            for i in range(cls.MESSAGES_PER_USER):
                msg = ds.make_message(f"Message {i + 1} for {user}",
                                      f"Hello {user},\nthis is message {i + 1}.\n\n-- \nimapgate tests",
                                      to=user)
                cls.dovecot.deliver(user, msg)
                cls.messages[user].append(msg)
        return cls.dovecot.port

    @classmethod
    def stop_backend(cls) -> None:
        if cls.dovecot is not None:
            cls.dovecot.stop(use_doveadm=False)
            cls.dovecot = None

    # setup / teardown ---------------------------------------------------------------------
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix=f"imapgate-it-{cls.__name__}-"))
        cls.tmp.chmod(0o755)
        cls.dovecot = None
        cls.gate = None
        try:
            cls.binary = imapgate_bin()
            cls.tls = ds.make_ca_and_server_cert(cls.tmp / "tls")
            cls.ca_file = str(cls.tls["ca"])
            cls.backend_port = cls.start_backend()
            cls.implicit_port = ds.free_port() if cls.IMPLICIT else None
            cls.starttls_port = ds.free_port() if cls.STARTTLS else None
            cls.admin_port = ds.free_port() if cls.ADMIN else None
            cls.config_path = cls.tmp / "imapgate.yaml"
            cls.config_path.write_text(cls.imapgate_config())
            cls.gate = ds.ImapGate(cls.binary, cls.config_path, cls.tmp / "imapgate.stderr",
                                   ports=(cls.implicit_port, cls.starttls_port, cls.admin_port),
                                   prefix=cls.COMMAND_PREFIX)
            cls.gate.start()
        except BaseException:
            cls._teardown(check=False)
            raise

    @classmethod
    def imapgate_config(cls) -> str:
        """The text of imapgate's config (hook). Default: one backend at cls.backend_port."""
        return (ds.imapgate_yaml(
            str(cls.tls["cert"]), str(cls.tls["key"]), cls.backend_port,
            implicit_port=cls.implicit_port, starttls_port=cls.starttls_port,
            admin_port=cls.admin_port, backend_security=cls.BACKEND_SECURITY,
            limits=cls.LIMITS, timeouts=cls.TIMEOUTS, workers=cls.WORKERS, abuse=cls.ABUSE)
            # Without an admin key imapgate binds the default 127.0.0.1:9464; port 0 disables it.
            + ("" if cls.ADMIN else "admin: { address: 127.0.0.1:0 }\n"))

    @classmethod
    def tearDownClass(cls):
        cls._teardown(check=True)

    @classmethod
    def _teardown(cls, check: bool) -> None:
        problems = []
        if cls.gate is not None:
            was_running = cls.gate.running()
            rc = cls.gate.stop(signal.SIGTERM, timeout=30)
            log = cls.gate.stderr()
            if check and was_running and rc != 0:
                problems.append(f"imapgate exited with {rc} after SIGTERM (expected 0)")
            checked = log
            for known in cls.KNOWN_FALSE_SANITIZER_REPORTS:
                checked = known.sub("", checked)
            if SANITIZER_RE.search(checked):
                problems.append("sanitizer report in imapgate's stderr")
            if problems:
                problems.append(f"--- {cls.gate.stderr_path} (tail) ---\n{log[-6000:]}")
        try:
            cls.stop_backend()
        finally:
            if os.environ.get("IMAPGATE_KEEP_TMP") == "1" or problems:
                print(f"[harness] kept {cls.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(cls.tmp, ignore_errors=True)
        if problems:
            raise AssertionError("\n".join(problems))

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True) and self.gate is not None:
            tail = "\n".join(self.gate.stderr().splitlines()[-30:])
            print(f"\n[harness] imapgate stderr (tail) after {self.id()}:\n{tail}\n", file=sys.stderr)

    # helpers ------------------------------------------------------------------------------
    @classmethod
    def client_ctx(cls, alpn: Optional[List[str]] = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=cls.ca_file)
        if alpn is not None:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def implicit(self, **kw) -> RawClient:
        """A raw client on the implicit-TLS listener (greeting not yet read)."""
        c = RawClient.connect(self.implicit_port, tls=True, ctx=kw.pop("ctx", None) or self.client_ctx(), **kw)
        self.addCleanup(c.close)
        return c

    def plain(self, **kw) -> RawClient:
        """A raw client on the STARTTLS listener, before TLS (greeting not yet read)."""
        c = RawClient.connect(self.starttls_port, tls=False, **kw)
        self.addCleanup(c.close)
        return c

    def starttls(self) -> RawClient:
        """A raw client on the STARTTLS listener after a completed STARTTLS."""
        c = self.plain()
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        lines = c.command("s1", "STARTTLS")
        self.assertEqual(tagged_status(lines, "s1"), b"OK", lines)
        c.upgrade(self.client_ctx())
        return c

    def login(self, c: RawClient, user: str = ALICE, password: str = ALICE_PW, tag: str = "l1") -> List[bytes]:
        lines = c.command(tag, f'LOGIN "{user}" "{password}"', timeout=20)
        self.assertEqual(tagged_status(lines, tag), b"OK", lines)
        return lines

    def assert_bye_and_close(self, c: RawClient, timeout: float = 10, what: str = "") -> bytes:
        data, closed = c.read_until_close(timeout)
        self.assertTrue(closed, f"{what}: connection not closed within {timeout}s; got {data!r}")
        self.assertRegex(data, rb"(^|\r\n)\* BYE", f"{what}: no '* BYE' before close; got {data[-500:]!r}")
        return data

    def gate_log(self) -> str:
        return self.gate.stderr() if self.gate else ""

    def admin_request(self, method: str, path: str, token: Optional[str] = None,
                      body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
                      timeout: float = 10) -> Tuple[int, bytes, object]:
        """One HTTP request to the admin listener; see admin_request()."""
        return admin_request(self.admin_port, method, path, token=token, body=body,
                             headers=headers, timeout=timeout)

    def wait_for_log(self, pattern: str, timeout: float = 10, count: int = 1) -> List[str]:
        """Lines of imapgate's stderr matching `pattern`, waiting until at least `count` exist."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = [l for l in self.gate_log().splitlines() if rx.search(l)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def run_cmd(cmd: List[str], timeout: float = 30, input: Optional[bytes] = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


# --------------------------------------------------------------------------------------------
# Several Dovecots, shards, the admin API, PROXY headers (issue D)
# --------------------------------------------------------------------------------------------

def start_dovecots(root, count: int = 1, *, users: Optional[Dict[str, str]] = None,
                   shared_store: bool = False, shared_index: bool = False,
                   tls: Optional[Dict[str, Path]] = None,
                   names: Optional[List[str]] = None,
                   master_users: Optional[Dict[str, str]] = None) -> List[ds.Dovecot]:
    """Start `count` real Dovecots on ephemeral 127.0.0.1 ports, each in ROOT/NAME (names
    default to d1, d2, ...), with `users` (default USERS) and no mail yet (see seed_mail).

    shared_store: all of them share one mail store (ROOT/mail), like a primary and its replicas;
    each keeps its own indexes unless shared_index (see demostack.Dovecot). tls: the paths from
    demostack.make_ca_and_server_cert (its "cert" and "key", signed by its "ca"): each Dovecot
    then offers STARTTLS with that certificate. master_users: {name: password} of Dovecot master
    users (LOGIN "user*name" with that password; see demostack.Dovecot). If one fails to start,
    the others are stopped."""
    names = list(names or [f"d{i + 1}" for i in range(count)])
    if len(names) != count:
        raise ValueError("names must have `count` entries")
    root = Path(root)
    mail_home = root / "mail" if shared_store else None
    started: List[ds.Dovecot] = []
    try:
        for name in names:
            d = ds.Dovecot(root / name, users=dict(users if users is not None else USERS),
                           mail_home=mail_home, shared_index=shared_index,
                           ssl_cert=tls["cert"] if tls else None, ssl_key=tls["key"] if tls else None,
                           master_users=master_users)
            started.append(d.start())
    except BaseException:
        stop_dovecots(started)
        raise
    return started


def stop_dovecots(dovecots: List[ds.Dovecot]) -> None:
    """Stop each Dovecot (SIGTERM to its master); ones already stopped or killed are skipped."""
    for d in dovecots:
        try:
            d.stop(use_doveadm=False)
        except Exception as e:  # keep stopping the others
            print(f"[harness] stopping Dovecot in {d.root}: {e}", file=sys.stderr)


def seed_mail(dovecots: List[ds.Dovecot], users: List[str], per_user: int = 3,
              tag: str = "") -> Dict[str, List[bytes]]:
    """Deliver `per_user` messages to each user, once per distinct mail store among `dovecots`
    (instances sharing a store get it once). Returns user -> the messages, in INBOX order."""
    msgs = {u: [ds.make_message(f"Message {i + 1} for {u}{tag}",
                                f"Hello {u},\nthis is message {i + 1}.\n\n-- \nimapgate tests", to=u)
                for i in range(per_user)] for u in users}
    seen = set()
    for d in dovecots:
        if d.home_dir in seen:
            continue
        seen.add(d.home_dir)
        for u in users:
            for m in msgs[u]:
                d.deliver(u, m)
    return msgs


def shard_backend_of(name: str, dovecot: ds.Dovecot, tls_ca=None, tls_server_name: str = "localhost",
                     **extra) -> Dict:
    """The config entry of a shard backend for `dovecot`: plaintext, or STARTTLS verified
    against `tls_ca` when the Dovecot offers STARTTLS (tls_ca is then required)."""
    if dovecot.starttls:
        if tls_ca is None:
            raise ValueError(f"backend {name} offers STARTTLS: give tls_ca")
        return ds.shard_backend(name, dovecot.port, "starttls", tls_ca=tls_ca,
                                tls_server_name=tls_server_name, **extra)
    return ds.shard_backend(name, dovecot.port, **extra)


def write_overrides(path, overrides: Dict[str, str], comment: str = "") -> None:
    """The routing override file: one `user shard` per line, '#' comments. Replaced atomically."""
    path = Path(path)
    text = "".join(f"# {l}\n" for l in comment.splitlines()) + "".join(f"{u} {s}\n" for u, s in overrides.items())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def admin_exchange(port: int, method: str, path: str, token: Optional[str] = None,
                   body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
                   authorization: Optional[str] = None,
                   timeout: float = 10) -> Tuple[int, Dict[str, str], bytes, object]:
    """One HTTP/1.1 request to 127.0.0.1:port. token -> `Authorization: Bearer <token>`;
    authorization -> that exact Authorization header. Returns (status, response headers with
    lowercased names, body bytes, parsed JSON or None when the body is not JSON)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if authorization is not None:
            h["Authorization"] = authorization
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, parsed
    finally:
        conn.close()


def admin_request(port: int, method: str, path: str, token: Optional[str] = None,
                  body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
                  timeout: float = 10) -> Tuple[int, bytes, object]:
    """admin_exchange without the response headers: (status, body bytes, parsed JSON or None)."""
    status, _, data, parsed = admin_exchange(port, method, path, token=token, body=body,
                                             headers=headers, timeout=timeout)
    return status, data, parsed


def imapgatectl_bin() -> Path:
    """imapgatectl: IMAPGATECTL_BIN, else beside the imapgate binary under test."""
    env = os.environ.get("IMAPGATECTL_BIN")
    p = Path(env) if env else imapgate_bin().parent / "imapgatectl"
    if not p.exists():
        raise unittest.SkipTest(f"{p} not built")
    return p


def proxy_v1_header(src: str, sport: int, dst: str = HOST, dport: int = 143) -> bytes:
    """A PROXY protocol v1 header (TCP4 or TCP6 by the addresses' family), CRLF included."""
    fam = "TCP6" if ipaddress.ip_address(src).version == 6 else "TCP4"
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2_header(src: str, sport: int, dst: str = HOST, dport: int = 143,
                    command: str = "PROXY", tlvs: bytes = b"") -> bytes:
    """A PROXY protocol v2 header: version 2, PROXY (or LOCAL, no address) over TCP, IPv4 or
    IPv6 by the addresses' family, followed by raw `tlvs`."""
    cmd = {"LOCAL": 0x0, "PROXY": 0x1}[command]
    if command == "LOCAL":
        return PROXY_V2_SIGNATURE + bytes([0x20 | cmd, 0x00]) + struct.pack("!H", len(tlvs)) + tlvs
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version != d.version:
        raise ValueError("source and destination of one family")
    fam = 0x11 if s.version == 4 else 0x21   # AF_INET / AF_INET6, STREAM
    addr = s.packed + d.packed + struct.pack("!HH", sport, dport)
    return PROXY_V2_SIGNATURE + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(addr) + len(tlvs)) + addr + tlvs


class ShardedGateTestCase(GateTestCase):
    """imapgate in front of shards of real Dovecots (`shards:` instead of `backend:`).

    SHARDS lists (shard, [backend names]) with the primary first; the backends of one shard
    share one mail store (ROOT/shards/SHARD/mail) and keep their own indexes. Backends of the
    shards in STARTTLS_SHARDS offer STARTTLS with a certificate of the test CA, and imapgate
    verifies them against it (cls.ca_file; tls_server_name localhost). Every user of
    BACKEND_USERS (default USERS) gets MESSAGES_PER_USER messages on EVERY shard's store, so a
    login works wherever the router puts the user; MASTER_USERS gives every Dovecot those master
    users (for backend_login mode master, issue B). Which backend a user really reached is
    asserted on the backend side, with cls.backends[NAME].logins(user).

    The override file (cls.override_file, from OVERRIDES), the admin token (cls.admin_token in
    cls.token_file, 0600), routing (DEFAULT_DOMAIN, DOMAINS), HEALTH_CHECKS and DRAIN_GRACE go
    into the config. A test can change them later with write_overrides() / write_config(**kw)
    and then reload() (SIGHUP).
    """

    SHARDS: List[Tuple[str, List[str]]] = [("shard-a", ["a1", "a2"]), ("shard-b", ["b1"])]
    SHARD_WEIGHTS: Dict[str, int] = {}        # shard -> weight; a shard not listed omits the key
    STARTTLS_SHARDS: Tuple[str, ...] = ()
    OVERRIDES: Dict[str, str] = {}            # user -> shard
    DOMAINS: Dict[str, str] = {}              # domain -> shard
    DEFAULT_DOMAIN: Optional[str] = None
    HEALTH_CHECKS: Dict = {"interval": "500ms", "timeout": "500ms", "rise": 2, "fall": 2}
    DRAIN_GRACE: Optional[str] = "1s"
    BACKEND_USERS: Optional[Dict[str, str]] = None   # the Dovecots' users; None: USERS
    MASTER_USERS: Optional[Dict[str, str]] = None    # the Dovecots' master users; None: none

    backends: Dict[str, ds.Dovecot]           # backend name -> its Dovecot
    shard_of: Dict[str, str]                  # backend name -> shard name
    admin_token: str
    token_file: Path
    override_file: Path

    @classmethod
    def start_backend(cls) -> int:
        cls.backends, cls.shard_of = {}, {}
        cls.messages = {}
        cls.token_file = cls.tmp / "admin-token"
        cls.admin_token = ds.write_admin_token(cls.token_file)
        cls.override_file = cls.tmp / "overrides"
        write_overrides(cls.override_file, cls.OVERRIDES)
        for shard, names in cls.SHARDS:
            started = start_dovecots(cls.tmp / "shards" / shard, len(names), names=list(names),
                                     shared_store=len(names) > 1,
                                     tls=cls.tls if shard in cls.STARTTLS_SHARDS else None,
                                     users=cls.BACKEND_USERS, master_users=cls.MASTER_USERS)
            for name, d in zip(names, started):
                cls.backends[name] = d
                cls.shard_of[name] = shard
            msgs = seed_mail(started, list(cls.BACKEND_USERS or USERS), cls.MESSAGES_PER_USER)
            if not cls.messages:
                cls.messages = msgs
            else:  # the same text everywhere except the random Message-ID
                for u, m in msgs.items():
                    cls.messages.setdefault(u, m)
        first = cls.SHARDS[0][1][0]
        return cls.backends[first].port

    @classmethod
    def stop_backend(cls) -> None:
        stop_dovecots(list(getattr(cls, "backends", {}).values()))
        cls.backends = {}

    @classmethod
    def shards_config(cls) -> List:
        """`shards` for imapgate_yaml from SHARDS and the running Dovecots."""
        out = []
        for shard, names in cls.SHARDS:
            backends = [shard_backend_of(n, cls.backends[n], tls_ca=cls.ca_file) for n in names]
            w = cls.SHARD_WEIGHTS.get(shard)
            out.append((shard, backends) if w is None else (shard, backends, w))
        return out

    @classmethod
    def imapgate_config(cls, **overrides) -> str:
        """The sharded config; keyword arguments replace imapgate_yaml's (shards=, routing=,
        health_checks=, drain_grace=, timeouts=, ...)."""
        routing: Dict = {"override_file": str(cls.override_file)}
        if cls.DEFAULT_DOMAIN:
            routing["default_domain"] = cls.DEFAULT_DOMAIN
        if cls.DOMAINS:
            routing["domains"] = dict(cls.DOMAINS)
        kw = dict(implicit_port=cls.implicit_port, starttls_port=cls.starttls_port,
                  admin_port=cls.admin_port, limits=cls.LIMITS, timeouts=cls.TIMEOUTS,
                  workers=cls.WORKERS, shards=cls.shards_config(), routing=routing,
                  admin_token_file=str(cls.token_file) if cls.admin_port else None,
                  health_checks=cls.HEALTH_CHECKS, drain_grace=cls.DRAIN_GRACE, abuse=cls.ABUSE)
        kw.update(overrides)
        text = ds.imapgate_yaml(str(cls.tls["cert"]), str(cls.tls["key"]), None, **kw)
        return text + ("" if cls.admin_port else "admin: { address: 127.0.0.1:0 }\n")

    @classmethod
    def write_config(cls, **overrides) -> str:
        """Rewrite the config file (atomically) with imapgate_config(**overrides); returns it."""
        text = cls.imapgate_config(**overrides)
        tmp = cls.config_path.with_name(cls.config_path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, cls.config_path)
        return text

    def reload(self) -> None:
        """SIGHUP to imapgate (re-reads the config and the override file)."""
        self.gate.proc.send_signal(signal.SIGHUP)

    def backend_that_logged(self, user: str, since: Optional[Dict[str, int]] = None) -> List[str]:
        """Names of the backends whose Dovecot logged a login of `user` (after `since`, a
        snapshot from login_counts())."""
        since = since or {}
        return [n for n, d in self.backends.items() if len(d.logins(user)) > since.get(n, 0)]

    def login_counts(self, user: str) -> Dict[str, int]:
        """backend name -> logins of `user` logged so far (a snapshot for backend_that_logged)."""
        return {n: len(d.logins(user)) for n, d in self.backends.items()}


# --------------------------------------------------------------------------------------------
# Authentication inside imapgate (issue B): users file, TOTP, auth_http and push fixtures
# --------------------------------------------------------------------------------------------

def totp(secret_b32: str, t: Optional[float] = None, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 TOTP code (HMAC-SHA-1, 30 s steps, 6 digits) of a base32 secret at time t
    (default now)."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if t is None else t) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return str(code).zfill(digits)


def crypt_hash(password: str, prefix: str = "$6$") -> str:
    """A crypt(3) hash of `password` with a random salt, from libcrypt itself (crypt_gensalt and
    crypt, through ctypes: Python's crypt module is going away): "$6$" sha512-crypt, "$y$"
    yescrypt, "$2b$" bcrypt, each at libcrypt's default cost."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("crypt"))
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(prefix.encode(), 0, None, 0)
    if not salt:
        raise RuntimeError(f"crypt_gensalt does not know {prefix}")
    out = lib.crypt(password.encode(), salt)
    if not out or not out.decode().startswith(prefix):
        raise RuntimeError(f"crypt failed for {prefix}")
    return out.decode()


def argon2id_hash(password: str, t_cost: int = 3, m_log2: int = 16) -> str:
    """An `$argon2id$` hash of `password` from the argon2 CLI (memory 2^m_log2 KiB, t_cost
    passes; the password goes on stdin, never in argv)."""
    salt = secrets.token_hex(8)
    r = subprocess.run(["argon2", salt, "-id", "-e", "-t", str(t_cost), "-m", str(m_log2), "-p", "1"],
                       input=password.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"argon2 failed: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode().strip()


def sha256_app_hash(app_password: str) -> str:
    """The `{SHA256}<base64>` form of an app password's hash (what the users file stores)."""
    return "{SHA256}" + base64.b64encode(hashlib.sha256(app_password.encode()).digest()).decode()


def write_users_file(path, users: Dict[str, Dict], domains: Optional[Dict[str, Dict]] = None) -> None:
    """Writes an imapgate users file (issue B) atomically: users = {name: {"password": HASH,
    "shard": ..., "totp": BASE32, "second_factor": ..., "app_passwords": [{"name":, "hash":}]}},
    domains = {domain: {"second_factor": ...}}. Every scalar is a JSON string (valid YAML).
    Mode 0600 from creation; as root the file goes to the unprivileged account imapgate switches
    to, which re-reads it when it changes."""
    path = Path(path)
    q = json.dumps
    out = ["users:"]
    for name, rec in users.items():
        out.append(f"  {q(name)}:")
        for k, v in rec.items():
            if k == "app_passwords":
                out.append("    app_passwords:")
                out += [f"      - {{ name: {q(a['name'])}, hash: {q(a['hash'])} }}" for a in v]
                if not v:
                    out[-1] = "    app_passwords: []"
            else:
                out.append(f"    {k}: {q(v)}")
    if domains:
        out.append("domains:")
        for d, pol in domains.items():
            out.append(f"  {q(d)}: {{ " + ", ".join(f"{k}: {q(v)}" for k, v in pol.items()) + " }")
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(out) + "\n")
    give_to_unprivileged(tmp)
    os.replace(tmp, path)


def close_quietly(m) -> None:
    """LOGOUT an imaplib client, or at least close its socket; never raises (for cleanups)."""
    try:
        m.logout()
    except Exception:
        try:
            m.shutdown()
        except Exception:
            pass


def mbsync_config(port: int, user: str, password: str, ssl_type: str, ca_file, maildir) -> str:
    """An mbsyncrc for isync 1.4 in its defaults (COMPRESS on when offered), syncing every folder
    of `user` on 127.0.0.1:`port` into `maildir`."""
    return f"""IMAPAccount gate
Host localhost
Port {port}
User {user}
Pass {password}
SSLType {ssl_type}
CertificateFile {ca_file}

IMAPStore remote
Account gate

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *
"""


def write_secret_file(path, secret: str) -> None:
    """A 0600 file holding `secret` (e.g. backend_login's master_password_file); as root it goes
    to the unprivileged account (a reload reads it again after the privilege drop)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    give_to_unprivileged(path)


def give_to_unprivileged(path) -> None:
    """As root: chown `path` to the account imapgate switches to (see ds.unprivileged_account)."""
    account = ds.unprivileged_account()
    if account is None or os.geteuid() != 0:
        return
    os.chown(path, pwd.getpwnam(account[0]).pw_uid, grp.getgrnam(account[1]).gr_gid)


def metric_samples(text: str, name: str) -> List[Tuple[Dict[str, str], float]]:
    """The samples of metric `name` in a Prometheus text exposition: [(labels, value)]."""
    out = []
    for m in re.finditer(r"(?m)^" + re.escape(name) + r"(?:\{([^}]*)\})? (\S+)$", text):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
        out.append((labels, float(m.group(2))))
    return out


def metric_sum(text: str, name: str, **want: str) -> float:
    """The sum of the samples of `name` whose labels include every `want` (0 when none)."""
    return sum(v for labels, v in metric_samples(text, name)
               if all(labels.get(k) == w for k, w in want.items()))


class _FixtureHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, owner):
        self.owner = owner
        super().__init__(addr, handler)


class _FixtureService:
    """Common part of the HTTP fixtures: a ThreadingHTTPServer on 127.0.0.1 (ephemeral port, or
    the same port again after down()/up()), HTTP/1.1 keep-alive, every accepted connection
    counted and tracked so down() can cut the ones a client keeps alive."""

    handler_class: type

    def __init__(self):
        self.lock = threading.Lock()
        self.port = 0
        self.connections = 0            # TCP connections accepted so far
        self.requests: List[Dict] = []  # one dict per request (see the subclass)
        self._server: Optional[_FixtureHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._open: set = set()
        self.stopping = threading.Event()

    def start(self):
        self.stopping.clear()
        self._server = _FixtureHTTPServer((HOST, self.port), self.handler_class, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    up = start

    def stop(self) -> None:
        """Stops listening (the port refuses) and cuts every open connection."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            conns, self._open = list(self._open), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    down = stop

    def _track(self, conn, add: bool) -> None:
        with self.lock:
            if add:
                self.connections += 1
                self._open.add(conn)
            else:
                self._open.discard(conn)

    def requests_of(self, user: str) -> List[Dict]:
        with self.lock:
            return [r for r in self.requests if r.get("user") == user]


class _FixtureHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive unless the client says otherwise

    def setup(self):
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def log_message(self, fmt, *args):  # quiet: the requests carry secrets
        pass

    def reply(self, status: int, headers: Dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()


class AuthScript:
    """What AuthHttpService answers for one user (see AuthHttpService.script)."""

    def __init__(self, password: Optional[str] = None, status: str = "OK", wait: Optional[int] = None,
                 server: Optional[str] = None, port: Optional[int] = None,
                 backend_user: Optional[str] = None, backend_pass: Optional[str] = None,
                 methods: Optional[Tuple[str, ...]] = None, delay: float = 0):
        self.password, self.status, self.wait = password, status, wait
        self.delay = delay
        self.server, self.port = server, port
        self.backend_user, self.backend_pass = backend_user, backend_pass
        self.methods = methods


class _AuthHttpHandler(_FixtureHandler):
    def do_GET(self):
        svc: AuthHttpService = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        user = urllib.parse.unquote(headers.get("auth-user", ""))
        secret = urllib.parse.unquote(headers.get("auth-pass", ""))
        with svc.lock:
            svc.requests.append({"user": user, "path": self.path, "headers": headers,
                                 "time": time.monotonic(), "version": self.request_version})
            script = svc.scripts.get(user)
        if script is not None and script.delay:
            svc.stopping.wait(script.delay)   # a slow service (cut short when the fixture stops)
        out = {"Auth-Status": svc.FAIL_TEXT}
        if script is not None:
            method = headers.get("auth-method", "")
            good = ((script.password is None or hmac.compare_digest(secret.encode(), script.password.encode()))
                    and (script.methods is None or method in script.methods))
            if good:
                out = {"Auth-Status": script.status}
                if script.server is not None:
                    out["Auth-Server"] = script.server
                if script.port is not None:
                    out["Auth-Port"] = str(script.port)
                # verbatim, as nginx takes them (not percent-decoded)
                if script.backend_user is not None:
                    out["Auth-User"] = script.backend_user
                if script.backend_pass is not None:
                    out["Auth-Pass"] = script.backend_pass
            if script.wait is not None and out["Auth-Status"] != "OK":
                out["Auth-Wait"] = str(script.wait)
        self.reply(200, out)


class AuthHttpService(_FixtureService):
    """A test fixture standing in for a site's own nginx auth_http-compatible service (no real
    one exists here): answers imapgate's GET per login from per-user scripts.

    script(user, password=..., status="OK" | failure text, wait=N (Auth-Wait), server=IP,
    port=N (Auth-Server/Auth-Port), backend_user=, backend_pass= (Auth-User/Auth-Pass, sent
    verbatim as nginx expects), methods=("xoauth2", ...) (accepted Auth-Method values),
    delay=seconds before answering). The request's Auth-Pass (percent-
    decoded) must equal `password` unless that is None; an unscripted user or a wrong secret gets
    FAIL_TEXT. Every request is recorded (requests: user, path, lowercased headers, time);
    `connections` counts the TCP connections accepted (keep-alive reuse keeps it low).
    down() closes the port and cuts open connections; up() listens again on the same port."""

    FAIL_TEXT = "Invalid login or password"
    handler_class = _AuthHttpHandler

    def __init__(self, path: str = "/auth"):
        super().__init__()
        self.path = path
        self.scripts: Dict[str, AuthScript] = {}

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"

    def script(self, user: str, **kw) -> None:
        with self.lock:
            self.scripts[user] = AuthScript(**kw)


class _PushHandler(_FixtureHandler):
    def do_POST(self):
        svc: PushHookService = self.server.owner
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        user = body.get("user") if isinstance(body, dict) else None
        now = time.monotonic()
        with svc.lock:
            svc.requests.append({"user": user, "path": self.path, "body": body, "raw": raw,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}, "time": now})
            mode = svc.modes.get(user, ("deny",))
            first = svc.first_seen.setdefault(user, now)
        kind = mode[0]
        if kind == "never":
            # Hold the request until the fixture stops, or until imapgate closes the connection
            # (a cancelled request: recorded in svc.hangups).
            while not svc.stopping.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if readable:
                    try:
                        data = self.connection.recv(1, socket.MSG_PEEK)
                    except OSError:
                        data = b""
                    if not data:
                        with svc.lock:
                            svc.hangups.append({"user": user, "time": time.monotonic()})
                        return
                    time.sleep(0.05)
            return
        if kind == "allow":
            result = "allow"
        elif kind == "pending_then_allow":
            result = "allow" if now - first >= mode[1] else "pending"
        else:
            result = "deny"
        answer = {"result": result, "transaction": f"tx-{user}"}
        self.reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode())


class PushHookService(_FixtureService):
    """A test fixture standing in for a site's own push-approval service (privacyIDEA, Duo...;
    none exists here): answers imapgate's JSON POST per login that needs a push.

    set(user, "allow" | "deny" | "never") or set(user, "pending_then_allow", seconds): allow /
    deny at once, never answer (the request is held until the fixture stops), or answer
    {"result": "pending"} until `seconds` after the user's first request and "allow" after.
    An unknown user is denied. Every request is recorded (requests: user, parsed JSON body, raw
    body, lowercased headers, time)."""

    handler_class = _PushHandler

    def __init__(self, path: str = "/push"):
        super().__init__()
        self.path = path
        self.modes: Dict[str, Tuple] = {}
        self.first_seen: Dict[str, float] = {}
        self.hangups: List[Dict] = []  # requests held ("never") whose connection imapgate closed

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"

    def set(self, user: str, mode: str, seconds: float = 0) -> None:
        with self.lock:
            self.modes[user] = (mode, seconds)
            self.first_seen.pop(user, None)


class AuthGateTestCase(ShardedGateTestCase):
    """imapgate deciding logins itself (issue B) in front of real Dovecots.

    Two shards (shard-a = a1, shard-b = b1); every Dovecot knows BACKEND_USERS (with passwords
    the clients never use unless a test says so) and the master user "imapgate" with a random
    password (cls.master_password). BACKEND_LOGIN "master" makes imapgate log in to the backends
    as that master user (`backend_login: {mode: master, form: login_separator}`), so a client
    whose users-file password differs from the Dovecot one proves imapgate did the check;
    "client" leaves the key out (the client's or the auth service's credentials go to Dovecot).

    Hooks: users_entries() -> (users, domains) of the users file (cls.users_file, 0600, owned by
    the account imapgate runs as; rewrite it with write_users_file); auth_section() -> the `auth:`
    mapping (written as JSON, a YAML subset). AUTH_HTTP / PUSH start an AuthHttpService
    (cls.auth_http) / PushHookService (cls.push) before the config is written.

    Every secret a test sends goes through used(secret); check_no_secrets_in_logs() (each class's
    test_zz_no_secret_in_logs) searches imapgate's stderr and every Dovecot's log for them.
    """

    SHARDS = [("shard-a", ["a1"]), ("shard-b", ["b1"])]
    HEALTH_CHECKS = {"interval": "1s", "timeout": "1s", "rise": 1, "fall": 2}
    BACKEND_LOGIN = "master"
    AUTH_HTTP = False
    PUSH = False

    master_password: str
    users_file: Path
    auth_http: Optional["AuthHttpService"] = None
    push: Optional["PushHookService"] = None
    secrets_used: set
    codes_used: set

    @classmethod
    def users_entries(cls) -> Tuple[Dict[str, Dict], Dict[str, Dict]]:
        """The users file's users and domains (hook). Default: none."""
        return {}, {}

    @classmethod
    def auth_section(cls) -> Dict:
        """The `auth:` mapping (hook)."""
        raise NotImplementedError

    @classmethod
    def start_backend(cls) -> int:
        cls.secrets_used, cls.codes_used = set(), set()
        cls.master_password = secrets.token_urlsafe(24)
        cls.MASTER_USERS = {"imapgate": cls.master_password}
        cls.secrets_used.add(cls.master_password)
        cls.master_password_file = cls.tmp / "master-password"
        write_secret_file(cls.master_password_file, cls.master_password)
        if cls.AUTH_HTTP:
            cls.auth_http = AuthHttpService().start()
        if cls.PUSH:
            cls.push = PushHookService().start()
        cls.users_file = cls.tmp / "users.yaml"
        users, domains = cls.users_entries()
        write_users_file(cls.users_file, users, domains)
        for u, p in (cls.BACKEND_USERS or USERS).items():
            cls.secrets_used.add(p)
        return super().start_backend()

    @classmethod
    def stop_backend(cls) -> None:
        for svc in (cls.auth_http, cls.push):
            if svc is not None:
                svc.stop()
        cls.auth_http = cls.push = None
        super().stop_backend()

    @classmethod
    def imapgate_config(cls, **overrides) -> str:
        text = super().imapgate_config(**overrides)
        text += "auth: " + json.dumps(cls.auth_section()) + "\n"
        if cls.BACKEND_LOGIN == "master":
            text += "backend_login: " + json.dumps({
                "mode": "master", "master_user": "imapgate",
                "master_password_file": str(cls.master_password_file), "form": "login_separator"}) + "\n"
        return text

    # -- secrets -----------------------------------------------------------------------------
    def used(self, secret: str) -> str:
        """Registers a secret a test sends (password, app password, token); returns it."""
        type(self).secrets_used.add(secret)
        return secret

    def code(self, secret_b32: str, t: Optional[float] = None) -> str:
        """totp() of the secret, registered as used."""
        c = totp(secret_b32, t)
        type(self).codes_used.add(c)
        return c

    def logs_to_search(self) -> Dict[str, str]:
        out = {str(self.gate.stderr_path): self.gate.stderr()}
        for name, d in self.backends.items():
            for p in (d.log_path, d.stderr_path):
                try:
                    out[str(p)] = p.read_text(errors="replace")
                except OSError:
                    pass
        return out

    def check_no_secrets_in_logs(self) -> None:
        """No password, app password, token or SASL blob of this class in imapgate's stderr or
        a Dovecot log; no TOTP code used as a whole number token there either. Failure messages
        name the file and the kind of secret, never the secret."""
        cls = type(self)
        needles = []
        for s in cls.secrets_used:
            if len(s) < 6:
                continue
            needles.append(("secret", s))
            needles.append(("percent-encoded secret", urllib.parse.quote(s, safe="")))
            needles.append(("base64 secret", base64.b64encode(s.encode()).decode()))
        found = []
        for path, text in self.logs_to_search().items():
            for kind, n in needles:
                if n and n in text:
                    found.append(f"{kind} (length {len(n)}) in {path}")
            for c in cls.codes_used:
                # a code as a number of its own: not inside a longer number, a time or an id
                if re.search(r"(?<![\w.:+/-])" + c + r"(?![\w.:])", text):
                    found.append(f"a TOTP code used in this class in {path}")
        self.assertGreater(len(cls.secrets_used), 0)
        self.assertEqual(found, [], "secrets found in logs")

    # -- metrics -----------------------------------------------------------------------------
    def metrics_text(self) -> str:
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200, body[:200])
        return body.decode()

    def metric(self, name: str, **labels: str) -> float:
        return metric_sum(self.metrics_text(), name, **labels)

    # -- logins ------------------------------------------------------------------------------
    def connected(self) -> RawClient:
        """A raw client on the implicit-TLS listener, greeting read."""
        c = self.implicit()
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        return c

    def try_login(self, user: str, secret: str, c: Optional[RawClient] = None, tag: str = "l1",
                  timeout: float = 30) -> Tuple[RawClient, List[bytes], float]:
        """LOGIN user secret (registered as used) on `c` or a new implicit-TLS client. Returns
        the client, the response lines and the seconds until the tagged answer."""
        self.used(secret)
        c = c or self.connected()
        t0 = time.monotonic()
        lines = c.command(tag, f'LOGIN "{user}" "{secret}"', timeout=timeout)
        return c, lines, time.monotonic() - t0

    def refusal(self, lines: List[bytes], tag: str = "l1") -> bytes:
        """The text of a tagged NO (everything after 'TAG '), failing when it is not a NO."""
        self.assertEqual(tagged_status(lines, tag), b"NO", lines)
        line = [l for l in lines if l.startswith(tag.encode() + b" ")][-1]
        return line[len(tag) + 1:].rstrip(b"\r\n")
