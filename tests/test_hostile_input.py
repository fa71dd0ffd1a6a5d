"""Hostile connections and requests: TLS garbage, slowloris at every stage of a request, the
connection limit, 10 MB bodies sent in full, and path tricks on the Agent endpoint. After each,
the gateway still serves a well-behaved client.

The gateway here runs with small limits (one-second timeouts, eight connections), so what a
default gateway bounds in ten seconds is seen bounded in one.
"""

import random
import socket
import ssl
import time

import pytest
import requests

from harness import embedded_config
from test_bad_input import JSON, assert_error

LIMITS = """
[server]
max_connections = 8
handshake_timeout_seconds = 1
header_read_timeout_seconds = 1
body_read_timeout_seconds = 1
"""
# How long a test waits for the gateway to close a connection a timeout should have closed:
# the timeout plus generous slack for a loaded machine.
CLOSE_WITHIN = 10.0


@pytest.fixture
def limited(make_gateway):
    return make_gateway(config=embedded_config(LIMITS))


def tls_context(gateway) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=gateway.ca)
    context.load_cert_chain(*gateway.client_cert)
    return context


def tls_connection(gateway) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", gateway.port), timeout=CLOSE_WITHIN)
    return tls_context(gateway).wrap_socket(raw, server_hostname="localhost")


def closed_by_gateway(sock: socket.socket) -> bool:
    """Reads until the gateway closes the connection, within CLOSE_WITHIN; whether it did."""
    deadline = time.monotonic() + CLOSE_WITHIN
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(65536):
                return True
    except (ConnectionError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
    return False


def still_serves(gateway, name="canary") -> None:
    sm = gateway.client()
    try:
        sm.create_secret(Name=name, SecretString="the gateway still serves")
    except sm.exceptions.ResourceExistsException:
        pass
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "the gateway still serves"


def test_tls_garbage_is_refused_and_the_gateway_serves_on(limited):
    rng = random.Random(8)
    hello_prefix = bytes.fromhex("160301")  # a TLS handshake record, then nonsense
    payloads = [
        bytes(rng.getrandbits(8) for _ in range(4096)),
        hello_prefix + b"\xff\xff" + bytes(rng.getrandbits(8) for _ in range(512)),
        hello_prefix + b"\x00\x05\x01\x00\x00\xff\xff",  # a ClientHello claiming 64 KB, then silence
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",  # plain HTTP on the TLS port
        b"\x00" * 10_000,
    ]
    for payload in payloads:
        with socket.create_connection(("127.0.0.1", limited.port), timeout=CLOSE_WITHIN) as sock:
            sock.sendall(payload)
            assert closed_by_gateway(sock), payload[:16]
    assert "TLS handshake" in limited.logs()
    still_serves(limited)


def test_slow_clients_are_dropped_and_the_connection_limit_holds(limited):
    """The eight connections the limit allows are all taken by slow clients: one silent before
    the handshake, some dripping headers, some dripping a body, some idle after a request.
    Each is closed by its timeout, and a well-behaved client, which waited in the accept queue,
    is served."""
    silent = socket.create_connection(("127.0.0.1", limited.port), timeout=CLOSE_WITHIN)
    slow_headers = [tls_connection(limited) for _ in range(3)]
    slow_bodies = [tls_connection(limited) for _ in range(3)]
    idle = tls_connection(limited)
    for sock in slow_headers:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\n")
    for sock in slow_bodies:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: secretsmanager.ListSecrets\r\n"
                     b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{")
    idle.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: secretsmanager.ListSecrets\r\n"
                 b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}")
    # The slow ones go on dripping, a byte every 0.2 s, for longer than their timeouts.
    for _ in range(10):
        time.sleep(0.2)
        for sock in slow_headers + slow_bodies:
            try:
                sock.send(b"x" if sock in slow_bodies else b"X")
            except (OSError, ssl.SSLError):
                pass
    still_serves(limited)
    for sock in [silent, *slow_headers, *slow_bodies, idle]:
        assert closed_by_gateway(sock)
        sock.close()
    still_serves(limited, "canary-2")


def test_ten_megabyte_bodies_sent_in_full(limited):
    """A 10 MB chunked body (no Content-Length to refuse up front), sent as fast as the gateway
    takes it: the gateway answers 413 once the limit is passed and closes the connection
    without reading the rest, so the sender finds it closed long before 10 MB. Nothing is
    created, and the gateway serves on."""
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    sent, answer = 0, b""
    with tls_connection(limited) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: secretsmanager.CreateSecret\r\n"
                     b"Content-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b'24\r\n{"Name": "huge", "SecretString": "xx\r\n')
        try:
            while sent < 10 * 2**20:
                sock.sendall(chunk)
                sent += 65536
        except (OSError, ssl.SSLError):
            pass
        try:
            while data := sock.recv(65536):
                answer += data
        except (OSError, ssl.SSLError):
            pass
    assert sent < 10 * 2**20, "the gateway read a 10 MB body to its end"
    print(f"the connection closed after {sent / 2**20:.1f} MB of 10 MB were sent")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:200]
    sm = limited.client()
    assert not sm.list_secrets(Filters=[{"Key": "name", "Values": ["huge"]}])["SecretList"]
    still_serves(limited)


@pytest.mark.parametrize("path", [
    "/secretsmanager/get?secretId=..%2F..%2Fetc%2Fpasswd",
    "/secretsmanager/get?secretId=canary%00",
    "/secretsmanager/get?secretId=%zz",
    "/secretsmanager/get?secretId=" + "a" * 60_000,
    "/secretsmanager/get?secretId=canary&secretId=other",
    "/v1/../../etc/passwd",
    "/v1/%2e%2e/%2e%2e/etc/passwd",
    "/v1/canary%00",
    "/secretsmanager/get?" + "&".join(f"p{i}=1" for i in range(5000)),
])
def test_path_tricks_on_the_agent_endpoint(make_gateway, path):
    """Names that look like paths are names (none reaches a file system); NUL bytes, bad
    escapes, repeated or unknown parameters and overlong queries get a client error with a
    short answer that does not echo the input."""
    gateway = make_gateway(args=["--agent-listen", "127.0.0.1:0"], env={"AWS_TOKEN": "agent-token-hostile"})
    still_serves(gateway)
    with socket.create_connection(tuple(gateway.agent_address.rsplit(":", 1)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                     f"X-Aws-Parameters-Secrets-Token: agent-token-hostile\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    code = int(head.split()[1])
    assert 400 <= code < 500, (path[:120], head)
    assert len(body) < 2048 and b"a" * 100 not in body and b"\x00" not in body
    still_serves(gateway, "canary-after")
