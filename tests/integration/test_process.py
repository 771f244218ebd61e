"""The process itself: exclusive listeners, privileges, and descriptor exhaustion.

* A second imapgate on the same listener (or admin) address exits non-zero with an error naming
  that listener and address; the first keeps serving. `-t` next to the running instance reports
  the addresses in use as a warning, not an error.
* A running imapgate is not root (as root it switched to nobody), has no effective capability, is
  not dumpable (/proc/PID is then owned by root) and may not write core files.
* Under `prlimit --nofile=64:64`: the session cap comes from the descriptor limit, 80 idle
  connections leave /healthz answering, a flood of idle admin connections does not make the admin
  accept loop spin or flood the log, and once the connections close, logins work again.
"""

import http.client
import os
import re
import socket
import subprocess
import time
import unittest
from pathlib import Path
from typing import List

from harness import ALICE, ALICE_PW, HOST, GateTestCase, ds, run_cmd, tagged_status


def http_get(port: int, path: str, timeout: float) -> int:
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request("GET", path)
        return c.getresponse().status
    finally:
        c.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of stat(5)


def open_idle(port: int, count: int) -> List[socket.socket]:
    """`count` TCP connections to port that never send nor read (the kernel completes them)."""
    out = []
    for _ in range(count):
        s = socket.create_connection((HOST, port), timeout=5)
        out.append(s)
    return out


class ExclusiveListenersTest(GateTestCase):
    WORKERS = 2

    def second_gate(self, config_text: str, name: str) -> subprocess.CompletedProcess:
        cfg = self.tmp / f"{name}.yaml"
        cfg.write_text(config_text)
        return run_cmd([str(self.binary), "-c", str(cfg)], timeout=20)

    def config(self, implicit_port, starttls_port, admin_port) -> str:
        return ds.imapgate_yaml(str(self.tls["cert"]), str(self.tls["key"]), self.backend_port,
                                implicit_port=implicit_port, starttls_port=starttls_port,
                                admin_port=admin_port, workers=2)

    def assert_first_serves(self):
        for _ in range(6):  # several connections: none may land in a second process
            c = self.implicit()
            self.assertTrue(c.greeting().startswith(b"* OK"))
            self.login(c)
            c.close()

    def test_second_instance_on_the_same_ports_fails_with_the_listener_named(self):
        r = self.second_gate(self.config(self.implicit_port, self.starttls_port, self.admin_port), "same")
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn(f"listener 'imaps' on 127.0.0.1:{self.implicit_port}: cannot listen", err)
        self.assertIn("Address already in use", err)
        self.assertIn("another imapgate", err)
        self.assertTrue(self.gate.running())
        self.assert_first_serves()

    def test_second_instance_on_the_starttls_port_alone_fails(self):
        r = self.second_gate(self.config(ds.free_port(), self.starttls_port, ds.free_port()), "starttls")
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn(f"listener 'imap' on 127.0.0.1:{self.starttls_port}: cannot listen", err)
        self.assert_first_serves()

    def test_second_instance_on_the_admin_port_fails_with_the_admin_listener_named(self):
        r = self.second_gate(self.config(ds.free_port(), ds.free_port(), self.admin_port), "admin")
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn(f"admin listener on 127.0.0.1:{self.admin_port}", err)
        self.assertIn("Address already in use", err)
        self.assertEqual(http_get(self.admin_port, "/healthz", 5), 200)

    def test_check_next_to_the_running_instance_warns_about_addresses_in_use(self):
        r = run_cmd([str(self.binary), "-t", "-c", str(self.config_path)])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertIn(f"warning: listener 'imaps' on 127.0.0.1:{self.implicit_port}: address in use", err)
        self.assertIn(f"warning: admin listener on 127.0.0.1:{self.admin_port}: address in use", err)

    def test_started_line_lists_each_listener_with_address_and_mode(self):
        lines = self.wait_for_log(r"\bstarted\b")
        self.assertTrue(lines, self.gate_log())
        self.assertIn(f"imaps=127.0.0.1:{self.implicit_port}/implicit", lines[0])
        self.assertIn(f"imap=127.0.0.1:{self.starttls_port}/starttls", lines[0])

    def test_runs_unprivileged_without_capabilities_and_not_dumpable(self):
        pid = self.gate.pid
        status = Path(f"/proc/{pid}/status").read_text()
        uids = re.search(r"(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", status).groups()
        gids = re.search(r"(?m)^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", status).groups()
        account = ds.unprivileged_account()
        if account:  # started as root: switched to nobody
            import grp
            import pwd
            want_uid, want_gid = pwd.getpwnam(account[0]).pw_uid, grp.getgrnam(account[1]).gr_gid
        else:
            want_uid, want_gid = os.geteuid(), os.getegid()
        self.assertNotEqual(want_uid, 0)
        self.assertEqual(set(uids), {str(want_uid)}, status)  # real, effective, saved, fs
        self.assertEqual(set(gids), {str(want_gid)}, status)
        if account:
            groups = re.search(r"(?m)^Groups:[ \t]*(.*)$", status).group(1).split()
            self.assertEqual(groups, [str(want_gid)], "supplementary groups not dropped")
        self.assertRegex(status, r"(?m)^CapEff:\s+0+$")
        self.assertRegex(status, r"(?m)^CapPrm:\s+0+$")
        # Not dumpable: the kernel makes /proc/PID/* owned by root instead of the process's uid.
        self.assertEqual(os.stat(f"/proc/{pid}/status").st_uid, 0, "imapgate is dumpable")
        limits = Path(f"/proc/{pid}/limits").read_text()
        self.assertRegex(limits, r"(?m)^Max core file size\s+0\s+0\s")
        self.assertTrue(self.wait_for_log(r"\bprivileges\b"), self.gate_log())


