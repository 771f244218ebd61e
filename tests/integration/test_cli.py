"""The command line: --version, -t on a good and on a bad config, the exact one-line errors a new
admin gets for common mistakes, -t on conf/examples/production.yaml, and -t's address checks and
warnings."""

import os
import re
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import ds, imapgate_bin, run_cmd

SOURCE_DIR = Path(os.environ.get("IMAPGATE_SOURCE_DIR", Path(__file__).resolve().parents[2]))
TAB_MESSAGE = ("tab character in the indentation: YAML indents with spaces only, replace the tab "
               "with spaces")


def make_expired_cert(directory: Path, key: Path) -> Path:
    """A certificate for `key`, valid only during 2020, signed by a throwaway CA (openssl ca)."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    run = lambda *args: subprocess.run(args, cwd=d, check=True, capture_output=True)  # noqa: E731
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key")
    run("openssl", "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=expired test CA",
        "-days", "3650", "-out", "ca.pem")
    run("openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", "leaf.csr")
    (d / "index.txt").write_text("")
    (d / "serial").write_text("01\n")
    (d / "ca.cnf").write_text("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                              "serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                              "[p]\ncommonName = supplied\n")
    run("openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
        "-in", "leaf.csr", "-out", "expired.pem", "-notext",
        "-startdate", "20200101000000Z", "-enddate", "20210101000000Z")
    return d / "expired.pem"


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


class ConfigErrorLineTest(unittest.TestCase):
    """`imapgate -t` on a config with one common mistake prints exactly one line,
    FILE:LINE:COL: message, that names the listener and says what is wrong in plain words."""

    @classmethod
    def setUpClass(cls):
        cls.binary = str(imapgate_bin())
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="imapgate-it-cli-errors-")
        cls.tmp = Path(cls.tmpdir.name)
        cls.tls = ds.make_ca_and_server_cert(cls.tmp / "tls")
        cls.other = ds.make_ca_and_server_cert(cls.tmp / "other")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def config_lines(self, cert=None, key=None):
        """The harness's config (imaps at line 4, its tls at line 7; imap at line 8, its mode at 10)."""
        text = ds.imapgate_yaml(str(self.tls["cert"]), str(self.tls["key"]), backend_port=ds.free_port(),
                                implicit_port=ds.free_port(), starttls_port=ds.free_port(),
                                admin_port=ds.free_port())
        # The process keys (user:, group:) go to the end, so the listeners keep their line numbers.
        lines = text.splitlines()
        process = [l for l in lines if l.startswith(("user:", "group:", "allow_root:"))]
        lines = [l for l in lines if l not in process] + process
        self.assertEqual(lines[3], "  - name: imaps")
        self.assertTrue(lines[6].startswith("    tls: {"), lines[6])
        self.assertEqual(lines[7], "  - name: imap")
        self.assertEqual(lines[9], "    mode: starttls")
        if cert is not None:
            lines[6] = lines[6].replace(str(self.tls["cert"]), str(cert))
        if key is not None:
            lines[6] = lines[6].replace(str(self.tls["key"]), str(key))
        return lines

    def check_fails_with(self, name, lines, expected):
        cfg = self.tmp / f"{name}.yaml"
        cfg.write_text("\n".join(lines) + "\n")
        r = run_cmd([self.binary, "-t", "-c", str(cfg)])
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 1, out)
        self.assertEqual(r.stdout, b"", out)
        self.assertEqual(r.stderr.decode(errors="replace"), f"{cfg}:{expected}\n")
        self.assertNotIn("OPENSSL_internal", out)
        self.assertNotIn(":0:0:", out)

    def test_nested_error_names_the_listener(self):
        lines = self.config_lines()
        lines[9] = "    mode: sometimes"
        self.check_fails_with("mode", lines,
                              "10:11: listeners[imap].mode: expected implicit or starttls, got 'sometimes'")

    def test_tab_indentation_is_named(self):
        lines = self.config_lines()
        lines[4] = "\t" + lines[4].lstrip()
        self.check_fails_with("tab", lines, "5:1: " + TAB_MESSAGE)

    def test_missing_certificate_file(self):
        missing = self.tmp / "no-such-cert.pem"
        self.check_fails_with("no-cert", self.config_lines(cert=missing),
                              f"7:10: listener 'imaps': certificate '{missing}': file not found")

    def test_certificate_that_is_not_pem(self):
        text = self.tmp / "text.pem"
        text.write_text("not a certificate\n")
        self.check_fails_with("not-pem", self.config_lines(cert=text),
                              f"7:10: listener 'imaps': certificate '{text}': not a PEM file "
                              "(no '-----BEGIN' line)")

    def test_key_given_as_certificate(self):
        key = self.tls["key"]
        self.check_fails_with("key-as-cert", self.config_lines(cert=key),
                              f"7:10: listener 'imaps': certificate '{key}': no certificate in it "
                              "(it holds 'PRIVATE KEY')")

    def test_key_that_does_not_match_the_certificate(self):
        key = self.other["key"]
        self.check_fails_with("mismatch", self.config_lines(key=key),
                              f"7:10: listener 'imaps': key '{key}': does not match the certificate "
                              f"'{self.tls['cert']}'")

    def test_expired_certificate(self):
        expired = make_expired_cert(self.tmp / "expired", self.tls["key"])
        self.check_fails_with("expired", self.config_lines(cert=expired),
                              f"7:10: listener 'imaps': certificate '{expired}': expired on "
                              "Jan  1 00:00:00 2021 GMT")

    # The error points at the tls_ca value and names the backend (a `backend:` is the backend
    # named "default" of the one shard it makes).
    def test_backend_error_points_at_its_value(self):
        lines = self.config_lines()
        idx = next(i for i, l in enumerate(lines) if l.startswith("backend:"))
        missing = self.tmp / "no-such-ca.pem"
        lines[idx] = lines[idx].replace("security: plaintext", f"security: tls, tls_ca: {missing}")
        col = lines[idx].index("tls_ca: ") + len("tls_ca: ") + 1
        self.check_fails_with("backend-ca", lines,
                              f"{idx + 1}:{col}: backend 'default': tls_ca: CA file '{missing}': file not found")

    def test_unreadable_config_file_names_the_file_without_a_position(self):
        missing = self.tmp / "no-such-config.yaml"
        r = run_cmd([self.binary, "-t", "-c", str(missing)])
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stderr.decode(), f"{missing}: cannot read file: No such file or directory\n")


