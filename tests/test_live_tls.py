"""Certificates, client CAs and CRLs change under a running gateway, without a restart and
without dropping open connections."""

import http.client
import json
import ssl
import time

import requests

from certs import reissue_server, write_crl
from harness import DEV_CLIENT_POLICY

RELOAD_WAIT = 10.0


def connect(gateway, cert):
    context = ssl.create_default_context(cafile=gateway.ca)
    context.load_cert_chain(*cert)
    return http.client.HTTPSConnection("127.0.0.1", gateway.port, context=context, timeout=10)


def list_secrets(connection):
    connection.request("POST", "/", body="{}", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.ListSecrets"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def server_serial(connection) -> int:
    from cryptography import x509

    return x509.load_der_x509_certificate(connection.sock.getpeercert(binary_form=True)).serial_number


def fresh_serial(gateway) -> int:
    connection = connect(gateway, gateway.client_cert)
    try:
        assert list_secrets(connection)[0] == 200
        return server_serial(connection)
    finally:
        connection.close()


def admitted(gateway, cert) -> bool:
    try:
        requests.post(gateway.url, data="{}", cert=cert, verify=gateway.ca, timeout=10, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.ListSecrets"})
        return True
    except (requests.exceptions.SSLError, requests.exceptions.ConnectionError):
        return False


def wait_until(condition, what):
    deadline = time.monotonic() + RELOAD_WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_server_certificate_rotates_under_open_connections(make_gateway):
    gateway = make_gateway()
    held = connect(gateway, gateway.client_cert)
    assert list_secrets(held)[0] == 200
    old_serial = server_serial(held)
    socket_before = held.sock

    new_serial = reissue_server(gateway.pki)
    assert new_serial != old_serial
    wait_until(lambda: fresh_serial(gateway) == new_serial, "the new server certificate")

    assert list_secrets(held)[0] == 200, "the open connection did not survive the rotation"
    assert held.sock is socket_before and server_serial(held) == old_serial
    assert "TLS certificates, client CAs and CRL reloaded" in gateway.logs()

    # A broken certificate file keeps the material in force.
    (gateway.pki / "server.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    wait_until(lambda: "new tls rejected" in gateway.logs(), "the broken file to be rejected")
    assert fresh_serial(gateway) == new_serial


def test_a_client_certificate_revoked_by_a_new_crl_is_refused_at_its_next_handshake(make_gateway):
    config = f"""
[server]
reload_interval_seconds = 1

[tls]
cert_file = "pki/server.pem"
key_file = "pki/server-key.pem"
client_ca_file = "pki/ca.pem"
crl_file = "pki/crl.pem"
{DEV_CLIENT_POLICY}
[[policy.statement]]
effect = "allow"
identities = ["spiffe://corp/revoked-soon"]
actions = ["secretsmanager:ListSecrets"]
secrets = ["*"]
"""
    gateway = make_gateway(config=config, start=False)
    crl = gateway.pki / "crl.pem"
    write_crl(gateway.pki, [], crl)
    gateway.start()
    doomed = gateway.issue("doomed", spiffe_id="spiffe://corp/revoked-soon")
    assert admitted(gateway, doomed)

    write_crl(gateway.pki, [doomed[0]], crl)
    wait_until(lambda: not admitted(gateway, doomed), "the revoked certificate to be refused")
    assert admitted(gateway, gateway.client_cert)
    assert "TLS certificates, client CAs and CRL reloaded" in gateway.logs()

    # A CRL that does not parse is rejected; the revocation in force stays.
    crl.write_text("garbage")
    wait_until(lambda: "new tls rejected" in gateway.logs(), "the broken CRL to be rejected")
    assert not admitted(gateway, doomed)
    assert admitted(gateway, gateway.client_cert)