# Under UBSan (the ASan+UBSan tree), the vptr check validates a vtable by writing it into a fresh
# pipe(). With every descriptor taken, pipe() fails and the runtime reports a valid object as
# having an "invalid vptr" whose memory "cannot be printed" (reproduced with a ten-line program:
# any polymorphic call after the descriptors run out). That exact report, and only it, is let
# through here: the tree builds vptr as the one recoverable check, this test alone sets
# halt_on_error=0, and the harness still fails the class on every other sanitizer report (a real
# bad cast says "object is of type X"; a use after free is ASan's, which always halts).
_UBSAN_NO_DESCRIPTOR_VPTR_REPORT = re.compile(
    r"[^\n]*: runtime error: member (?:access within|call on) address 0x[0-9a-f]+ which does not point to"
    r" an object of type '[^'\n]+'\n0x[0-9a-f]+: note: object has invalid vptr\n<memory cannot be printed>\n"
    r"(?:SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior [^\n]*\n)?")
_UBSAN_OPTIONS = ":".join(filter(None, [os.environ.get("UBSAN_OPTIONS", ""), "halt_on_error=0",
                                        "print_stacktrace=0"]))


class DescriptorExhaustionTest(GateTestCase):
    WORKERS = 1
    COMMAND_PREFIX = ["env", f"UBSAN_OPTIONS={_UBSAN_OPTIONS}", "prlimit", "--nofile=64:64", "--"]
    KNOWN_FALSE_SANITIZER_REPORTS = [_UBSAN_NO_DESCRIPTOR_VPTR_REPORT]
    TIMEOUTS = {"preauth": "60s"}

    def test_idle_floods_leave_the_admin_endpoint_and_logins_working(self):
        pid = self.gate.pid
        started = self.wait_for_log(r"\bstarted\b")
        self.assertTrue(started, self.gate_log())
        self.assertIn("descriptor_limit=64", started[0])
        self.assertIn("session_cap_per_worker=14", started[0])

        # 80 idle pre-auth connections: the session cap pauses accepting, descriptors remain.
        idle = open_idle(self.starttls_port, 80)
        try:
            time.sleep(0.5)
            t0 = time.monotonic()
            self.assertEqual(http_get(self.admin_port, "/healthz", 2), 200)
            self.assertLess(time.monotonic() - t0, 2)

            # Now exhaust the descriptors through the admin listener itself (evhttp has no
            # connection cap): accept() fails with EMFILE and must back off, not spin.
            log_lines_before = len(self.gate_log().splitlines())
            admin_idle = open_idle(self.admin_port, 60)
            try:
                time.sleep(0.5)
                cpu0 = cpu_seconds(pid)
                time.sleep(2.0)
                used = cpu_seconds(pid) - cpu0
                # Backing off: ~0.01 s. The old busy loop: 0.8-2 s (a whole core, less under load).
                self.assertLess(used, 0.25, f"imapgate used {used:.2f}s of CPU in 2s while out of descriptors")
                # imapgate's own lines (logfmt, "ts=..."): not a sanitizer's notes (see above).
                new_lines = [l for l in self.gate_log().splitlines()[log_lines_before:] if l.startswith("ts=")]
                self.assertLess(len(new_lines), 30, "\n".join(new_lines[:40]))
                self.assertTrue(any("accept_paused" in l and "listener=admin" in l for l in new_lines),
                                "\n".join(new_lines[:40]))
            finally:
                for s in admin_idle:
                    s.close()
            deadline = time.monotonic() + 3
            while True:  # the paused admin listener comes back within its 100 ms pause
                try:
                    self.assertEqual(http_get(self.admin_port, "/healthz", 2), 200)
                    break
                except (OSError, http.client.HTTPException):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        finally:
            for s in idle:
                s.close()

        # The idle connections are gone: a normal login works again.
        deadline = time.monotonic() + 10
        while True:
            try:
                c = self.starttls()
                self.login(c)
                lines = c.command("f1", "SELECT INBOX")
                self.assertEqual(tagged_status(lines, "f1"), b"OK", lines)
                break
            except (OSError, TimeoutError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.assertTrue(self.gate.running())


if __name__ == "__main__":
    unittest.main()
