"""Smoke test of the benchmark tools (bench/): every imapgate-loadgen mode, briefly.

Starts the FIXTURE backend (imapgate-fixture-backend) on an ephemeral 127.0.0.1 port, a real
imapgate in front of it (implicit TLS and STARTTLS listeners), and the bare TLS sink; then runs
the load generator in each mode for a few hundred sessions and checks that its JSON report has
every figure and no failed session. It asserts no speed. Binaries come from the environment:
IMAPGATE_BIN, IMAPGATE_LOADGEN, IMAPGATE_FIXTURE_BACKEND, IMAPGATE_TLS_SINK (bench/tests.cmake
sets them); IMAPGATE_SOURCE_DIR locates scripts/lib/demostack.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("IMAPGATE_SOURCE_DIR") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(SOURCE_DIR / "scripts" / "lib"))

import demostack as ds  # noqa: E402

PASSWORD = "bench-password"
JSON_KEYS = ("mode", "target", "tls", "ok", "failed", "failures", "elapsed_s", "sessions_per_s",
             "latency_us", "held", "fetch_bytes", "fetch_mb_per_s", "selected", "client_cpu_s",
             "client_cpu_us_per_session", "resumed")
LATENCY_KEYS = ("p50", "p90", "p99", "max", "mean")


def _binary(var: str) -> str:
    path = os.environ.get(var)
    if not path:
        raise unittest.SkipTest(f"{var} is not set (run through ctest)")
    if not Path(path).exists():
        raise FileNotFoundError(f"{var}={path} does not exist")
    return path


def _start_listening(cmd, log_path: Path):
    """Starts a tool that prints "LISTENING <port>" first; returns (process, port)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log_path, "wb"),
                            stdin=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start: {line!r} {log_path.read_text()[-2000:]}")
    return proc, int(line.split()[1])


class BenchSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.loadgen = _binary("IMAPGATE_LOADGEN")
        fixture = _binary("IMAPGATE_FIXTURE_BACKEND")
        sink = _binary("IMAPGATE_TLS_SINK")
        gate = _binary("IMAPGATE_BIN")
        cls.tmp = Path(tempfile.mkdtemp(prefix="bench-smoke-"))
        cls.procs = []
        try:
            tls = ds.make_ca_and_server_cert(cls.tmp / "tls")
            cls.ca = str(tls["ca"])
            cls.fixture, cls.backend_port = _start_listening(
                [fixture, "--port", "0", "--password", PASSWORD, "--message-bytes", "10240"],
                cls.tmp / "fixture.log")
            cls.procs.append(cls.fixture)
            cls.sink, cls.sink_port = _start_listening(
                [sink, "--cert", str(tls["cert"]), "--key", str(tls["key"]), "--port", "0"],
                cls.tmp / "sink.log")
            cls.procs.append(cls.sink)
            cls.implicit_port, cls.starttls_port = ds.free_port(), ds.free_port()
            config = cls.tmp / "imapgate.yaml"
            config.write_text(ds.imapgate_yaml(
                str(tls["cert"]), str(tls["key"]), backend_port=cls.backend_port,
                implicit_port=cls.implicit_port, starttls_port=cls.starttls_port,
                admin_port=None, workers=2, log_level="warn")
                # No fixed port: without this line imapgate binds the default admin address
                # 127.0.0.1:9464 (held by a running demo); port 0 disables the admin endpoint.
                + "admin: { address: 127.0.0.1:0 }\n")
            cls.gate = ds.ImapGate(gate, config, cls.tmp / "imapgate.stderr",
                                   ports=(cls.implicit_port, cls.starttls_port)).start()
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def _cleanup(cls):
        gate = getattr(cls, "gate", None)
        if gate is not None:
            gate.stop()
        for p in cls.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
        if os.environ.get("IMAPGATE_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    # -- helpers ---------------------------------------------------------------------------
    def run_loadgen(self, *args, timeout=25):
        cmd = [self.loadgen, "--host", "127.0.0.1", "--max-seconds", "20", "--json", *args]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=timeout)
        lines = res.stdout.strip().splitlines()
        self.assertTrue(lines, f"no output; stderr: {res.stderr}")
        report = json.loads(lines[-1])
        for key in JSON_KEYS:
            self.assertIn(key, report, report)
        for key in LATENCY_KEYS:
            self.assertIn(key, report["latency_us"], report)
        self.assertEqual(report["failed"], 0, f"{report}\n{res.stderr}")
        self.assertEqual(report["failures"], {})
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertGreater(report["client_cpu_s"], 0)
        return report, lines

    def gate_login(self, *extra, port=None, tls="implicit"):
        return ("--port", str(port or self.implicit_port), "--tls", tls, "--user", "bench@x",
                "--password", PASSWORD, *extra)

    # -- the modes -------------------------------------------------------------------------
    def test_login_full_handshakes(self):
        r, _ = self.run_loadgen("--mode", "login", *self.gate_login("--cafile", self.ca),
                                "--sessions", "200", "--concurrency", "10")
        self.assertEqual(r["ok"], 200)
        self.assertEqual(r["selected"], 200)  # a full session: LOGIN, SELECT INBOX, LOGOUT
        self.assertEqual(r["resumed"], 0)
        self.assertGreater(r["latency_us"]["p50"], 0)
        self.assertGreater(r["sessions_per_s"], 0)

    def test_login_resumed(self):
        r, _ = self.run_loadgen("--mode", "login", *self.gate_login("--insecure", "--resume"),
                                "--sessions", "300", "--concurrency", "10")
        self.assertEqual(r["ok"], 300)
        self.assertGreater(r["resumed"], 200)

    def test_login_starttls(self):
        r, _ = self.run_loadgen("--mode", "login",
                                *self.gate_login("--cafile", self.ca, port=self.starttls_port,
                                                 tls="starttls"),
                                "--sessions", "100", "--concurrency", "10")
        self.assertEqual(r["ok"], 100)

    def test_idle(self):
        r, lines = self.run_loadgen("--mode", "idle", *self.gate_login("--insecure", "--resume"),
                                    "--idle-sessions", "200", "--hold-seconds", "1")
        self.assertIn("HELD 200", lines)
        self.assertEqual(r["held"], 200)
        self.assertEqual(r["ok"], 200)

    def test_fetch(self):
        r, _ = self.run_loadgen("--mode", "fetch", *self.gate_login("--insecure"),
                                "--concurrency", "5", "--fetch-uid", "1", "--fetch-count", "300")
        self.assertEqual(r["ops"], 300)
        self.assertEqual(r["fetch_bytes"], 300 * 10240)
        self.assertGreater(r["fetch_mb_per_s"], 0)

    def test_noop(self):
        r, _ = self.run_loadgen("--mode", "noop", *self.gate_login("--insecure"),
                                "--concurrency", "5", "--noop-count", "1000")
        self.assertEqual(r["ops"], 1000)
        self.assertEqual(r["latency_us"]["count"], 1000)

    def test_plaintext_direct_to_fixture(self):
        r, _ = self.run_loadgen("--mode", "login", "--port", str(self.backend_port), "--tls", "none",
                                "--user", "u", "--password", PASSWORD, "--sessions", "300",
                                "--source-addrs", "4")
        self.assertEqual(r["ok"], 300)

    def test_handshake_against_sink(self):
        r, _ = self.run_loadgen("--mode", "handshake", "--port", str(self.sink_port), "--tls",
                                "implicit", "--cafile", self.ca, "--sessions", "200",
                                "--concurrency", "10")
        self.assertEqual(r["ok"], 200)
        r, _ = self.run_loadgen("--mode", "handshake", "--port", str(self.sink_port), "--tls",
                                "implicit", "--insecure", "--resume", "--sessions", "300")
        self.assertGreater(r["resumed"], 200)

    def test_refuses_remote_host(self):
        res = subprocess.run([self.loadgen, "--host", "192.0.2.1", "--port", "993", "--mode",
                              "handshake"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, timeout=10)
        self.assertEqual(res.returncode, 2)
        self.assertIn("loopback", res.stderr)

    def test_zz_sink_reports_cpu(self):
        """Runs last (name order): SIGTERM makes the sink print its JSON line."""
        self.run_loadgen("--mode", "handshake", "--port", str(self.sink_port), "--tls", "implicit",
                         "--insecure", "--sessions", "50")
        self.sink.send_signal(signal.SIGTERM)
        out, _ = self.sink.communicate(timeout=10)
        report = json.loads(out.strip().splitlines()[-1])
        self.assertGreaterEqual(report["handshakes"], 50)
        self.assertIn("cpu_us_per_handshake", report)


    def test_zz_attack_cost_json_shape(self):
        """bench/attack_cost (issue C's attack mode), one tiny round on the in-process store: the
        JSON report has every figure, the flood was answered and no good login failed. It starts
        its own Dovecot and imapgate; it asserts no speed."""
        attack = _binary("IMAPGATE_ATTACK")
        build_dir = Path(attack).parent
        if not (build_dir / "imapgate").exists() or shutil.which("dovecot") is None:
            self.skipTest("needs imapgate next to imapgate-attack and an installed dovecot")
        out = self.tmp / "attack_cost.json"
        res = subprocess.run([sys.executable, str(SOURCE_DIR / "bench" / "attack_cost"), "--build-dir",
                              str(build_dir), "--store", "memory", "--rounds", "1", "--seconds", "2",
                              "--lead", "1", "--rate", "50", "--addrs", "256", "--json", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=150)
        self.assertEqual(res.returncode, 0, res.stderr[-3000:])
        report = json.loads(out.read_text())
        mem = report["stores"]["memory"]
        self.assertEqual(len(mem["rounds"]), 1)
        rnd = mem["rounds"][0]
        for phase in ("idle", "attack"):
            good = rnd[phase]["good"]
            self.assertGreater(good["outcomes"].get("ok", 0), 0, good)
            self.assertEqual(set(good["outcomes"]) - {"ok"}, set(), good)
            for key in ("n", "p50", "p90", "p99", "max"):
                self.assertIn(key, good["login_ms"])
            self.assertGreater(rnd[phase]["imapgate_cores"], 0)
            self.assertGreater(rnd[phase]["imapgate_rss_kib"], 0)
        flood = rnd["attack"]["flood"]
        self.assertGreater(flood["offered"], 0)
        answered = sum(v for k, v in flood["outcomes"].items() if k.startswith(("no_", "bye_")))
        self.assertGreater(answered, 0, flood)
        self.assertEqual(flood["outcomes"].get("ok", 0), 0, flood)  # every flood password is wrong
        self.assertGreater(flood["cpu_s"], 0)
        self.assertIn("ratio_p99", rnd)
        for key in ("ratio_p99_median_of_rounds", "good_failed", "imapgate_cores_median",
                    "imapgate_rss_kib_max", "flood_outcomes_total"):
            self.assertIn(key, mem["summary"])
        self.assertEqual(mem["summary"]["good_failed"], 0)
        self.assertGreater(sum(v for k, v in rnd["attack"]["metrics"].items()
                               if k.startswith("imapgate_abuse_actions_total")), 0, rnd["attack"]["metrics"])


if __name__ == "__main__":
    unittest.main()
