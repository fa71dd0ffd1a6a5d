"""A key-management HTTP API on loopback: the target the API-key rotation plugins rotate.

Every call is authenticated with `Authorization: Bearer <secret>` of a key that exists and is
not revoked:

    PUT    /keys/{id}  {"secret": "…"}  registers a key: 201; 200 when it exists with this
                                        secret; 409 with another secret or when revoked
    GET    /whoami                      200 {"key_id": …}
    DELETE /keys/{id}                   revokes a key: 204; 404 when unknown

Any other path is 404, a missing, unknown or revoked key 401. Secrets are kept as sha256 digests.
"""

import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, dict] = {}
        self.requests: list[tuple[str, str, int]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def issue(self, key_id: str) -> str:
        """Creates a key as an administrator would, and returns its secret."""
        secret = secrets.token_urlsafe(30)
        with self._lock:
            self._keys[key_id] = {"digest": _digest(secret), "revoked": False}
        return secret

    def secret_value(self, key_id: str, secret: str) -> dict:
        """The Secrets Manager value the plugins rotate, for this key."""
        return {"endpoint": self.endpoint, "key_id": key_id, "api_key": secret}

    def authenticate(self, secret: str | None) -> str | None:
        """The id of the live key with this secret, or None."""
        if secret is None:
            return None
        digest = _digest(secret)
        with self._lock:
            for key_id, key in self._keys.items():
                if key["digest"] == digest and not key["revoked"]:
                    return key_id
        return None

    def live_keys(self) -> set[str]:
        with self._lock:
            return {key_id for key_id, key in self._keys.items() if not key["revoked"]}

    def _register(self, key_id: str, secret: str) -> int:
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                self._keys[key_id] = {"digest": _digest(secret), "revoked": False}
                return 201
            return 200 if key["digest"] == _digest(secret) and not key["revoked"] else 409

    def _revoke(self, key_id: str) -> int:
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                return 404
            key["revoked"] = True
            return 204


def _handler(service: KeyService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _caller(self) -> str | None:
            header = self.headers.get("Authorization", "")
            scheme, _, secret = header.partition(" ")
            return service.authenticate(secret) if scheme == "Bearer" else None

        def _answer(self, status: int, body: dict | None = None):
            service.requests.append((self.command, self.path, status))
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def do_GET(self):
            caller = self._caller()
            if self.path != "/whoami":
                return self._answer(404)
            if caller is None:
                return self._answer(401, {"error": "invalid or revoked key"})
            self._answer(200, {"key_id": caller})

        def do_PUT(self):
            body = self._body()
            if not self.path.startswith("/keys/"):
                return self._answer(404)
            if self._caller() is None:
                return self._answer(401, {"error": "invalid or revoked key"})
            secret = body.get("secret")
            if not isinstance(secret, str) or len(secret) < 20:
                return self._answer(400, {"error": "secret: at least 20 characters"})
            self._answer(service._register(self.path.removeprefix("/keys/"), secret))

        def do_DELETE(self):
            if not self.path.startswith("/keys/"):
                return self._answer(404)
            if self._caller() is None:
                return self._answer(401, {"error": "invalid or revoked key"})
            self._answer(service._revoke(self.path.removeprefix("/keys/")))

    return Handler
