"""The aws backend against moto_server, behind the gateway's cache.

Backend calls are counted at a proxy between the gateway and moto, which the tests also stop to
take the backend away.
"""

import concurrent.futures
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import AWS_ENV
from harness import DEV_CLIENT_POLICY


def aws_config(proxy, ttl=60, refresh_ahead=15, max_stale=900, agent_token_file=None):
    agent = f'\n[agent]\ntoken_file = "{agent_token_file}"\n' if agent_token_file else ""
    return f"""
[tls]
cert_file = "pki/server.pem"
key_file = "pki/server-key.pem"
client_ca_file = "pki/ca.pem"

[store]
backend = "aws"

[store.aws]
endpoint_url = "{proxy.url}"
region = "us-east-1"
timeout_seconds = 3

[cache]
ttl_seconds = {ttl}
refresh_ahead_seconds = {refresh_ahead}
max_stale_seconds = {max_stale}
{agent}{DEV_CLIENT_POLICY}"""


@pytest.fixture
def aws_gateway(make_gateway, proxy):
    return make_gateway(config=aws_config(proxy), env=AWS_ENV)


def code_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"]


def test_every_operation_passes_through(aws_gateway):
    sm = aws_gateway.client()
    name = f"aws/{uuid.uuid4().hex[:8]}"
    created = sm.create_secret(Name=name, SecretString="one", Description="d", Tags=[{"Key": "team", "Value": "a"}])
    assert created["ARN"].startswith("arn:aws:secretsmanager:us-east-1:")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "one"
    assert sm.get_secret_value(SecretId=created["ARN"])["SecretString"] == "one"
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two", "a write is visible to the next read"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    sm.update_secret(SecretId=name, Description="e", SecretString="three")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    current = sm.get_secret_value(SecretId=name)["VersionId"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=current)
    # (moto's stage-less read ignores a moved AWSCURRENT after UpdateSecret: ask by stage.)
    moved = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert moved["SecretString"] == "two", "a label move is visible to the next read"
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "e"
    assert described["VersionIdsToStages"][v2] == ["AWSCURRENT"]
    assert name in [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]]
    assert len(sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]) >= 3
    batch = sm.batch_get_secret_value(SecretIdList=[name])
    assert [v["Name"] for v in batch["SecretValues"]] == [name] and batch["Errors"] == []
    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "prod"}])
    sm.untag_resource(SecretId=name, TagKeys=["team"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert len(sm.get_random_password(PasswordLength=20)["RandomPassword"]) == 20
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert code_of(sm.get_secret_value, SecretId=name) == "InvalidRequestException"
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"] == "two"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert code_of(sm.get_secret_value, SecretId=name) == "ResourceNotFoundException"


def test_errors_keep_their_code_and_status(aws_gateway):
    sm = aws_gateway.client()
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId="aws/never-created")
    error = raised.value.response
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    # moto answers 404 here; the gateway answers the service's 400.
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    name = f"aws/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="x")
    assert code_of(sm.create_secret, Name=name, SecretString="x") == "ResourceExistsException"


def test_twenty_concurrent_cold_reads_make_one_backend_call(aws_gateway, proxy):
    sm = aws_gateway.client()
    name = f"aws/cold-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="cold")
    clients = [aws_gateway.client() for _ in range(20)]
    barrier = __import__("threading").Barrier(20)

    def read(client):
        barrier.wait()
        return client.get_secret_value(SecretId=name)["SecretString"]

    before = proxy.count("GetSecretValue")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        values = list(pool.map(read, clients))
    assert values == ["cold"] * 20
    assert proxy.count("GetSecretValue") - before == 1
    for _ in range(10):
        sm.get_secret_value(SecretId=name)
    assert proxy.count("GetSecretValue") - before == 1, "hits stay in the cache"


def test_stale_values_until_the_limit_then_a_clear_error_then_recovery(make_gateway, proxy):
    gateway = make_gateway(config=aws_config(proxy, ttl=1, refresh_ahead=0, max_stale=4), env=AWS_ENV)
    sm = gateway.client()
    name = f"aws/stale-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="kept")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "kept"

    proxy.stop()
    time.sleep(1.5)  # past the TTL, inside the stale window
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "kept"
    time.sleep(4.5)  # past TTL + max staleness
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name)
    response = raised.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (500, "InternalServiceError")
    assert "unreachable" in response["Error"]["Message"]

    proxy.start()
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "kept"
    sm.put_secret_value(SecretId=name, SecretString="fresh")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "fresh"
    gateway.stop()
    assert "serving the cached value past its expiry" in gateway.logs()


def test_readiness_follows_the_backend(aws_gateway, proxy):
    import requests

    get = lambda path: requests.get(aws_gateway.url + path, cert=aws_gateway.client_cert, verify=aws_gateway.ca, timeout=20)  # noqa: E731
    assert get("/healthz").status_code == 200
    assert get("/readyz").status_code == 200
    proxy.stop()
    assert get("/readyz").status_code == 503
    assert get("/healthz").status_code == 200
    proxy.start()
    assert get("/readyz").status_code == 200
    aws_gateway.client().list_secrets()
    metrics = get("/metrics").text
    assert 'secrets_gateway_backend_calls_total{operation="ListSecrets"} 1' in metrics
    assert 'secrets_gateway_requests_total{surface="secretsmanager",operation="ListSecrets",outcome="ok"} 1' in metrics
