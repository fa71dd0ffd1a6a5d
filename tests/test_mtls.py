"""Mutual TLS: only clients with a current certificate from the configured CA get in."""

import signal
import socket
import ssl
import time

import pytest
import requests

from certs import issue_expired
from harness import run_cli

REQUEST = (
    b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: secretsmanager.ListSecrets\r\n"
    b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
)


def exchange(gateway, cert=None) -> bytes:
    """Handshakes, sends one request and returns the raw response. TLS 1.3 reports a refused
    client certificate after the client's side of the handshake, so the refusal can surface
    at the handshake, the write or the read."""
    context = ssl.create_default_context(cafile=gateway.ca)
    if cert:
        context.load_cert_chain(*cert)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(REQUEST)
            chunks = []
            while chunk := tls.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)


def assert_refused(gateway, cert, reason):
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        exchange(gateway, cert)
    gateway.stop()
    assert "TLS handshake refused" in gateway.logs()
    assert reason in gateway.logs()


def test_development_client_is_served(gateway):
    response = exchange(gateway, gateway.client_cert)
    assert response.startswith(b"HTTP/1.1 200")
    assert b'"SecretList":[]' in response


def test_client_without_certificate_is_refused(gateway):
    assert_refused(gateway, None, "peer sent no certificates")


def test_client_of_another_ca_is_refused(gateway, tmp_path):
    run_cli("pki", "init", "--out", str(tmp_path / "other"))
    other = (str(tmp_path / "other" / "client.pem"), str(tmp_path / "other" / "client-key.pem"))
    assert_refused(gateway, other, "invalid peer certificate")


def test_expired_client_certificate_is_refused(gateway):
    expired = issue_expired(gateway.pki, "expired")
    assert_refused(gateway, expired, "certificate expired")


def test_other_identities_are_denied_until_a_policy_names_them(make_gateway, tmp_path):
    """Deny by default is visible from the first run: a certificate the CA signed is let in
    at the handshake, but may do nothing until a policy statement names its identity."""
    policy = tmp_path / "policy.toml"
    policy.write_text("")
    gateway = make_gateway(args=["--policy", str(policy)])
    cert = gateway.issue("reader", spiffe_id="spiffe://corp/ns/checkout/sa/api")

    def list_secrets():
        return requests.post(
            gateway.url,
            headers={"X-Amz-Target": "secretsmanager.ListSecrets", "Content-Type": "application/x-amz-json-1.1"},
            data="{}",
            cert=cert,
            verify=gateway.ca,
            timeout=10,
        )

    denied = list_secrets()
    assert denied.status_code == 400
    assert denied.json()["__type"] == "AccessDeniedException"
    assert "spiffe://corp/ns/checkout/sa/api" in denied.json()["Message"]

    policy.write_text("""
[[statement]]
effect = "allow"
identities = ["spiffe://corp/ns/checkout/*"]
actions = ["secretsmanager:ListSecrets"]
secrets = ["*"]
""")
    gateway.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while (response := list_secrets()).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert response.status_code == 200
    gateway.stop()
    served = [line for line in gateway.logs().splitlines() if "request served" in line]
    assert any("identity=spiffe://corp/ns/checkout/sa/api" in line and "operation=ListSecrets" in line for line in served)


def test_server_certificate_names_the_loopback_addresses(gateway):
    for host in ["localhost", "127.0.0.1"]:
        context = ssl.create_default_context(cafile=gateway.ca)
        context.load_cert_chain(*gateway.client_cert)
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
