"""Plugins as an operator and a plugin author meet them: `plugin check`, `plugin precompile`,
`plugin run-step`, and a gateway that loads its configured plugins at start or refuses to."""

import json
import re

import pytest

from harness import STEP_FAILED, StartFailed, embedded_config, file_sha256, plugin_entry, plugin_path, run_cli


def config(plugins: str) -> str:
    return embedded_config(f'[plugins]\ncache_dir = "plugin-cache"\n{plugins}')


def test_check_prints_the_digest_and_what_each_import_needs():
    probe = plugin_path("probe.wasm")
    out = run_cli("plugin", "check", str(probe)).stdout
    assert f"sha256  {file_sha256(probe)}" in out
    assert re.search(r"secrets-gateway:rotation/sql@0\.1\.0\s+\(needs sql_hosts\)", out), out
    assert re.search(r"wasi:http/outgoing-handler@[\d.]+\s+\(needs http_hosts\)", out), out
    assert "exports\n  secrets-gateway:rotation/steps@0.1.0" in out


def test_check_refuses_a_component_importing_what_the_host_does_not_offer():
    result = run_cli("plugin", "check", str(plugin_path("foreign-import.wasm")), check=False)
    assert result.returncode == 1
    assert "imports example:escape/shell, which the gateway does not offer" in result.stderr


def test_check_refuses_a_file_that_is_not_a_component(tmp_path):
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(b"\0asm not really")
    result = run_cli("plugin", "check", str(junk), check=False)
    assert result.returncode == 1
    assert "not a WebAssembly component wasmtime can compile" in result.stderr


def test_the_gateway_loads_a_precompiled_plugin_from_the_cache(make_gateway, tmp_path):
    minimal = plugin_path("minimal.wasm")
    gateway = make_gateway(config=config(plugin_entry("minimal", minimal)), start=False)
    precompiled = run_cli("plugin", "precompile", str(minimal), "--config", str(gateway.config_path)).stdout
    assert "plugin-cache" in precompiled
    gateway.start()
    assert re.search(r"plugin loaded plugin=minimal sha256=\w+ compiled_from=Cache", gateway.logs()), gateway.logs()
    # It still serves.
    assert gateway.client().list_secrets()["SecretList"] == []


def test_the_gateway_refuses_to_start_with_a_plugin_whose_pin_is_wrong(make_gateway):
    minimal = plugin_path("minimal.wasm")
    gateway = make_gateway(config=config(plugin_entry("minimal", minimal, "ab" * 32)), start=False)
    with pytest.raises(StartFailed) as failed:
        gateway.start()
    assert f"has sha256 {file_sha256(minimal)}, but the configuration pins {'ab' * 32}" in failed.value.stderr


def test_the_gateway_refuses_to_start_with_a_plugin_that_needs_more_than_its_grant(make_gateway):
    probe = plugin_path("probe.wasm")
    entry = plugin_entry("probe", probe, extra='http_hosts = ["127.0.0.1:8080"]')
    gateway = make_gateway(config=config(entry), start=False)
    with pytest.raises(StartFailed) as failed:
        gateway.start()
    assert "plugin probe: imports secrets-gateway:rotation/sql@0.1.0, which its grant does not allow (sql_hosts)" in (
        failed.value.stderr
    )


def test_a_plugin_entry_without_a_pin_is_a_config_error(make_gateway):
    minimal = plugin_path("minimal.wasm")
    gateway = make_gateway(config=config(f'[[plugin]]\nname = "minimal"\nfile = "{minimal}"\n'), start=False)
    with pytest.raises(StartFailed) as failed:
        gateway.start()
    assert "missing field `sha256`" in failed.value.stderr


PENDING_PASSWORD = "pending-pässwörd-'\\\"-42"
CONTEXT = {
    "secret_id": "dev/app/db",
    "token": "token-1",
    "current": {
        "version_id": "v1",
        "stages": ["AWSCURRENT"],
        "secret_string": json.dumps(
            {"engine": "postgres", "host": "127.0.0.1", "username": "app", "password": "current-password-1"}
        ),
    },
    "pending": {
        "version_id": "token-1",
        "stages": ["AWSPENDING"],
        "secret_string": json.dumps(
            {"engine": "postgres", "host": "127.0.0.1", "username": "app", "password": PENDING_PASSWORD}
        ),
    },
}
PROBE_GRANT = ["--sql-host", "127.0.0.1:9", "--http-host", "127.0.0.1:9", "--master-secret", "*", "--master-secret-read"]


def run_step(tmp_path, step: str, *settings: str, extra=()):
    context = tmp_path / "context.json"
    context.write_text(json.dumps(CONTEXT))
    args = ["plugin", "run-step", str(plugin_path("probe.wasm")), "--step", step, "--context", str(context)]
    for setting in settings:
        args += ["--setting", setting]
    return run_cli(*args, *PROBE_GRANT, *extra, check=False)


def test_run_step_redacts_the_passwords_a_plugin_logs_and_prints(tmp_path):
    result = run_step(tmp_path, "setSecret", "set-secret=log-secret")
    assert result.returncode == 0, result.stderr
    for said in ("the pending password is", "stdout also sees", "stderr also sees"):
        assert f"{said} [REDACTED]" in result.stderr
    assert PENDING_PASSWORD not in result.stderr + result.stdout


def test_run_step_exit_codes_tell_a_failed_step_from_a_bad_invocation(tmp_path):
    failed = run_step(tmp_path, "test-secret", "test-secret=fatal")
    assert failed.returncode == STEP_FAILED
    assert "testSecret failed: the plugin reports a fatal error: the target refused the change" in failed.stderr

    bad = run_step(tmp_path, "rotate")
    assert bad.returncode not in (0, STEP_FAILED)
    assert "is not createSecret, setSecret, testSecret or finishSecret" in bad.stderr


def test_run_step_create_secret_prints_the_value_the_plugin_made(tmp_path):
    result = run_step(tmp_path, "createSecret", "create-secret=generate")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["username"] == "app" and len(made["password"]) == 40
    assert made["password"] not in result.stderr


def test_a_request_to_a_host_outside_the_grant_fails_the_step_and_says_why(tmp_path):
    result = run_step(tmp_path, "setSecret", "set-secret=http", "url=http://127.0.0.1:8/")
    assert result.returncode == STEP_FAILED
    assert "refused: HTTP request to 127.0.0.1:8: not in the plugin's http_hosts" in result.stderr


def test_dev_mode_loads_every_plugin_of_a_directory_under_its_file_name(make_gateway):
    plugins = plugin_path("postgres-single-user.wasm").parent
    gateway = make_gateway(args=["--plugin-dir", str(plugins)])
    loaded = set(re.findall(r"plugin loaded plugin=([\w-]+)", gateway.logs()))
    assert loaded == {
        "postgres-single-user", "postgres-alternating-users", "mysql-single-user", "mysql-alternating-users",
        "apikey-python", "apikey-js", "minimal",
    }, gateway.logs()
    # The test fixtures and the templates live apart, so a development gateway never loads them.
