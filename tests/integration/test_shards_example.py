"""conf/examples/shards.yaml passes `imapgate -t` once the files it names exist, and an unknown
shard in its override file fails the check with the override file's line, and so does an admin
token file that others can read. Like
test_cli.ProductionExampleTest, the test copies the example into a temp dir with generated
certificates and free loopback ports; nothing else changes."""

import os
import re
import tempfile
import unittest
from pathlib import Path

from harness import ds, imapgate_bin, run_cmd

SOURCE_DIR = Path(os.environ.get("IMAPGATE_SOURCE_DIR", Path(__file__).resolve().parents[2]))


class ShardsExampleTest(unittest.TestCase):
    def check(self, overrides, token_mode=0o600):
        binary = str(imapgate_bin())
        text = (SOURCE_DIR / "conf" / "examples" / "shards.yaml").read_text()
        with tempfile.TemporaryDirectory(prefix="imapgate-it-shards-") as tmp:
            root = Path(tmp) / "etc" / "imapgate"
            tls = ds.make_ca_and_server_cert(Path(tmp) / "gen")
            (root / "tls").mkdir(parents=True)
            (root / "tls" / "fullchain.pem").write_text(tls["cert"].read_text() + tls["ca"].read_text())
            (root / "tls" / "privkey.pem").write_text(tls["key"].read_text())
            (root / "backend-ca.pem").write_text(tls["ca"].read_text())
            (root / "overrides").write_text(overrides)
            (root / "admin-token").write_text("0123456789abcdef0123456789abcdef\n")
            os.chmod(root / "admin-token", token_mode)
            self.assertEqual(set(re.findall(r"(?m)^\s*[a-z_]+: (/etc/imapgate/\S+)$", text)),
                             {"/etc/imapgate/tls/fullchain.pem", "/etc/imapgate/tls/privkey.pem",
                              "/etc/imapgate/backend-ca.pem", "/etc/imapgate/overrides",
                              "/etc/imapgate/admin-token"})
            text = text.replace("/etc/imapgate/", f"{root}/")
            for key, account in (("user", "nobody"), ("group", "nogroup")):
                self.assertEqual(text.count(f"\n{key}: imapgate\n"), 1, key)
                text = text.replace(f"\n{key}: imapgate\n", f"\n{key}: {account}\n")
            for address in ("0.0.0.0:993", "127.0.0.1:9464"):
                self.assertEqual(text.count(f"address: {address}\n"), 1, address)
                text = text.replace(f"address: {address}\n", f"address: 127.0.0.1:{ds.free_port()}\n")
            # The backends' example host names do not resolve here.
            text = re.sub(r"imap-[ab][12]\.example\.internal", "127.0.0.1", text)
            cfg = root / "imapgate.yaml"
            cfg.write_text(text)
            r = run_cmd([binary, "-t", "-c", str(cfg)])
            return r.returncode, (r.stdout + r.stderr).decode(errors="replace"), cfg, root, text

    def test_shards_example_passes_check(self):
        code, out, _, _, _ = self.check("# users being moved\nalice@example.com shard-b\nBob shard-a\n")
        self.assertEqual(code, 0, out)
        self.assertIn("is valid", out)

    def test_unknown_shard_in_the_override_file_fails_with_its_line(self):
        code, out, cfg, root, text = self.check("alice shard-a\n\nbob   shard-c\n")
        self.assertEqual(code, 1, out)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if "override_file:" in l)
        self.assertIn(f"{cfg}:{line}:18: routing.override_file: {root}/overrides:3:7: unknown shard "
                      "'shard-c' (shards: shard-a, shard-b)", out)

    def test_admin_token_readable_by_others_fails_with_a_chmod_hint(self):
        code, out, cfg, root, text = self.check("alice shard-a\n", token_mode=0o644)
        self.assertEqual(code, 1, out)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if "token_file:" in l)
        self.assertIn(f"{cfg}:{line}:15: admin.token_file: {root}/admin-token: the file is accessible "
                      "by group or others (mode 0644); a secret file must be private: chmod 600 it",
                      out)
        self.assertNotIn("0123456789abcdef", out)


if __name__ == "__main__":
    unittest.main()
