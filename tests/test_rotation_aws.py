"""Rotation with the aws backend (moto_server): the gateway runs the steps itself, keeps its
rotation settings with the secret as tags, and replicas sharing the backend rotate a due secret
once."""

import json
import time

from conftest import AWS_ENV
from harness import plugin_entry, plugin_path
from test_aws_backend import aws_config
from test_rotation import assert_rotated_once, database_secret, stages, wait_for


CACHE_TTL_SECONDS = 2


def rotating_aws_config(proxy, plugin: str = "postgres-single-user", grant: str = "") -> str:
    """The aws backend with a short cache TTL, fast retries, and `plugin` granted loopback
    databases and `grant`."""
    entry = plugin_entry(plugin, plugin_path(f"{plugin}.wasm"), extra=f'sql_hosts = ["127.0.0.1"]\n{grant}')
    return aws_config(proxy, ttl=CACHE_TTL_SECONDS, refresh_ahead=1) + f"""
[rotation]
retry_attempts = 2
retry_delay_seconds = 0.2
schedule_check_seconds = 0.5
{entry}"""


def test_rotation_with_the_aws_backend_keeps_its_settings_in_tags(make_gateway, proxy, postgres):
    gateway = make_gateway(config=rotating_aws_config(proxy), env=AWS_ENV)
    sm = gateway.client()
    name, user, old = database_secret(sm, postgres)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user",
                             RotationRules={"AutomaticallyAfterDays": 7})["VersionId"]
    wait_for(lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name), what="the rotation")

    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == "plugin:postgres-single-user"
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert "NextRotationDate" in described
    assert not [tag for tag in described.get("Tags", []) if tag["Key"].startswith("secrets-gateway:")]
    assert stages(sm, name)[token] == ["AWSCURRENT"]
    new = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"]
    assert postgres.can_login(user, new) and not postgres.can_login(user, old)


def test_two_replicas_rotate_a_due_secret_once(make_gateway, proxy, postgres):
    """Two gateways on one backend, both checking the schedule twice a second: the due rotation
    happens once, and both serve the new value."""
    replicas = [make_gateway(config=rotating_aws_config(proxy), env=AWS_ENV) for _ in range(2)]
    sm = replicas[0].client()
    name, user, old = database_secret(sm, postgres)
    sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user",
                     RotationRules={"ScheduleExpression": "rate(1 minute)"}, RotateImmediately=False)

    rotated = wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate"), timeout=90,
                       what="the scheduled rotation")
    time.sleep(3)  # both replicas look again, several times
    assert sm.describe_secret(SecretId=name)["LastRotatedDate"] == rotated
    assert_rotated_once(sm, name)
    finished = [replica for replica in replicas if "rotation finished" in replica.logs()]
    assert len(finished) == 1
    current = sm.get_secret_value(SecretId=name)["SecretString"]
    for replica in replicas:
        wait_for(lambda: replica.client().get_secret_value(SecretId=name)["SecretString"] == current,
                 timeout=10, what="every replica to serve the new value")
    assert postgres.can_login(user, json.loads(current)["password"])
    assert not postgres.can_login(user, old)
