"""The API-key rotators, written in Python (componentize-py) and in JavaScript (componentize-js),
rotating keys at a real key-management HTTP API on loopback (tests/keyservice.py) through a
gateway configured as in production: pinned, granted only that API's address, and loaded from
the compile cache."""

import json
import re

import pytest

from harness import (
    STEP_FAILED,
    embedded_config,
    plugin_entry,
    plugin_path,
    remember_secret,
    run_plugin_step,
    secret_version,
)
from keyservice import KeyService
from test_rotation import wait_for

PLUGINS = ["apikey-python", "apikey-js"]


@pytest.fixture
def keys():
    with KeyService() as service:
        yield service


def first_key(keys: KeyService, key_id: str = "app-1") -> dict:
    value = keys.secret_value(key_id, keys.issue(key_id))
    remember_secret(value["api_key"])
    return value


def gateway_with(make_gateway, plugin_cache, plugin: str, keys: KeyService):
    entry = plugin_entry(plugin, plugin_path(f"{plugin}.wasm"), extra=f"""
http_hosts = ["127.0.0.1:{keys.port}"]
""")
    config = embedded_config(f"""
[plugins]
cache_dir = "{plugin_cache}"
[rotation]
retry_attempts = 1
{entry}""")
    return make_gateway(config=config)


def rotate_and_wait(sm, name: str, plugin: str) -> dict:
    before = sm.describe_secret(SecretId=name).get("LastRotatedDate")
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=f"plugin:{plugin}",
                             RotateImmediately=True)["VersionId"]
    wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate") != before,
             what="the rotation to finish", timeout=60)
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == token
    return json.loads(current["SecretString"])


@pytest.mark.parametrize("plugin", PLUGINS)
def test_rotation_registers_a_new_key_and_revokes_the_old_one(make_gateway, plugin_cache, keys, plugin):
    gateway = gateway_with(make_gateway, plugin_cache, plugin, keys)
    assert re.search(rf"plugin loaded plugin={plugin} sha256=\w+ compiled_from=Cache", gateway.logs())
    sm = gateway.client()
    first = first_key(keys)
    sm.create_secret(Name="api/key", SecretString=json.dumps(first))

    second = rotate_and_wait(sm, "api/key", plugin)
    assert second["endpoint"] == keys.endpoint and second["key_id"] != first["key_id"]
    assert keys.authenticate(second["api_key"]) == second["key_id"]
    assert keys.authenticate(first["api_key"]) is None, "the old key still works"
    previous = sm.get_secret_value(SecretId="api/key", VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"]) == first

    # Again, from the rotated key: the key of the first rotation is revoked in turn.
    third = rotate_and_wait(sm, "api/key", plugin)
    assert keys.authenticate(third["api_key"]) == third["key_id"]
    assert keys.live_keys() == {third["key_id"]}
    stages = sm.describe_secret(SecretId="api/key")["VersionIdsToStages"]
    assert sorted(map(tuple, stages.values())) == [("AWSCURRENT",), ("AWSPREVIOUS",)]
    # The plugin's own log lines reach the gateway's log, with the key ids redacted.
    assert re.search(rf'plugin: revoked key \S+ plugin="{plugin}" step=finishSecret', gateway.logs())


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_refused_key_fails_the_rotation_and_keeps_the_current_one(make_gateway, plugin_cache, keys, plugin):
    """The current key was revoked behind the gateway's back: setSecret is refused, AWSCURRENT
    stays, and the pending version is discarded."""
    sm = gateway_with(make_gateway, plugin_cache, plugin, keys).client()
    first = first_key(keys)
    sm.create_secret(Name="api/revoked", SecretString=json.dumps(first))
    keys._revoke(first["key_id"])

    sm.rotate_secret(SecretId="api/revoked", RotationLambdaARN=f"plugin:{plugin}", RotateImmediately=True)
    wait_for(lambda: keys.requests, what="setSecret's request", timeout=60)
    wait_for(lambda: all("AWSPENDING" not in stages for stages in
                         sm.describe_secret(SecretId="api/revoked")["VersionIdsToStages"].values()),
             what="the pending version to be discarded", timeout=60)
    assert json.loads(sm.get_secret_value(SecretId="api/revoked")["SecretString"]) == first
    assert [(method, status) for method, _, status in keys.requests] == [("PUT", 401)]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_request_to_a_host_outside_the_grant_fails_the_step(tmp_path, keys, plugin):
    first = first_key(keys)
    pending = {**first, "key_id": "rotated-t1", "api_key": "n" * 40}
    context = {
        "secret_id": "api/key",
        "token": "t1",
        "current": secret_version("v1", "AWSCURRENT", first),
        "pending": secret_version("t1", "AWSPENDING", pending),
    }
    granted_elsewhere = f"127.0.0.1:{keys.port + 1 if keys.port < 65535 else keys.port - 1}"
    result = run_plugin_step(f"{plugin}.wasm", "setSecret", context, tmp_path, "--http-host", granted_elsewhere,
                             hidden=[first["api_key"], pending["api_key"]])
    assert result.returncode == STEP_FAILED, result.stderr
    failure = result.stderr.splitlines()[-1]
    assert f"HTTP request to 127.0.0.1:{keys.port}: not in the plugin's http_hosts" in failure
    # Not worth a retry. componentize-js 0.23's runtime aborts when a request is refused at
    # once instead of rejecting fetch's promise, so the JavaScript step fails as a crash.
    assert "retryable" not in failure
    assert keys.requests == [], "the request reached the API"

    # The same step granted the API's address registers the key.
    result = run_plugin_step(f"{plugin}.wasm", "setSecret", context, tmp_path, "--http-host", f"127.0.0.1:{keys.port}",
                             hidden=[first["api_key"], pending["api_key"]])
    assert result.returncode == 0, result.stderr
    assert keys.authenticate(pending["api_key"]) == "rotated-t1"
