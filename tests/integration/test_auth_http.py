"""Authentication inside imapgate (issue B), http source: an nginx auth_http-compatible service
decides each login, may route it (Auth-Server/Auth-Port), may give the backend credentials
(Auth-User/Auth-Pass) and may ask for a delay before the NO (Auth-Wait). imapgate logs in to real
Dovecots with those credentials (backend_login client); the clients' own passwords and tokens
are unknown to Dovecot, so a login that works proves the service's answer was used.

The service is harness.AuthHttpService, a test fixture standing in for a site's own auth
service (none exists here); it records every request's headers and counts its connections.

* AuthHttpTest: nginx's request headers (Auth-Method, percent-encoded Auth-Pass, Auth-Protocol,
  Auth-Login-Attempt, Client-IP, Auth-SSL...); OK routes to the backend named by
  Auth-Server/Auth-Port, asserted in that Dovecot's log (both shards); an address that is no
  configured backend is refused; Auth-Wait delays the NO; the failure text; the service down
  or too slow gives NO [UNAVAILABLE] and the same connection logs in once it is back; curl
  --oauth2-bearer and raw AUTHENTICATE XOAUTH2 / OAUTHBEARER with the token checked by the
  service (Auth-Method xoauth2 / oauthbearer, the token in Auth-Pass); several
  logins reuse one keep-alive connection per worker; imapgate_auth_attempts_total by mechanism
  and result; no secret in any log.
"""

from __future__ import annotations

import base64
import secrets
import time
import unittest
import urllib.parse

from harness import AuthGateTestCase, HOST, run_cmd, tagged_status

ALICE, BOB, OLLIE = "alice@demo.test", "bob@demo.test", "ollie@demo.test"
WAITER, SUSPENDED, SLOW = "waiter@demo.test", "suspended@demo.test", "slow@demo.test"
BACKEND_USERS = {u: f"{u.split('@')[0]}-dovecot-{secrets.token_hex(4)}" for u in (ALICE, BOB, OLLIE)}
# client passwords the service accepts; alice's has a space and a '%' (percent-encoded on the wire)
PW = {ALICE: f"alice http {secrets.token_hex(4)}%pw", BOB: f"bob-http-{secrets.token_urlsafe(10)}",
      WAITER: f"waiter-{secrets.token_urlsafe(10)}", SLOW: f"slow-{secrets.token_urlsafe(10)}",
      SUSPENDED: f"suspended-{secrets.token_urlsafe(10)}"}
TOKEN = "ya29." + secrets.token_urlsafe(32)
SUSPENDED_TEXT = "Account suspended, call the helpdesk"


