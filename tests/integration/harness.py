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

Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import shutil
import secrets
import signal
import socket
import struct
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
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
                server_hostname: Optional[str] = "localhost", timeout: float = 10) -> "RawClient":
        s = socket.create_connection((HOST, port), timeout=timeout)
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
            limits=cls.LIMITS, timeouts=cls.TIMEOUTS, workers=cls.WORKERS)
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
                   names: Optional[List[str]] = None) -> List[ds.Dovecot]:
    """Start `count` real Dovecots on ephemeral 127.0.0.1 ports, each in ROOT/NAME (names
    default to d1, d2, ...), with `users` (default USERS) and no mail yet (see seed_mail).

    shared_store: all of them share one mail store (ROOT/mail), like a primary and its replicas;
    each keeps its own indexes unless shared_index (see demostack.Dovecot). tls: the paths from
    demostack.make_ca_and_server_cert (its "cert" and "key", signed by its "ca"): each Dovecot
    then offers STARTTLS with that certificate. If one fails to start, the others are stopped."""
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
                           ssl_cert=tls["cert"] if tls else None, ssl_key=tls["key"] if tls else None)
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
    verifies them against it (cls.ca_file; tls_server_name localhost). Every user of USERS gets
    MESSAGES_PER_USER messages on EVERY shard's store, so a login works wherever the router puts
    the user; which backend a user really reached is asserted on the backend side, with
    cls.backends[NAME].logins(user).

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
                                     tls=cls.tls if shard in cls.STARTTLS_SHARDS else None)
            for name, d in zip(names, started):
                cls.backends[name] = d
                cls.shard_of[name] = shard
            msgs = seed_mail(started, list(USERS), cls.MESSAGES_PER_USER)
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
                  health_checks=cls.HEALTH_CHECKS, drain_grace=cls.DRAIN_GRACE)
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
