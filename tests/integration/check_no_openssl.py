#!/usr/bin/env python3
"""ctest no_openssl_in_process: imapgate must not load OpenSSL 3 (libssl.so.3 / libcrypto.so.3).

Usage: check_no_openssl.py BINARY   (runs ldd on it; exit 1 if OpenSSL 3 is linked)
"""
import re
import subprocess
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    r = subprocess.run(["ldd", sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout)
    if r.returncode != 0:
        print(f"ldd failed with {r.returncode}", file=sys.stderr)
        return 1
    bad = [l.strip() for l in r.stdout.splitlines() if re.search(r"\blib(ssl|crypto)\.so\.3\b", l)]
    if bad:
        print("FAIL: OpenSSL 3 is linked into imapgate:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    if not re.search(r"android/lib(ssl|crypto)\.so", r.stdout):
        print("note: BoringSSL (android/libssl.so.0) not dynamically linked (static build?)")
    print("OK: no libssl.so.3 / libcrypto.so.3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
