"""Peers and measurement helpers for bench/compare (Python 3 stdlib only).

Every server here listens on 127.0.0.1 only, keeps its state in a directory it is given, runs in
its own session (process group) and is stopped by that group's id.

  * Proc                       a foreground server process (argv, log file, ports)
  * backend_extra_config()     TLS listener and limits added to demostack's Dovecot backend
  * DovecotProxy               a second Dovecot instance that proxies to the backend
  * nginx_mail(), haproxy(), auth_http(), tls_sink(), fixture_backend()
  * tree_pids(), tree_cpu_s(), tree_rss_kib()   /proc measurements over process trees

The Dovecot backend class, certificates and ports come from scripts/lib/demostack.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from string import Template
from typing import Dict, Iterable, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "scripts" / "lib"))

import demostack  # noqa: E402  (scripts/lib/demostack.py)
from demostack import LOOPBACK, Dovecot, free_port, wait_for_port  # noqa: E402,F401

NGINX_MAIL_MODULE = Path("/usr/lib/nginx/modules/ngx_mail_module.so")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def render(template_name: str, **values) -> str:
    return Template((HERE / template_name).read_text()).substitute({k: str(v) for k, v in values.items()})


def nofile_hard() -> int:
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def raise_nofile() -> int:
    """Raise our soft RLIMIT_NOFILE to the hard limit (children inherit it). Returns the limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
    return target


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class Proc:
    """A server process in the foreground of its own session; output goes to `log`."""

    def __init__(self, name: str, argv: List[str], log: Path, ports: Iterable[int] = (),
                 cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.ports = [p for p in ports if p]
        self.cwd = cwd
        self.env = env
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 20.0) -> "Proc":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     cwd=self.cwd, env=self.env, start_new_session=True)
        out.close()
        try:
            for p in self.ports:
                wait_for_port(p, timeout=timeout, proc=self.proc)
        except BaseException as e:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {e}\n--- {self.log} ---\n{self.tail()}") from e
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # whatever is left of its process group (workers of a master that died hard)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None


# --------------------------------------------------------------------------------------------
# Dovecot: backend (demostack.Dovecot + extra config) and proxy instance
# --------------------------------------------------------------------------------------------

def backend_extra_config(cert: Path, key: Path, tls_port: int, sessions: int) -> str:
    process_limit = max(1000, sessions + 200)
    return render("dovecot-backend-extra.conf.in", cert=cert, key=key, tls_port=tls_port,
                  process_limit=process_limit, client_limit=max(20000, process_limit * 2),
                  login_client_limit=min(9000, max(1000, sessions * 2)))


class DovecotProxy(Dovecot):
    """A Dovecot instance whose static passdb checks the password and proxies to the backend.

    `self.port` is a plaintext listener used only to see that it is up (plaintext auth is
    refused there); clients use `self.tls_port` (imaps).
    """

    def __init__(self, root, backend_port: int, password: str, cert: Path, key: Path,
                 tls_port: Optional[int] = None, login_client_limit: int = 5000):
        super().__init__(root, users={})
        self.backend_port = backend_port
        self.password = password
        self.cert, self.key = cert, key
        self.tls_port = tls_port or free_port()
        self.login_client_limit = login_client_limit

    def config_text(self) -> str:
        return render("dovecot-proxy.conf.in", base_dir=self.base_dir, dir=self.root,
                      instance=self.instance_name, cert=self.cert, key=self.key,
                      password=self.password, backend_port=self.backend_port,
                      plain_port=self.port, port=self.tls_port,
                      client_limit=max(20000, self.login_client_limit * 4),
                      login_client_limit=self.login_client_limit)


# --------------------------------------------------------------------------------------------
# nginx, HAProxy, auth_http, imapgate's own tools
# --------------------------------------------------------------------------------------------

def auth_http(d: Path, backend_port: int, password: str) -> Proc:
    port = free_port()
    p = Proc("auth_http", [sys.executable, HERE / "auth_http.py", "--port", port,
                           "--backend-port", backend_port, "--password", password],
             d / "auth_http.log", ports=[port])
    p.auth_port = port
    return p


