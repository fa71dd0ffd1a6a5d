"""Policies, the audit trail and fail-closed auditing, on every surface."""

import http.client
import json
import os
import signal
import ssl
import time
import urllib.parse

import pytest
import requests
from botocore.exceptions import ClientError

TOKEN = "authz-test-token"
READER = "spiffe://corp/ns/a/sa/reader"
WRITER = "writer"  # a certificate with no SAN: its common name is the identity
POLICY = f"""
[[statement]]
sid = "a-reads-prod-a"
effect = "allow"
identities = ["spiffe://corp/ns/a/*"]
actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
secrets = ["prod/a/*"]

[[statement]]
sid = "writer-owns-dev"
effect = "allow"
identities = ["{WRITER}"]
actions = ["secretsmanager:*"]
secrets = ["dev/*"]
"""
SECRETS = {"prod/a/db": "prod-a-value-Zq81", "prod/b/db": "prod-b-value-Kx02", "dev/app": "dev-app-value-Lm55"}


@pytest.fixture
def two_teams(make_gateway, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    gateway = make_gateway(args=["--policy", str(policy)], env={"AWS_TOKEN": TOKEN})
    admin = gateway.client()
    for name, value in SECRETS.items():
        admin.create_secret(Name=name, SecretString=value)
    reader = gateway.issue("reader", spiffe_id=READER)
    writer = gateway.issue(WRITER)
    return gateway, policy, reader, writer


def code_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"]


def agent_get(gateway, cert, secret_id):
    return requests.get(
        f"{gateway.url}/secretsmanager/get?secretId={urllib.parse.quote(secret_id, safe='')}",
        headers={"X-Aws-Parameters-Secrets-Token": TOKEN},
        cert=cert,
        verify=gateway.ca,
        timeout=10,
    )


def test_each_identity_gets_exactly_its_grant_on_every_surface(two_teams):
    gateway, _, reader_cert, writer_cert = two_teams
    reader, writer = gateway.client(cert=reader_cert), gateway.client(cert=writer_cert)
    arn_b = gateway.client().describe_secret(SecretId="prod/b/db")["ARN"]

    # The reader: prod/a/* read-only.
    assert reader.get_secret_value(SecretId="prod/a/db")["SecretString"] == SECRETS["prod/a/db"]
    assert reader.describe_secret(SecretId="prod/a/db")["Name"] == "prod/a/db"
    assert code_of(reader.get_secret_value, SecretId="prod/b/db") == "AccessDeniedException"
    assert code_of(reader.get_secret_value, SecretId=arn_b) == "AccessDeniedException"
    assert code_of(reader.get_secret_value, SecretId="dev/app") == "AccessDeniedException"
    assert code_of(reader.put_secret_value, SecretId="prod/a/db", SecretString="nope-nope-1") == "AccessDeniedException"
    assert code_of(reader.create_secret, Name="dev/new", SecretString="nope-nope-2") == "AccessDeniedException"
    assert code_of(reader.delete_secret, SecretId="prod/a/db") == "AccessDeniedException"
    assert code_of(reader.list_secrets) == "AccessDeniedException"
    # A secret that does not exist is denied as well: a denial must not reveal existence.
    assert code_of(reader.get_secret_value, SecretId="prod/b/missing") == "AccessDeniedException"
    assert code_of(reader.get_secret_value, SecretId="prod/a/missing") == "ResourceNotFoundException"

    # The writer: everything under dev/*, nothing else.
    writer.put_secret_value(SecretId="dev/app", SecretString="dev-app-value-2-Tt9")
    writer.create_secret(Name="dev/other", SecretString="dev-other-value-Pp3")
    assert sorted(s["Name"] for s in writer.list_secrets()["SecretList"]) == ["dev/app", "dev/other"]
    assert code_of(writer.get_secret_value, SecretId="prod/a/db") == "AccessDeniedException"
    assert code_of(writer.put_secret_value, SecretId="prod/a/db", SecretString="nope-nope-3") == "AccessDeniedException"
    assert code_of(writer.create_secret, Name="prod/a/new", SecretString="nope-nope-4") == "AccessDeniedException"
    batch = writer.batch_get_secret_value(SecretIdList=["dev/app", "prod/a/db"])
    assert [v["Name"] for v in batch["SecretValues"]] == ["dev/app"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in batch["Errors"]] == [("prod/a/db", "AccessDeniedException")]

    # The Agent endpoint, on the mTLS listener, under the same policy.
    assert agent_get(gateway, reader_cert, "prod/a/db").json()["SecretString"] == SECRETS["prod/a/db"]
    for cert, secret in [(reader_cert, "prod/b/db"), (reader_cert, "dev/app"), (writer_cert, "prod/a/db")]:
        response = agent_get(gateway, cert, secret)
        assert response.status_code == 400, (secret, response.text)
        assert response.json()["__type"] == "AccessDeniedException"
    assert agent_get(gateway, writer_cert, "dev/app").status_code == 200

    records = gateway.audit()
    def seen(identity, surface, operation, secret, outcome):
        return any(
            r["identity"] == identity and r["surface"] == surface and r["operation"] == operation
            and r.get("secret") == secret and r["outcome"] == outcome
            for r in records
        )
    assert seen(READER, "secretsmanager", "GetSecretValue", "prod/a/db", "ok")
    assert seen(READER, "secretsmanager", "GetSecretValue", "prod/b/db", "denied")
    assert seen(READER, "agent", "GetSecretValue", "prod/a/db", "ok")
    assert seen(READER, "agent", "GetSecretValue", "dev/app", "denied")
    assert seen(WRITER, "secretsmanager", "PutSecretValue", "dev/app", "ok")
    assert seen(WRITER, "secretsmanager", "PutSecretValue", "prod/a/db", "denied")
    assert seen(WRITER, "secretsmanager", "BatchGetSecretValue", "dev/app", "ok")
    assert seen(WRITER, "secretsmanager", "BatchGetSecretValue", "prod/a/db", "denied")
    assert seen(WRITER, "agent", "GetSecretValue", "prod/a/db", "denied")
    # ListSecrets audits each secret it returns.
    assert seen(WRITER, "secretsmanager", "ListSecrets", "dev/other", "ok")
    allowed = next(r for r in records if r["identity"] == READER and r["outcome"] == "ok" and r["surface"] == "secretsmanager")
    assert allowed["statement"] == "a-reads-prod-a"
    assert allowed["arn"].startswith("arn:aws:secretsmanager:")
    assert allowed["version_stages"] == ["AWSCURRENT"]
    assert {"time", "request_id", "source", "latency_ms", "version_id"} <= allowed.keys()
    denied = next(r for r in records if r["outcome"] == "denied")
    assert denied["error"] == "AccessDeniedException"


def test_policy_changes_apply_to_open_connections_and_a_broken_file_keeps_the_old_rule(two_teams):
    gateway, policy, reader_cert, _ = two_teams
    context = ssl.create_default_context(cafile=gateway.ca)
    context.load_cert_chain(*reader_cert)
    connection = http.client.HTTPSConnection("127.0.0.1", gateway.port, context=context, timeout=10)

    def read(secret):
        # http.client would reconnect silently only if the socket were gone; it is checked below.
        connection.request("POST", "/", body=json.dumps({"SecretId": secret}), headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    assert read("prod/a/db")[0] == 200
    socket_before = connection.sock

    policy.write_text(POLICY.replace('secrets = ["prod/a/*"]', 'secrets = ["prod/b/*"]'))
    deadline = time.monotonic() + 10  # the file is polled every 2 s
    while read("prod/a/db")[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read("prod/a/db")[1]["__type"] == "AccessDeniedException"
    assert read("prod/b/db")[0] == 200
    assert connection.sock is socket_before, "the keep-alive connection was dropped"

    policy.write_text(POLICY.replace('effect = "allow"', 'effect = "maybe"', 1))
    gateway.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "new policy rejected" not in gateway.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "new policy rejected" in gateway.logs()
    assert "unknown variant `maybe`" in gateway.logs()
    assert read("prod/b/db")[0] == 200
    assert read("prod/a/db")[0] == 400
    assert connection.sock is socket_before


def test_requests_are_refused_while_the_audit_trail_cannot_be_written(make_gateway):
    gateway = make_gateway()
    sm = gateway.client()
    sm.create_secret(Name="audited", SecretString="audited-value-Rr7")

    rotated = gateway.audit_path.with_name("audit.log.1")
    os.replace(gateway.audit_path, rotated)
    os.symlink("/dev/full", gateway.audit_path)  # every write fails with ENOSPC
    gateway.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    refused = None
    while time.monotonic() < deadline:
        try:
            sm.get_secret_value(SecretId="audited")
        except ClientError as err:
            refused = err
            break
        time.sleep(0.1)
    assert refused is not None, "requests were still served with an unwritable audit trail"
    assert refused.response["Error"]["Code"] == "InternalServiceError"
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "audited-value" not in str(refused)
    assert code_of(sm.put_secret_value, SecretId="audited", SecretString="audited-value-2-Yy1") == "InternalServiceError"
    metrics = requests.get(f"{gateway.url}/metrics", cert=gateway.client_cert, verify=gateway.ca, timeout=10).text
    failures = [line for line in metrics.splitlines() if line.startswith("secrets_gateway_audit_failures_total ")]
    assert failures and float(failures[0].split()[1]) >= 2, failures
    assert "audit record not written: request refused" in gateway.logs()

    os.remove(gateway.audit_path)
    gateway.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            value = sm.get_secret_value(SecretId="audited")["SecretString"]
            break
        except ClientError:
            time.sleep(0.1)
    assert value == "audited-value-Rr7"
    assert any(r["operation"] == "GetSecretValue" and r["outcome"] == "ok" for r in gateway.audit())
