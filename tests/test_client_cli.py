"""`secrets-gateway get|put|describe|list|rotate|watch`: the gRPC client on the command line,
round trip against a development gateway, and the exit codes scripts rely on."""

import json
import subprocess

from harness import binary, plugin_path, remember_secret, run_cli


def cli(gateway, *args, cert=None, check=True):
    if cert is None:
        connection = ["--dev-dir", str(gateway.data_dir)]
    else:
        cert_file, key_file, ca_file = cert
        connection = ["--cert", cert_file, "--key", key_file, "--ca", ca_file]
    return run_cli(*args, "--endpoint", f"https://localhost:{gateway.port}", *connection, check=check)


def test_round_trip(make_gateway):
    gateway = make_gateway(args=["--plugin-dir", str(plugin_path("minimal.wasm").parent)])
    sm = gateway.client()
    sm.create_secret(Name="cli/db", SecretString='{"username":"app","password":"cli-first-password"}')

    assert cli(gateway, "get", "cli/db").stdout == '{"username":"app","password":"cli-first-password"}'
    put = json.loads(cli(gateway, "put", "cli/db", "--value", '{"username":"app","password":"cli-second-pw"}').stdout)
    remember_secret("cli-second-pw")
    assert put["Name"] == "cli/db" and put["VersionStages"] == ["AWSCURRENT"]
    got = json.loads(cli(gateway, "get", "cli/db", "--json").stdout)
    assert got["VersionId"] == put["VersionId"] and json.loads(got["SecretString"])["password"] == "cli-second-pw"

    described = json.loads(cli(gateway, "describe", "cli/db").stdout)
    assert described["VersionIdsToStages"][put["VersionId"]] == ["AWSCURRENT"]
    assert [secret["Name"] for secret in json.loads(cli(gateway, "list").stdout)] == ["cli/db"]

    watch = subprocess.Popen(
        [str(binary()), "watch", "cli/db", "--endpoint", f"https://localhost:{gateway.port}",
         "--dev-dir", str(gateway.data_dir)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(watch.stdout.readline())["VersionId"] == put["VersionId"]
        rotated = json.loads(cli(gateway, "rotate", "cli/db", "--plugin", "minimal").stdout)
        # The watcher prints the rotated version when the rotation finishes.
        assert json.loads(watch.stdout.readline())["VersionId"] == rotated["VersionId"]
    finally:
        watch.kill()
        watch.wait()
    remember_secret(json.loads(sm.get_secret_value(SecretId="cli/db")["SecretString"])["password"])


def test_exit_codes_and_a_wrong_certificate(make_gateway, tmp_path):
    gateway = make_gateway()
    gateway.client().create_secret(Name="cli/guarded", SecretString="guarded-cli-value")

    missing = cli(gateway, "get", "cli/missing", check=False)
    assert missing.returncode == 3 and "not found" in missing.stderr

    outsider_cert, outsider_key = gateway.issue("cli-outsider")
    denied = cli(gateway, "get", "cli/guarded", cert=(outsider_cert, outsider_key, gateway.ca), check=False)
    assert denied.returncode == 4 and "permission denied" in denied.stderr

    # A certificate of another CA: the gateway refuses the handshake.
    run_cli("pki", "init", "--out", str(tmp_path / "other"))
    other = tmp_path / "other"
    wrong = cli(gateway, "get", "cli/guarded", check=False,
                cert=(str(other / "client.pem"), str(other / "client-key.pem"), gateway.ca))
    assert wrong.returncode == 5, wrong.stderr
    assert "secrets-gateway: the gateway cannot be reached or refused the connection" in wrong.stderr
    assert "guarded-cli-value" not in wrong.stdout + wrong.stderr

    unreadable = cli(gateway, "get", "cli/guarded", check=False,
                     cert=(str(tmp_path / "none.pem"), str(tmp_path / "none-key.pem"), gateway.ca))
    assert unreadable.returncode == 1 and "cannot read" in unreadable.stderr