def nginx_mail(d: Path, cert: Path, key: Path, auth_port: int, port: Optional[int] = None,
               nofile: int = 20000) -> Proc:
    """nginx (Debian) with the mail module: `nginx -p D -c D/nginx.conf -e D/error.log`."""
    d.mkdir(parents=True, exist_ok=True)
    if not shutil.which("nginx"):
        raise FileNotFoundError("nginx is not installed (bench/install-peers)")
    if not NGINX_MAIL_MODULE.exists():
        raise FileNotFoundError(f"{NGINX_MAIL_MODULE} missing (libnginx-mod-mail)")
    port = port or free_port()
    conf = d / "nginx.conf"
    conf.write_text(render("nginx.conf.in", dir=d, module=NGINX_MAIL_MODULE, port=port,
                           auth_port=auth_port, cert=cert, key=key, nofile=nofile,
                           worker_connections=max(1024, nofile - 500)))
    test = subprocess.run(["nginx", "-t", "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if test.returncode != 0:
        raise RuntimeError("nginx -t failed:\n" + test.stdout.decode(errors="replace"))
    p = Proc("nginx", ["nginx", "-p", d, "-c", conf, "-e", d / "error.log"], d / "nginx.stderr",
             ports=[port])
    p.port = port
    return p


def haproxy(d: Path, cert: Path, key: Path, backend_port: int, port: Optional[int] = None,
            maxconn: int = 9000) -> Proc:
    d.mkdir(parents=True, exist_ok=True)
    if not shutil.which("haproxy"):
        raise FileNotFoundError("haproxy is not installed (bench/install-peers)")
    port = port or free_port()
    pem = d / "cert-and-key.pem"
    old = os.umask(0o077)
    try:
        pem.write_text(Path(cert).read_text() + Path(key).read_text())
    finally:
        os.umask(old)
    cfg = d / "haproxy.cfg"
    cfg.write_text(render("haproxy.cfg.in", dir=d, port=port, pem=pem, backend_port=backend_port,
                          maxconn=maxconn))
    test = subprocess.run(["haproxy", "-c", "-f", str(cfg)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    if test.returncode != 0:
        raise RuntimeError("haproxy -c failed:\n" + test.stdout.decode(errors="replace"))
    p = Proc("haproxy", ["haproxy", "-f", cfg, "-db"], d / "haproxy.log", ports=[port])
    p.port = port
    return p


def tls_sink(binary: Path, d: Path, cert: Path, key: Path) -> Proc:
    port = free_port()
    p = Proc("imapgate-tls-sink", [binary, "--port", port, "--cert", cert, "--key", key],
             d / "tls-sink.log", ports=[port])
    p.port = port
    return p


def fixture_backend(binary: Path, d: Path, password: str, message_bytes: int = 0) -> Proc:
    port = free_port()
    argv = [binary, "--port", port, "--password", password]
    if message_bytes:
        argv += ["--message-bytes", message_bytes]
    p = Proc("imapgate-fixture-backend", argv, d / "fixture-backend.log", ports=[port])
    p.port = port
    return p


# --------------------------------------------------------------------------------------------
# /proc measurements
# --------------------------------------------------------------------------------------------

def _stat_fields(pid: int) -> Optional[List[str]]:
    try:
        s = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    return s.rsplit(")", 1)[1].split()


def tree_pids(roots: Iterable[int]) -> List[int]:
    """The given pids and all their live descendants."""
    children: Dict[int, List[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = _stat_fields(int(d))
        if f is None:
            continue
        children.setdefault(int(f[1]), []).append(int(d))
    out: List[int] = []
    todo = [r for r in roots if r]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if Path(f"/proc/{p}").exists():
            out.append(p)
        todo.extend(children.get(p, []))
    return out


def _task_runtime_ns(pid: int) -> Optional[int]:
    """CPU time of every live thread of pid in ns (/proc/PID/task/TID/schedstat, field 1: the
    scheduler's exact runtime, which utime+stime are derived from at 10 ms resolution)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def tree_cpu_s(roots: Iterable[int]) -> float:
    """CPU seconds of the live process trees of `roots`, plus what their reaped children used.

    Live processes: the exact per-thread runtime from schedstat (falling back to utime+stime
    where schedstat is unavailable), so that short measurement rounds are not quantised to
    10 ms. cutime/cstime (clock ticks) carry the CPU of descendants that exited and were reaped
    inside the tree (a Dovecot login process, an nginx worker), so a before/after delta covers
    the whole tree.
    """
    seconds = 0.0
    for pid in tree_pids(roots):
        f = _stat_fields(pid)
        if f is None:
            continue
        # after ')': state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        ns = _task_runtime_ns(pid)
        own = ns / 1e9 if ns else (int(f[11]) + int(f[12])) / CLK_TCK
        seconds += own + (int(f[13]) + int(f[14])) / CLK_TCK
    return seconds


def tree_rss_kib(roots: Iterable[int]) -> int:
    """VmRSS (KiB) summed over the live process trees of `roots`."""
    total = 0
    for pid in tree_pids(roots):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total
