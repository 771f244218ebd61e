#!/usr/bin/env python3
"""A minimal nginx mail `auth_http` service for bench/compare (stdlib only, 127.0.0.1 only).

Answers each request with `Auth-Status: OK`, `Auth-Server: 127.0.0.1`, `Auth-Port: BACKEND` when
Auth-Pass equals --password (nginx percent-encodes space, '%' and control bytes; decoded here),
else `Auth-Status: Invalid login or password` with `Auth-Wait: 0`.

  auth_http.py --port A --backend-port B --password PW
"""
import argparse
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backend-port", type=int, required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):  # noqa: N802
            given = urllib.parse.unquote(self.headers.get("Auth-Pass", ""))
            self.send_response(200)
            if given == args.password:
                self.send_header("Auth-Status", "OK")
                self.send_header("Auth-Server", "127.0.0.1")
                self.send_header("Auth-Port", str(args.backend_port))
            else:
                self.send_header("Auth-Status", "Invalid login or password")
                self.send_header("Auth-Wait", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt, *a):  # quiet
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    srv = Server(("127.0.0.1", args.port), Handler)
    print(f"auth_http listening on 127.0.0.1:{args.port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
