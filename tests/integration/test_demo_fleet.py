"""The demo's fleet (issue C, point 8): `scripts/demo --fleet` runs a redis-server on
127.0.0.1:16379 and a second imapgate (20993 implicit TLS, 20143 STARTTLS, admin 29464) sharing the
abuse state with the first (10993, 10143, 9464): the same users, backends, admin token and CA.

The demo is started as scripts/demo starts it (`demostack.py demo --repo R --binary B [--fleet]`)
with R a temporary copy of the repository's conf/ (so its .demo/ is a temporary directory), on the
demo's fixed ports: it fails at once, saying so, when one of them is taken (a demo running). Asserted on the wire: alice
logs in through both instances; failures through one tarpit the next login through the other; an
admin kick on one ends her session on the other; the other's admin API shows the failures; Ctrl-C
stops everything (redis-server included) and leaves no process. Without --fleet: no redis-server
and no second instance, the demo as before. Both ways (issue E): a real Prometheus answers on
127.0.0.1:19090 with every imapgate of the demo a target that is up and the alert rules loaded.
"""

from __future__ import annotations

import imaplib
import json
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
import urllib.parse
import urllib.request
from pathlib import Path
from typing import List, Optional, Set

import harness as h
from harness import ds

ALICE, ALICE_PW = "alice@demo.test", "alice-password"
DEMO_PORTS = [ds.DEMO_IMPLICIT_PORT, ds.DEMO_STARTTLS_PORT, ds.DEMO_ADMIN_PORT, ds.DEMO_PROMETHEUS_PORT] + \
    [p for members in ds.DEMO_SHARDS.values() for _, p in members]
FLEET_PORTS = [ds.DEMO_FLEET_REDIS_PORT, ds.DEMO_FLEET_IMPLICIT_PORT, ds.DEMO_FLEET_STARTTLS_PORT,
               ds.DEMO_FLEET_ADMIN_PORT]
START_TIMEOUT = 180


def redis_pids() -> Set[int]:
    res = subprocess.run(["pgrep", "-x", "redis-server"], stdout=subprocess.PIPE, text=True)
    return {int(p) for p in res.stdout.split()}


def procs_naming(text: str) -> List[str]:
    """'pid cmdline' of every live process whose command line contains `text`."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        cmd = ds._proc_cmdline(int(d.name))
        if text in cmd:
            out.append(f"{d.name} {cmd.strip()}")
    return out


def prometheus_api(path: str) -> object:
    """GET http://127.0.0.1:19090/api/v1/PATH (the demo's Prometheus); the answer's data."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{h.HOST}:{ds.DEMO_PROMETHEUS_PORT}/api/v1/{path}", timeout=10) as r:
        answer = json.loads(r.read())
    assert answer["status"] == "success", answer
    return answer["data"]


def duration_seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    assert m, text
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


class SourcedIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAP4_SSL from a given loopback address (127.0.0.0/8 is all local), so a test is a client
    of its own for the abuse counters."""

    def __init__(self, port: int, source: str, ssl_context: ssl.SSLContext):
        self._source = source
        super().__init__(h.HOST, port, ssl_context=ssl_context, timeout=10)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class DemoProcess:
    """`demostack.py demo` in a temporary repository (its conf/ copied from the source tree)."""

    def __init__(self, fleet: bool):
        self.fleet = fleet
        self.binary = h.imapgate_bin()
        for tool in ("dovecot", "redis-server") if fleet else ("dovecot",):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise RuntimeError(f"{tool} is not installed (scripts/install-deps installs it)")
        ports = DEMO_PORTS + (FLEET_PORTS if fleet else [])
        busy = [p for p in ports if ds.port_listening(p) or ds.port_accepts(p)]
        if busy:
            raise RuntimeError(f"the demo's ports {busy} are in use: stop the running demo, then run this test")
        self.tmp = Path(tempfile.mkdtemp(prefix="imapgate-it-demo-fleet-"))
        self.tmp.chmod(0o755)     # imapgate runs as nobody after binding: the tree must be traversable
        (self.tmp / "conf").mkdir()
        shutil.copy(h.SOURCE_DIR / "conf" / "imapgate.yaml", self.tmp / "conf" / "imapgate.yaml")
        self.demo = self.tmp / ".demo"
        self.out_path = self.tmp / "demo.out"
        self.redis_before = redis_pids()
        self.pids: dict = {}
        cmd = [sys.executable, str(h.SOURCE_DIR / "scripts" / "lib" / "demostack.py"), "demo",
               "--repo", str(self.tmp), "--binary", str(self.binary)] + (["--fleet"] if fleet else [])
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            self._wait_started()
        except BaseException:
            self.stop()
            self.cleanup()
            raise

    def output(self) -> str:
        try:
            return self.out_path.read_text(errors="replace")
        except OSError:
            return ""

    def _wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while "imapgate's log follows" not in self.output():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the demo exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the demo did not start within {START_TIMEOUT}s:\n{self.output()[-4000:]}")
            time.sleep(0.2)
        names = ["imapgate.pid", "prometheus.pid"] + (["imapgate-2.pid", "redis.pid"] if self.fleet else [])
        names += [f"backends/{n}.pid" for members in ds.DEMO_SHARDS.values() for n, _ in members]
        for n in names:
            self.pids[n] = ds._read_pid(self.demo / n)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 120) -> Optional[int]:
        """Ctrl-C (SIGINT) and wait; SIGKILL (and the leftovers) when it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def _ours(self, pid: int) -> bool:
        """Whether the live process `pid` is still this demo's (not a reused pid): it names the
        demo's directory, or it is a redis-server on the demo's port."""
        cmd = ds._proc_cmdline(pid) if pid and ds._pid_alive(pid) else ""
        return str(self.tmp) in cmd or ("redis-server" in cmd and f":{ds.DEMO_FLEET_REDIS_PORT}" in cmd)

    def leftovers(self) -> List[str]:
        """What is still alive of this demo: its recorded pids, processes naming its directory,
        a redis-server started since (on the demo's port) and the demo's ports."""
        left = [f"{n} (pid {p})" for n, p in self.pids.items() if self._ours(p)]
        left += procs_naming(str(self.tmp))
        for pid in redis_pids() - self.redis_before:
            if f":{ds.DEMO_FLEET_REDIS_PORT}" in ds._proc_cmdline(pid):
                left.append(f"redis-server {pid}")
        ports = DEMO_PORTS + (FLEET_PORTS if self.fleet else [])
        left += [f"127.0.0.1:{p} listening" for p in ports if ds.port_listening(p)]
        return left

    def cleanup(self) -> None:
        """After stop(): kill what is left (a failed run), remove the directory."""
        for n, p in self.pids.items():
            if self._ours(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        for line in procs_naming(str(self.tmp)):
            try:
                os.kill(int(line.split()[0]), signal.SIGKILL)
            except OSError:
                pass
        if os.environ.get("IMAPGATE_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


class DemoTestBase(unittest.TestCase):
    FLEET = False

    @classmethod
    def setUpClass(cls):
        cls.demo = DemoProcess(cls.FLEET)
        cls.ca = cls.demo.demo / "tls" / "ca.pem"
        cls.token = (cls.demo.demo / "admin-token").read_text().strip()

    @classmethod
    def tearDownClass(cls):
        demo = getattr(cls, "demo", None)
        if demo is not None:
            demo.stop()
            demo.cleanup()

    def ctx(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def login(self, port: int, source: str = h.HOST, user: str = ALICE, password: str = ALICE_PW):
        m = SourcedIMAP4_SSL(port, source, self.ctx())
        self.addCleanup(self._close, m)
        typ, _ = m.login(user, password)
        self.assertEqual(typ, "OK")
        return m

    @staticmethod
    def _close(m: imaplib.IMAP4) -> None:
        try:
            m.shutdown()
        except (OSError, ValueError, AttributeError):
            pass

    def inbox_count(self, m: imaplib.IMAP4) -> int:
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        return int(data[0])

    def failed_login(self, port: int, source: str, password: str) -> float:
        """One wrong password for alice on a new connection: its seconds (TLS handshake excluded)."""
        m = SourcedIMAP4_SSL(port, source, self.ctx())
        self.addCleanup(self._close, m)
        start = time.monotonic()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login(ALICE, password)
        took = time.monotonic() - start
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))
        return took

    def assert_prometheus_scrapes(self, admin_ports: List[int]) -> None:
        """The demo's Prometheus answers on 127.0.0.1:19090, scrapes every imapgate of the demo
        (job imapgate, target up within 30 s) and has monitoring/alerts.yml's rules loaded; the
        demo printed its URL and the status pages' URLs."""
        want = {f"{h.HOST}:{p}" for p in admin_ports}
        deadline = time.monotonic() + 30
        while True:
            active = prometheus_api("targets?state=active")["activeTargets"]
            health = {t["labels"]["instance"]: t["health"] for t in active if t["labels"].get("job") == "imapgate"}
            if all(health.get(i) == "up" for i in want) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(health, {i: "up" for i in want}, f"imapgate targets of the demo's Prometheus: {active}")
        up = prometheus_api("query?query=" + urllib.parse.quote('up{job="imapgate"}'))["result"]
        self.assertEqual({r["metric"]["instance"]: r["value"][1] for r in up}, {i: "1" for i in want})
        rules = [r["name"] for g in prometheus_api("rules")["groups"] for r in g["rules"]]
        alerts = re.findall(r"(?m)^\s*-\s+alert:\s*(\S+)", (h.SOURCE_DIR / "monitoring" / "alerts.yml").read_text())
        self.assertEqual(sorted(rules), sorted(alerts))
        pid = self.demo.pids["prometheus.pid"]
        self.assertTrue(pid and ds._pid_alive(pid) and str(self.demo.demo / "prometheus") in ds._proc_cmdline(pid))
        self.assertTrue((self.demo.demo / "prometheus" / "data").is_dir())
        out = self.demo.output()
        self.assertIn(f"http://127.0.0.1:{ds.DEMO_PROMETHEUS_PORT}", out, "the demo does not print Prometheus's URL")
        for p in admin_ports:
            self.assertIn(f"http://127.0.0.1:{p}/", out, "the demo does not print the status page's URL")

    def assert_stops_cleanly(self):
        rc = self.demo.stop()
        out = self.demo.output()
        self.assertEqual(rc, 0, f"the demo did not exit 0 on Ctrl-C (it may have stopped before):\n{out[-3000:]}")
        self.assertEqual(self.demo.leftovers(), [], f"left running after Ctrl-C:\n{out[-3000:]}")
        self.assertIn("[demo] Dovecots stopped", out)
        self.assertIn("[demo] Prometheus stopped", out)
        self.assertFalse(ds._pid_alive(self.demo.pids["prometheus.pid"]))
        return out


class DemoFleetTest(DemoTestBase):
    FLEET = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conf = (cls.demo.tmp / "conf" / "imapgate.yaml").read_text()
        cls.tarpit_base = duration_seconds(re.search(r"(?m)^\s+tarpit_base:\s*(\S+)", conf).group(1))

    def test_1_the_fleet_configs_share_one_store(self):
        key = self.demo.demo / "abuse-key"
        self.assertEqual(key.stat().st_mode & 0o777, 0o600)
        self.assertGreaterEqual(len(key.read_text().strip()), 32)
        for n, ports in ((1, ("10993", "10143", "9464")), (2, ("20993", "20143", "29464"))):
            text = (self.demo.demo / f"fleet-{n}.yaml").read_text()
            self.assertRegex(text, r"(?m)^  store: redis$")
            self.assertIn('redis: { address: "127.0.0.1:16379" }', text)
            self.assertIn(f"key_file: {key}", text)
            for p in ports:
                self.assertRegex(text, rf"(?m)^\s+address: 127\.0\.0\.1:{p}$")
            self.assertNotRegex(text, r"(?m)^\s+store: memory")
        out = self.demo.output()
        for addr in ("127.0.0.1:16379", "127.0.0.1:20993", "127.0.0.1:20143", "http://127.0.0.1:29464"):
            self.assertIn(addr, out, "the demo does not print the fleet's addresses")
        self.assertTrue(self.demo.pids["redis.pid"] and ds._pid_alive(self.demo.pids["redis.pid"]))

    def test_2_alice_logs_in_through_both_instances(self):
        for port in (ds.DEMO_FLEET_IMPLICIT_PORT, ds.DEMO_IMPLICIT_PORT):
            m = self.login(port)
            self.assertEqual(self.inbox_count(m), 3, f"alice's INBOX through {port}")
            m.logout()
        # And over the second instance's STARTTLS listener.
        m = imaplib.IMAP4(h.HOST, ds.DEMO_FLEET_STARTTLS_PORT, timeout=10)
        self.addCleanup(self._close, m)
        m.starttls(ssl_context=self.ctx())
        self.assertEqual(m.login(ALICE, ALICE_PW)[0], "OK")
        m.logout()

    def test_3_failures_on_one_instance_tarpit_the_other(self):
        attacker = "127.0.33.1"
        for i in range(3):
            took = self.failed_login(ds.DEMO_IMPLICIT_PORT, attacker, f"fleet-guess-{i}")
            self.assertLess(took, self.tarpit_base - 0.1, f"failure {i} on 10993 was already slowed")
        took = self.failed_login(ds.DEMO_FLEET_IMPLICIT_PORT, attacker, "fleet-guess-3")
        self.assertGreaterEqual(took, self.tarpit_base - 0.1,
                                "the 4th attempt on 20993 was not tarpitted: it did not see 10993's failures")
        # alice herself, from her own address, is not slowed.
        start = time.monotonic()
        self.login(ds.DEMO_FLEET_IMPLICIT_PORT).logout()
        self.assertLess(time.monotonic() - start, self.tarpit_base)

    def test_4_a_kick_on_instance_1_ends_the_session_on_instance_2(self):
        m = self.login(ds.DEMO_FLEET_IMPLICIT_PORT)
        self.inbox_count(m)
        status, body, _ = h.admin_request(ds.DEMO_ADMIN_PORT, "POST", f"/api/v1/users/{ALICE}/kick",
                                          token=self.token)
        self.assertEqual(status, 200, body)
        m.sock.settimeout(10)
        try:
            line = m.readline()
        except (TimeoutError, socket.timeout):
            self.fail("no BYE on 20993 within 10 s of the kick on 9464")
        self.assertTrue(line.startswith(b"* BYE"), f"not a BYE on 20993 after the kick on 9464: {line!r}")
        self.assertIn(b"Disconnected by the administrator", line)
        self.assertEqual(m.readline(), b"", "the session on 20993 stayed open after its BYE")

    def test_5_the_second_admin_api_shows_the_failures(self):
        source = "127.0.34.1"
        for i in range(2):
            self.failed_login(ds.DEMO_IMPLICIT_PORT, source, f"counted-{i}")
        query = urllib.parse.urlencode({"address": source})
        # A failure is recorded in Redis after the client has its NO (not before): poll briefly.
        deadline = time.monotonic() + 5
        while True:
            status, body, data = h.admin_request(ds.DEMO_FLEET_ADMIN_PORT, "GET", f"/api/v1/abuse/address?{query}")
            self.assertEqual(status, 200, body)
            if data["failures"] >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(data["failures"], 2, data)
        self.assertIsNone(data["block"], data)
        time.sleep(0.5)
        self.assertTrue(self.demo.running(), f"the demo stopped:\n{self.demo.output()[-3000:]}")

    def test_6_prometheus_scrapes_both_instances(self):
        self.assert_prometheus_scrapes([ds.DEMO_ADMIN_PORT, ds.DEMO_FLEET_ADMIN_PORT])

    def test_z_ctrl_c_stops_everything(self):
        out = self.assert_stops_cleanly()
        for want in ("[demo] imapgate 2 stopped (exit 0)", "[demo] imapgate 1 stopped (exit 0)",
                     "[demo] redis-server stopped"):
            self.assertIn(want, out)
        self.assertFalse(ds._pid_alive(self.demo.pids["redis.pid"]))


class DemoWithoutFleetTest(DemoTestBase):
    """Without --fleet: one imapgate, the memory store, no redis-server, no second instance."""

    def test_1_one_instance_and_no_redis(self):
        self.assertEqual(self.login(ds.DEMO_IMPLICIT_PORT).select("INBOX", readonly=True)[0], "OK")
        for p in FLEET_PORTS:
            self.assertFalse(ds.port_listening(p), f"127.0.0.1:{p} listens without --fleet")
        self.assertEqual({p for p in redis_pids() - self.demo.redis_before
                          if f":{ds.DEMO_FLEET_REDIS_PORT}" in ds._proc_cmdline(p)}, set())
        self.assertFalse((self.demo.demo / "abuse-key").exists())
        self.assertFalse((self.demo.demo / "fleet-1.yaml").exists())
        out = self.demo.output()
        self.assertIn("-c conf/imapgate.yaml", out)
        self.assertNotIn("Fleet (--fleet)", out)

    def test_2_prometheus_scrapes_the_instance(self):
        self.assert_prometheus_scrapes([ds.DEMO_ADMIN_PORT])

    def test_z_ctrl_c_stops_everything(self):
        out = self.assert_stops_cleanly()
        self.assertIn("[demo] imapgate stopped (exit 0)", out)


if __name__ == "__main__":
    unittest.main()
