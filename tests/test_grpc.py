"""The gRPC service from a client outside Rust: Python grpcio with stubs generated from the
repository's .proto, over the gateway's mTLS listener."""

import subprocess
import sys
import threading
import time

import grpc
import pytest

from harness import REPO, plugin_path, remember_secret
from test_rotation import wait_for


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The generated messages and stubs of proto/secretsgateway/v1/secrets.proto."""
    out = tmp_path_factory.mktemp("grpc-stubs")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO / 'proto'}", f"--python_out={out}",
         f"--grpc_python_out={out}", "secretsgateway/v1/secrets.proto"],
        check=True,
    )
    sys.path.insert(0, str(out))
    from secretsgateway.v1 import secrets_pb2, secrets_pb2_grpc

    return secrets_pb2, secrets_pb2_grpc


def channel(gateway, cert=None):
    cert_file, key_file = cert or gateway.client_cert
    read = lambda path: open(path, "rb").read()  # noqa: E731
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(gateway.ca), private_key=read(key_file), certificate_chain=read(cert_file))
    # The development server certificate names localhost.
    return grpc.secure_channel(f"localhost:{gateway.port}", credentials)


def stub(pb, gateway, cert=None):
    return pb[1].SecretsStub(channel(gateway, cert))


def test_get_describe_list_and_put_over_mtls(pb, gateway, sm):
    messages, _ = pb
    sm.create_secret(Name="grpc/app", SecretString='{"user":"app","password":"grpc-first-pw"}')
    secrets = stub(pb, gateway)

    value = secrets.GetSecretValue(messages.GetSecretValueRequest(secret_id="grpc/app"))
    assert value.name == "grpc/app" and value.secret_string == '{"user":"app","password":"grpc-first-pw"}'
    assert list(value.version_stages) == ["AWSCURRENT"]

    put = secrets.PutSecretValue(messages.PutSecretValueRequest(secret_id="grpc/app", secret_string="grpc-second-pw"))
    remember_secret("grpc-second-pw")
    assert list(put.version_stages) == ["AWSCURRENT"]
    # The put went through the same store and cache as the Secrets Manager protocol.
    assert sm.get_secret_value(SecretId="grpc/app")["SecretString"] == "grpc-second-pw"

    described = secrets.DescribeSecret(messages.DescribeSecretRequest(secret_id="grpc/app"))
    assert {version: list(stages.stages) for version, stages in described.version_ids_to_stages.items()} == {
        value.version_id: ["AWSPREVIOUS"], put.version_id: ["AWSCURRENT"]}
    listed = secrets.ListSecrets(messages.ListSecretsRequest())
    assert [secret.name for secret in listed.secrets] == ["grpc/app"]
    batch = secrets.BatchGetSecretValue(messages.BatchGetSecretValueRequest(secret_ids=["grpc/app", "grpc/none"]))
    assert [v.secret_string for v in batch.values] == ["grpc-second-pw"]
    assert [e.error_code for e in batch.errors] == ["ResourceNotFoundException"]

    # Every call is in the audit trail, as the gRPC surface.
    records = [r for r in gateway.audit() if r.get("surface") == "grpc"]
    assert {r["operation"] for r in records} >= {"GetSecretValue", "PutSecretValue", "DescribeSecret", "ListSecrets"}


def test_errors_map_to_status_codes_and_policy_denies(pb, gateway, sm):
    messages, _ = pb
    sm.create_secret(Name="grpc/guarded", SecretString="guarded-value-1")
    secrets = stub(pb, gateway)
    with pytest.raises(grpc.RpcError) as missing:
        secrets.GetSecretValue(messages.GetSecretValueRequest(secret_id="grpc/missing"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert ("x-sm-error", "ResourceNotFoundException") in missing.value.trailing_metadata()

    # A certificate of the same CA that no policy statement names.
    outsider = stub(pb, gateway, gateway.issue("outsider"))
    with pytest.raises(grpc.RpcError) as denied:
        outsider.GetSecretValue(messages.GetSecretValueRequest(secret_id="grpc/guarded"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "outsider" in denied.value.details()
    with pytest.raises(grpc.RpcError) as denied:
        next(outsider.WatchSecret(messages.WatchSecretRequest(secret_id="grpc/guarded")))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    with pytest.raises(grpc.RpcError) as invalid:
        secrets.GetSecretValue(messages.GetSecretValueRequest(secret_id="grpc/guarded", version_id="x"))
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("x-sm-error", "ValidationException") in invalid.value.trailing_metadata()
    # Secrets Manager's InvalidRequestException: what the request asks is not possible now.
    with pytest.raises(grpc.RpcError) as refused:
        secrets.PutSecretValue(messages.PutSecretValueRequest(secret_id="grpc/guarded"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ("x-sm-error", "InvalidRequestException") in refused.value.trailing_metadata()


def test_health_and_reflection(pb, gateway):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    chan = channel(gateway)
    # grpc.health.v1.Health/Check with an empty HealthCheckRequest: SERVING is status 1.
    check = chan.unary_unary("/grpc.health.v1.Health/Check")
    assert check(b"") == b"\x08\x01"
    services = ProtoReflectionDescriptorDatabase(chan).get_services()
    assert "secretsgateway.v1.Secrets" in services and "grpc.health.v1.Health" in services


def test_watch_pushes_the_rotated_version_within_a_second(pb, make_gateway):
    messages, _ = pb
    gateway = make_gateway(args=["--plugin-dir", str(plugin_path("minimal.wasm").parent)])
    sm = gateway.client()
    sm.create_secret(Name="grpc/watched", SecretString='{"username":"app","password":"watched-first-pw"}')
    secrets = stub(pb, gateway)

    pushes = []
    stream = secrets.WatchSecret(messages.WatchSecretRequest(secret_id="grpc/watched"))

    def receive():
        try:
            for change in stream:
                pushes.append((time.monotonic(), change))
        except grpc.RpcError:
            pass  # cancelled at the end of the test

    threading.Thread(target=receive, daemon=True).start()
    wait_for(lambda: pushes, what="the first push: AWSCURRENT now")
    first = pushes[0][1]
    assert first.value.secret_string and not first.value_withheld

    rotated = secrets.RotateSecret(messages.RotateSecretRequest(
        secret_id="grpc/watched", rotation_lambda_arn="plugin:minimal", rotate_immediately=True))
    asked = time.monotonic()
    wait_for(lambda: len(pushes) > 1, timeout=10, what="the push of the rotated version")
    received, change = pushes[1]
    remember_secret(change.value.secret_string)
    assert change.version_id == rotated.version_id
    assert change.value.secret_string != first.value.secret_string
    # From RotateSecret's answer to the push, the four steps included.
    assert received - asked < 1.0, f"pushed {received - asked:.3f} s after RotateSecret"
    stream.cancel()
