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

import os
import re
import shutil
import signal
import socket
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
            cls.config_path.write_text(ds.imapgate_yaml(
                str(cls.tls["cert"]), str(cls.tls["key"]), cls.backend_port,
                implicit_port=cls.implicit_port, starttls_port=cls.starttls_port,
                admin_port=cls.admin_port, backend_security=cls.BACKEND_SECURITY,
                limits=cls.LIMITS, timeouts=cls.TIMEOUTS, workers=cls.WORKERS)
                # Without an admin key imapgate binds the default 127.0.0.1:9464; port 0 disables it.
                + ("" if cls.ADMIN else "admin: { address: 127.0.0.1:0 }\n"))
            cls.gate = ds.ImapGate(cls.binary, cls.config_path, cls.tmp / "imapgate.stderr",
                                   ports=(cls.implicit_port, cls.starttls_port, cls.admin_port),
                                   prefix=cls.COMMAND_PREFIX)
            cls.gate.start()
        except BaseException:
            cls._teardown(check=False)
            raise

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
            if SANITIZER_RE.search(log):
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
