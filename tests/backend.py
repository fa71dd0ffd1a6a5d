"""A real stand-in for AWS (moto_server), and a counting proxy in front of it.

The proxy is the gateway's view of the backend: it counts every call by operation, and it can
be stopped and started again on the same port to take the backend away without losing moto's
state.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto_server on a free loopback port, from the test venv."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log = open(log_dir / "moto.log", "w")
        self.start()

    def start(self) -> None:
        """Starts moto_server on the port; a restarted one holds nothing (moto keeps its state
        in memory only)."""
        moto = Path(sys.executable).parent / "moto_server"
        self.process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        self.log.close()


class CountingProxy:
    """Forwards HTTP to `upstream`, counting requests per `X-Amz-Target` operation."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, operation: str) -> int:
        with self.lock:
            return self.counts[operation]

    def start(self) -> "CountingProxy":
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with proxy.lock:
                    proxy.connections.add(self.connection)

            def finish(self):
                with proxy.lock:
                    proxy.connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target", "")
                with proxy.lock:
                    proxy.counts[target.split(".")[-1]] += 1
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request("POST", self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Takes the backend away: the port refuses connections until `start`."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        # Keep-alive connections would otherwise go on being served.
        with self.lock:
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()