class ProductionExampleTest(unittest.TestCase):
    """conf/examples/production.yaml passes `imapgate -t` once the files it names exist. The test
    copies it, moves /etc/imapgate/ into a temp dir holding generated certificates, and moves its
    addresses to free loopback ports (993/143 need root, a running demo holds 9464, and the backend
    host is an example name); nothing else changes."""

    def test_production_example_passes_check(self):
        binary = str(imapgate_bin())
        example = SOURCE_DIR / "conf" / "examples" / "production.yaml"
        text = example.read_text()
        with tempfile.TemporaryDirectory(prefix="imapgate-it-production-") as tmp:
            root = Path(tmp) / "etc" / "imapgate"
            tls = ds.make_ca_and_server_cert(Path(tmp) / "gen")
            (root / "tls").mkdir(parents=True)
            (root / "tls" / "fullchain.pem").write_text(tls["cert"].read_text() + tls["ca"].read_text())
            (root / "tls" / "privkey.pem").write_text(tls["key"].read_text())
            (root / "backend-ca.pem").write_text(tls["ca"].read_text())
            # Every path value in the example is one of the files made above.
            self.assertEqual(set(re.findall(r"(?m)^\s*[a-z_]+: (/etc/imapgate/\S+)$", text)),
                             {"/etc/imapgate/tls/fullchain.pem", "/etc/imapgate/tls/privkey.pem",
                              "/etc/imapgate/backend-ca.pem"})
            text = text.replace("/etc/imapgate/", f"{root}/")
            # The example's account does not exist here; the system's unprivileged one does.
            for key, account in (("user", "nobody"), ("group", "nogroup")):
                self.assertEqual(text.count(f"\n{key}: imapgate\n"), 1, key)
                text = text.replace(f"\n{key}: imapgate\n", f"\n{key}: {account}\n")
            for address in ("0.0.0.0:993", "0.0.0.0:143", "127.0.0.1:9464",
                            "imap-backend.example.internal:993"):
                self.assertEqual(text.count(f"address: {address}\n"), 1, address)
                text = text.replace(f"address: {address}\n", f"address: 127.0.0.1:{ds.free_port()}\n")
            cfg = root / "imapgate.yaml"
            cfg.write_text(text)
            r = run_cmd([binary, "-t", "-c", str(cfg)])
            out = (r.stdout + r.stderr).decode(errors="replace")
            self.assertEqual(r.returncode, 0, out)
            self.assertIn("is valid", out)


if __name__ == "__main__":
    unittest.main()
