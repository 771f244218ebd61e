"""conf/examples/auth-http.yaml (the migration example for nginx auth_http users) passes
`imapgate -t` once the demo's certificates exist: the test copies it to the same place in a temp
tree (conf/examples/) with generated certificates at ../../.demo/tls/, and nothing else changes."""

import os
import tempfile
import unittest
from pathlib import Path

from harness import ds, imapgate_bin, run_cmd

SOURCE_DIR = Path(os.environ.get("IMAPGATE_SOURCE_DIR", Path(__file__).resolve().parents[2]))


class AuthHttpExampleTest(unittest.TestCase):
    def test_auth_http_example_passes_check(self):
        text = (SOURCE_DIR / "conf" / "examples" / "auth-http.yaml").read_text()
        self.assertIn('url: "http://127.0.0.1:18080/auth"', text)
        self.assertIn("chain: [nginx]", text)
        with tempfile.TemporaryDirectory(prefix="imapgate-it-authhttp-") as tmp:
            root = Path(tmp)
            tls = ds.make_ca_and_server_cert(root / ".demo" / "tls")
            self.assertTrue(Path(tls["cert"]).exists())
            (root / "conf" / "examples").mkdir(parents=True)
            cfg = root / "conf" / "examples" / "auth-http.yaml"
            cfg.write_text(text)
            r = run_cmd([str(imapgate_bin()), "-t", "-c", str(cfg)])
            out = (r.stdout + r.stderr).decode(errors="replace")
            self.assertEqual(r.returncode, 0, out)
            self.assertIn("is valid", out)


if __name__ == "__main__":
    unittest.main()
