"""The command line: --version, -t on a good and on a bad config, -t's address checks and
warnings."""

import os
import re
import socket
import tempfile
import unittest
from pathlib import Path

from harness import ds, imapgate_bin, run_cmd


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = str(imapgate_bin())
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="imapgate-it-cli-")
        cls.tmp = Path(cls.tmpdir.name)
        cls.tls = ds.make_ca_and_server_cert(cls.tmp / "tls")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def good_config(self) -> str:
        return ds.imapgate_yaml(str(self.tls["cert"]), str(self.tls["key"]), backend_port=ds.free_port(),
                                implicit_port=ds.free_port(), starttls_port=ds.free_port(),
                                admin_port=ds.free_port())

    def test_version_prints_name_and_version(self):
        r = run_cmd([self.binary, "--version"])
        self.assertEqual(r.returncode, 0, r)
        out = (r.stdout + r.stderr).decode()
        self.assertRegex(out, r"(?m)^imapgate 0\.1\.0$")

    def test_check_good_config_exits_0(self):
        cfg = self.tmp / "good.yaml"
        cfg.write_text(self.good_config())
        r = run_cmd([self.binary, "-t", "-c", str(cfg)])
        self.assertEqual(r.returncode, 0, f"stdout={r.stdout!r} stderr={r.stderr!r}")

    def test_check_bad_value_reports_file_line_col_and_exits_1(self):
        lines = self.good_config().splitlines()
        # Break the mode of the first listener: 'mode: implicit' -> 'mode: sometimes'.
        idx = next(i for i, l in enumerate(lines) if l.strip().startswith("mode:"))
        lines[idx] = lines[idx].replace("implicit", "sometimes")
        cfg = self.tmp / "bad-mode.yaml"
        cfg.write_text("\n".join(lines) + "\n")
        r = run_cmd([self.binary, "-t", "-c", str(cfg)])
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 1, out)
        m = re.search(re.escape(str(cfg)) + r":(\d+):(\d+): \S", out)
        self.assertIsNotNone(m, f"no '{cfg}:LINE:COL: message' line in {out!r}")
        self.assertEqual(int(m.group(1)), idx + 1, f"wrong line number in {out!r}")

    def test_check_unknown_key_reports_file_line_col_and_exits_1(self):
        lines = self.good_config().splitlines()
        lines.insert(1, "wrokers: 4")
        cfg = self.tmp / "bad-key.yaml"
        cfg.write_text("\n".join(lines) + "\n")
        r = run_cmd([self.binary, "-t", "-c", str(cfg)])
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 1, out)
        self.assertRegex(out, re.escape(str(cfg)) + r":2:\d+: \S")

    def test_check_yaml_syntax_error_exits_1(self):
        cfg = self.tmp / "syntax.yaml"
        cfg.write_text("workers: 2\nlisteners: [\n  - name: x\n")
        r = run_cmd([self.binary, "-t", "-c", str(cfg)])
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 1, out)
        self.assertRegex(out, re.escape(str(cfg)) + r":\d+:\d+: \S")

    def check(self, text: str, name: str):
        cfg = self.tmp / f"{name}.yaml"
        cfg.write_text(text)
        r = run_cmd([self.binary, "-t", "-c", str(cfg)])
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def test_check_fails_on_a_listener_address_of_another_host(self):
        port = ds.free_port()
        lines = self.good_config().splitlines()
        idx = next(i for i, l in enumerate(lines) if l.strip().startswith("address:"))
        lines[idx] = f"    address: 192.0.2.1:{port}"  # TEST-NET-1: never an address of this host
        rc, out = self.check("\n".join(lines) + "\n", "foreign")
        self.assertEqual(rc, 1, out)
        self.assertIn(f"listener 'imaps' on 192.0.2.1:{port}: cannot bind: not an address of this host", out)

    def test_check_warns_but_passes_when_an_address_is_in_use(self):
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            port = held.getsockname()[1]
            text = ds.imapgate_yaml(str(self.tls["cert"]), str(self.tls["key"]), backend_port=ds.free_port(),
                                    implicit_port=port, starttls_port=ds.free_port(), admin_port=ds.free_port())
            rc, out = self.check(text, "in-use")
        self.assertEqual(rc, 0, out)
        self.assertIn(f"imapgate: warning: listener 'imaps' on 127.0.0.1:{port}: address in use", out)

    def test_check_warns_about_tls_verify_false(self):
        text = self.good_config().replace("security: plaintext", "security: tls, tls_verify: false")
        self.assertIn("tls_verify: false", text)
        rc, out = self.check(text, "no-verify")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"warning: backend 'default' \(127\.0\.0\.1:\d+\): tls_verify is false")

    def test_check_warns_about_a_plaintext_backend_off_loopback(self):
        text = re.sub(r"address: 127\.0\.0\.1:(\d+), security: plaintext", r"address: 10.0.0.5:\1, security: plaintext",
                      self.good_config())
        self.assertIn("10.0.0.5", text)
        rc, out = self.check(text, "plain-remote")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"warning: backend 'default' \(10\.0\.0\.5:\d+\): security is plaintext")
        good_rc, good_out = self.check(self.good_config(), "plain-loopback")
        self.assertEqual(good_rc, 0, good_out)
        self.assertNotIn("warning", good_out)

    @unittest.skipUnless(os.geteuid() == 0, "needs root: the refusal is about serving as root")
    def test_as_root_without_user_refuses_to_serve_unless_allow_root(self):
        text = "\n".join(l for l in self.good_config().splitlines()
                         if not l.startswith(("user:", "group:"))) + "\n"
        rc, out = self.check(text, "root")
        self.assertEqual(rc, 1, out)
        self.assertIn("refusing to serve as root", out)
        cfg = self.tmp / "root-run.yaml"
        cfg.write_text(text)
        r = run_cmd([self.binary, "-c", str(cfg)], timeout=20)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b"startup_failed error=\"refusing to serve as root", r.stderr)
        rc, out = self.check("allow_root: true\n" + text, "root-allowed")
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