class AuthHttpTest(AuthGateTestCase):
    BACKEND_USERS = BACKEND_USERS
    BACKEND_LOGIN = "client"
    AUTH_HTTP = True
    SERVICE_TIMEOUT = 2.0

    @classmethod
    def auth_section(cls):
        return {"sources": {"nginx": {"type": "http", "url": cls.auth_http.url, "timeout": "2s"}},
                "chain": ["nginx"], "mechanisms": ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"],
                "cache_ttl": "0s", "timeout": "10s"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.auth_http
        s.script(ALICE, password=PW[ALICE], backend_user=ALICE, backend_pass=BACKEND_USERS[ALICE])
        s.script(WAITER, password=PW[WAITER], wait=2)
        s.script(SUSPENDED, status=SUSPENDED_TEXT)
        s.script(SLOW, password=PW[SLOW], delay=5, backend_user=ALICE, backend_pass=BACKEND_USERS[ALICE])
        s.script(OLLIE, password=TOKEN, methods=("xoauth2", "oauthbearer"),
                 backend_user=OLLIE, backend_pass=BACKEND_USERS[OLLIE])

    def auth_attempts(self, mechanism: str, result: str) -> float:
        return self.metric("imapgate_auth_attempts_total", source="nginx", mechanism=mechanism, result=result)

    def wait_backend_login(self, user, since, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            got = self.backend_that_logged(user, since)
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    # -- request ------------------------------------------------------------------------------
    def test_request_headers_are_nginx_compatible(self):
        n = len(self.auth_http.requests_of(ALICE))
        c, lines, _ = self.try_login(ALICE, "wrong " + PW[ALICE], tag="l1")
        self.assertEqual(tagged_status(lines, "l1"), b"NO", lines)
        _, lines, _ = self.try_login(ALICE, PW[ALICE], c=c, tag="l2")
        self.assertEqual(tagged_status(lines, "l2"), b"OK", lines)
        reqs = self.auth_http.requests_of(ALICE)[n:]
        self.assertEqual(len(reqs), 2)
        h = reqs[1]["headers"]
        self.assertEqual(reqs[1]["path"], "/auth")
        self.assertEqual(h.get("auth-method"), "plain")
        self.assertEqual(h.get("auth-user"), ALICE)
        # space and '%' percent-encoded, as nginx does (compared without showing the secret)
        self.assertTrue(h.get("auth-pass") == PW[ALICE].replace("%", "%25").replace(" ", "%20"),
                        "Auth-Pass is not the nginx percent-encoding of the password")
        self.assertEqual(h.get("auth-protocol"), "imap")
        self.assertEqual([r["headers"].get("auth-login-attempt") for r in reqs], ["1", "2"])
        self.assertEqual(h.get("client-ip"), HOST)
        self.assertEqual(h.get("auth-ssl"), "on")
        self.assertIn("TLS", h.get("auth-ssl-protocol", ""))
        self.assertIn("host", h)

    # -- routing and backend credentials ------------------------------------------------------
    def test_ok_routes_to_auth_server_with_auth_user_and_pass(self):
        for backend in ("b1", "a1", "b1"):
            d = self.backends[backend]
            self.auth_http.script(BOB, password=PW[BOB], server=HOST, port=d.port,
                                  backend_user=BOB, backend_pass=BACKEND_USERS[BOB])
            since = self.login_counts(BOB)
            c, lines, _ = self.try_login(BOB, PW[BOB])
            self.assertEqual(tagged_status(lines, "l1"), b"OK", (backend, lines))
            self.assertEqual(self.wait_backend_login(BOB, since), [backend])
            lines = c.command("s", "SELECT INBOX")
            self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
            c.close()

    def test_auth_server_that_is_no_backend_is_refused(self):
        # the imapgate admin port: a live address on 127.0.0.1 that is no configured backend
        self.auth_http.script(BOB, password=PW[BOB], server=HOST, port=self.admin_port,
                              backend_user=BOB, backend_pass=BACKEND_USERS[BOB])
        since = self.login_counts(BOB)
        c, lines, _ = self.try_login(BOB, PW[BOB])
        self.assertEqual(tagged_status(lines, "l1"), b"NO", lines)
        time.sleep(0.5)
        self.assertEqual(self.backend_that_logged(BOB, since), [])
        c.close()

    # -- failures -----------------------------------------------------------------------------
    def test_auth_wait_delays_the_no(self):
        c, lines, took = self.try_login(WAITER, "wrong-" + PW[WAITER])
        self.assertEqual(tagged_status(lines, "l1"), b"NO", lines)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 4.0)
        # a failure without Auth-Wait is answered at once
        c2, lines, took2 = self.try_login(ALICE, "wrong-" + PW[ALICE])
        self.assertEqual(tagged_status(lines, "l1"), b"NO", lines)
        self.assertLess(took2, 1.0)
        c.close()
        c2.close()

    def test_failure_text_reaches_the_client(self):
        c, lines, _ = self.try_login(SUSPENDED, PW[SUSPENDED])
        self.assertIn(SUSPENDED_TEXT.encode(), self.refusal(lines))
        c.close()

    def test_service_down_unavailable_then_same_connection_works(self):
        before = self.auth_attempts("login", "unavailable")
        self.auth_http.down()
        self.addCleanup(self.ensure_service_up)
        c, lines, took = self.try_login(ALICE, PW[ALICE], tag="l1")
        self.assertIn(b"[UNAVAILABLE]", self.refusal(lines, "l1"))
        self.assertLess(took, self.SERVICE_TIMEOUT + 1)
        self.auth_http.up()
        _, lines, _ = self.try_login(ALICE, PW[ALICE], c=c, tag="l2")
        self.assertEqual(tagged_status(lines, "l2"), b"OK", lines)
        lines = c.command("s", "SELECT INBOX")
        self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
        self.assertEqual(self.auth_attempts("login", "unavailable") - before, 1)

    def ensure_service_up(self):
        if self.auth_http._server is None:
            self.auth_http.up()

    def test_slow_service_unavailable_after_timeout(self):
        c, lines, took = self.try_login(SLOW, PW[SLOW])
        self.assertIn(b"[UNAVAILABLE]", self.refusal(lines))
        self.assertGreaterEqual(took, self.SERVICE_TIMEOUT - 0.2)
        self.assertLess(took, self.SERVICE_TIMEOUT + 1.5)
        # the session is still usable
        lines = c.command("n", "NOOP")
        self.assertEqual(tagged_status(lines, "n"), b"OK", lines)
        c.close()

    # -- bearer tokens ------------------------------------------------------------------------
    def test_curl_oauth2_bearer(self):
        # curl picks the mechanism itself (OAUTHBEARER when offered, as curl 7.88 does)
        self.used(TOKEN)
        n = len(self.auth_http.requests_of(OLLIE))
        since = self.login_counts(OLLIE)
        r = run_cmd(["curl", "--silent", "--show-error", "--ipv4", "--max-time", "30", "--cacert", self.ca_file,
                     "--user", f"{OLLIE}:", "--oauth2-bearer", TOKEN,
                     f"imaps://localhost:{self.implicit_port}/INBOX;UID=1"], timeout=40)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Subject: Message 1 for ollie@demo.test\r\n", r.stdout)
        reqs = self.auth_http.requests_of(OLLIE)[n:]
        self.assertEqual(len(reqs), 1)
        self.assertIn(reqs[0]["headers"].get("auth-method"), ("xoauth2", "oauthbearer"))
        self.assertTrue(urllib.parse.unquote(reqs[0]["headers"].get("auth-pass", "")) == TOKEN,
                        "Auth-Pass is not the bearer token")
        self.assertTrue(self.wait_backend_login(OLLIE, since), "no Dovecot logged ollie in")

    def test_authenticate_xoauth2_and_oauthbearer(self):
        self.used(TOKEN)
        blobs = {"XOAUTH2": f"user={OLLIE}\x01auth=Bearer {TOKEN}\x01\x01",
                 "OAUTHBEARER": f"n,a={OLLIE},\x01host=localhost\x01auth=Bearer {TOKEN}\x01\x01"}
        for mechanism, blob in blobs.items():
            before = self.auth_attempts(mechanism.lower(), "ok")
            n = len(self.auth_http.requests_of(OLLIE))
            ir = self.used(base64.b64encode(blob.encode()).decode())
            c = self.connected()
            lines = c.command("a", f"AUTHENTICATE {mechanism} {ir}", timeout=20)
            self.assertEqual(tagged_status(lines, "a"), b"OK", (mechanism, lines))
            lines = c.command("s", "SELECT INBOX")
            self.assertEqual(tagged_status(lines, "s"), b"OK", lines)
            c.close()
            reqs = self.auth_http.requests_of(OLLIE)[n:]
            self.assertEqual(len(reqs), 1, mechanism)
            self.assertEqual(reqs[0]["headers"].get("auth-method"), mechanism.lower())
            self.assertTrue(urllib.parse.unquote(reqs[0]["headers"].get("auth-pass", "")) == TOKEN,
                            f"{mechanism}: Auth-Pass is not the bearer token")
            self.assertEqual(self.auth_attempts(mechanism.lower(), "ok") - before, 1)

    def test_wrong_bearer_token_refused(self):
        self.used(TOKEN)
        r = run_cmd(["curl", "--silent", "--show-error", "--ipv4", "--max-time", "30", "--cacert", self.ca_file,
                     "--login-options", "AUTH=XOAUTH2", "--user", f"{OLLIE}:",
                     "--oauth2-bearer", self.used("ya29." + secrets.token_urlsafe(32)),
                     f"imaps://localhost:{self.implicit_port}/INBOX;UID=1"], timeout=40)
        self.assertEqual(r.returncode, 67, f"curl exit {r.returncode}: {r.stderr!r}")  # CURLE_LOGIN_DENIED

    # -- keep-alive ---------------------------------------------------------------------------
    def test_logins_reuse_keepalive_connection(self):
        conns, reqs = self.auth_http.connections, len(self.auth_http.requests)
        n = 6
        for _ in range(n):
            c, lines, _ = self.try_login(ALICE, PW[ALICE])
            self.assertEqual(tagged_status(lines, "l1"), b"OK", lines)
            c.close()
        self.assertEqual(len(self.auth_http.requests) - reqs, n)
        # at most one new connection per worker (a worker may already hold one)
        self.assertLessEqual(self.auth_http.connections - conns, self.WORKERS,
                             f"{self.auth_http.connections - conns} new connections for {n} logins")

    def test_zz_no_secret_in_logs(self):
        self.check_no_secrets_in_logs()


if __name__ == "__main__":
    unittest.main()
