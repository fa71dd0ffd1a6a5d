"""Rotation driven by the gateway: RotateSecret from boto3 runs the four steps with a plugin
against a throwaway PostgreSQL that checks passwords, and leaves the versions, the database and
DescribeSecret as Secrets Manager would."""

import hashlib
import itertools
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from databases import ADMIN_PASSWORD
from harness import embedded_config, plugin_entry, plugin_path, remember_secret

_names = itertools.count()


def wait_for(condition, timeout: float = 30, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stages(sm, name) -> dict:
    return sm.describe_secret(SecretId=name).get("VersionIdsToStages", {})


def database_secret(sm, postgres, **fields):
    """A PostgreSQL login and a secret holding it; returns (name, user, password)."""
    user = f"rotated_{next(_names)}"
    password = f"initial-{hashlib.sha256(user.encode()).hexdigest()[:20]}"
    remember_secret(password)
    postgres.create_user(user, password)
    name = f"db/{user}"
    sm.create_secret(Name=name, SecretString=json.dumps(postgres.secret(user, password, **fields)))
    return name, user, password


@pytest.fixture
def dev_gateway(make_gateway):
    return make_gateway(args=["--plugin-dir", str(plugin_path("postgres-single-user.wasm").parent)])


def test_rotate_secret_from_boto3_rotates_a_postgres_password(dev_gateway, postgres):
    """serve --dev with the built plugins, no config file: rotate_secret with
    plugin:postgres-single-user changes the database password, and the versions move."""
    sm = dev_gateway.client()
    name, user, old = database_secret(sm, postgres)
    first_version = sm.get_secret_value(SecretId=name)["VersionId"]

    token = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user",
                             RotateImmediately=True)["VersionId"]
    # The rotation is recorded (LastRotatedDate) once finishSecret's hook has run.
    wait_for(lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name), what="the rotation to finish")

    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == token
    new = json.loads(current["SecretString"])["password"]
    assert new != old and len(new) == 32 and not set(new) & set(":/@\"'\\")
    assert postgres.can_login(user, new)
    assert not postgres.can_login(user, old)
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == first_version
    assert json.loads(previous["SecretString"])["password"] == old
    assert stages(sm, name) == {token: ["AWSCURRENT"], first_version: ["AWSPREVIOUS"]}

    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == "plugin:postgres-single-user"
    # Manual rotation only: no schedule, so no next date.
    assert "NextRotationDate" not in described

    steps = [(r["step"], r["outcome"]) for r in dev_gateway.audit() if r.get("surface") == "rotation"]
    assert steps == [("createSecret", "ok"), ("setSecret", "ok"), ("testSecret", "ok"), ("finishSecret", "ok")]


def test_rotation_settings_are_kept_and_cancel_turns_rotation_off(dev_gateway, postgres):
    """RotateImmediately=false only sets the schedule; CancelRotateSecret turns rotation off and
    keeps the plugin and the rules on record, as DescribeSecret shows them."""
    sm = dev_gateway.client()
    name, user, old = database_secret(sm, postgres)
    answer = sm.rotate_secret(SecretId=name, RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:postgres-single-user",
                              RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    assert "VersionId" not in answer
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert 29 * 86400 < described["NextRotationDate"].timestamp() - time.time() <= 30 * 86400
    assert list(stages(sm, name).values()) == [["AWSCURRENT"]]
    assert postgres.can_login(user, old)

    sm.cancel_rotate_secret(SecretId=name)
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is False
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert described["RotationLambdaARN"].endswith(":function:postgres-single-user")
    assert "NextRotationDate" not in described


@pytest.mark.parametrize(
    "arguments, code, message",
    [
        ({"RotationLambdaARN": "plugin:nonexistent"}, "InvalidParameterException", "names no plugin"),
        ({}, "InvalidRequestException", "No Lambda rotation function ARN"),
        ({"RotationLambdaARN": "plugin:postgres-single-user",
          "RotationRules": {"AutomaticallyAfterDays": 7, "ScheduleExpression": "rate(4 hours)"}},
         "InvalidParameterException", "both"),
    ],
)
def test_bad_rotate_secret_requests_are_refused(dev_gateway, postgres, arguments, code, message):
    sm = dev_gateway.client()
    name, _, _ = database_secret(sm, postgres)
    with pytest.raises(ClientError) as refused:
        sm.rotate_secret(SecretId=name, **arguments)
    assert refused.value.response["Error"]["Code"] == code
    assert message in refused.value.response["Error"]["Message"]


def test_a_rotation_that_is_not_complete_blocks_the_next(dev_gateway, postgres):
    """AWSPENDING on a version that is not AWSCURRENT: RotateSecret says a previous rotation
    isn't complete; once the label is removed, rotation works."""
    sm = dev_gateway.client()
    name, user, _ = database_secret(sm, postgres)
    stray = sm.put_secret_value(SecretId=name, SecretString=json.dumps(postgres.secret(user, "stray-pending-1")),
                                VersionStages=["AWSPENDING"])["VersionId"]
    with pytest.raises(ClientError) as refused:
        sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "A previous rotation isn't complete" in refused.value.response["Error"]["Message"]

    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=stray)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user")["VersionId"]
    wait_for(lambda: "AWSCURRENT" in stages(sm, name).get(token, []), what="the rotation to finish")


def test_a_master_that_is_the_rotated_user_is_refused(dev_gateway, postgres):
    sm = dev_gateway.client()
    name, user, password = database_secret(sm, postgres)
    sm.create_secret(Name=f"{name}-master", SecretString=json.dumps(postgres.secret(user, password)))
    sm.put_secret_value(SecretId=name, SecretString=json.dumps(postgres.secret(user, password, masterarn=f"{name}-master")))
    with pytest.raises(ClientError) as refused:
        sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-alternating-users")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert f"logs in as {user}, which is or alternates with {user}" in refused.value.response["Error"]["Message"]


def config_with_plugins(*plugins: tuple[str, str, dict], step_timeout_seconds: int = 30) -> str:
    """Fast retries, and plugins granted loopback databases, with their settings."""
    entries = "".join(
        plugin_entry(name, plugin_path(file), extra=f"""
step_timeout_seconds = {step_timeout_seconds}
sql_hosts = ["127.0.0.1"]
http_hosts = ["127.0.0.1"]
master_secrets = ["*"]
master_secret_read = true
[plugin.settings]
""" + "".join(f'{key} = "{value}"\n' for key, value in settings.items()))
        for name, file, settings in plugins
    )
    return embedded_config(
        f"[rotation]\nretry_attempts = 2\nretry_delay_seconds = 0.2\nschedule_check_seconds = 0.5\n{entries}"
    )


def test_a_failed_test_secret_leaves_awscurrent_and_the_next_rotation_succeeds(make_gateway, postgres):
    """A plugin whose setSecret does nothing fails testSecret: the rotation gives up, AWSCURRENT and the database password are as they were, the pending version is
    discarded, the failure is audited; the next rotation, with a working plugin, succeeds."""
    gateway = make_gateway(config=config_with_plugins(
        ("sabotaged", "probe.wasm", {"test-secret": "sql-test"}),
        ("postgres-single-user", "postgres-single-user.wasm", {}),
    ))
    sm = gateway.client()
    name, user, old = database_secret(sm, postgres)
    before = sm.get_secret_value(SecretId=name)["VersionId"]

    failed = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:sabotaged")["VersionId"]
    wait_for(lambda: "rotation failed; its pending version was discarded" in gateway.logs(),
             what="the failed rotation to give up")
    assert sm.get_secret_value(SecretId=name)["VersionId"] == before
    assert postgres.can_login(user, old)
    assert "AWSPENDING" not in json.dumps(stages(sm, name))
    failures = [r for r in gateway.audit() if r.get("step") == "testSecret" and r["outcome"] == "error"]
    # The probe calls a refused login fatal, so the rotation stops at its first failure.
    assert len(failures) == 1, failures
    assert "the plugin reports a fatal error" in failures[0]["error"]

    token = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user")["VersionId"]
    assert token != failed
    wait_for(lambda: "AWSCURRENT" in stages(sm, name).get(token, []), what="the second rotation")
    new = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"]
    assert postgres.can_login(user, new) and not postgres.can_login(user, old)


def test_a_gateway_killed_during_set_secret_resumes_the_same_rotation(make_gateway, postgres):
    """SIGKILL while setSecret runs; after the restart the rotation completes with the same
    token and the same pending value: no second pending version."""
    hanging = config_with_plugins(("pg", "probe.wasm", {"set-secret": "loop"}), step_timeout_seconds=60)
    gateway = make_gateway(config=hanging)
    sm = gateway.client()
    name, user, old = database_secret(sm, postgres)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:pg")["VersionId"]
    # createSecret's audit record is written before its pending version: wait for the version.
    wait_for(lambda: "AWSPENDING" in stages(sm, name).get(token, []), what="the pending version")
    pending = sm.get_secret_value(SecretId=name, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    time.sleep(0.3)  # setSecret is looping now
    gateway.kill()

    gateway.config_path.write_text(config_with_plugins(("pg", "postgres-single-user.wasm", {})))
    gateway.start()
    wait_for(lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name), what="the resumed rotation")
    assert "resuming an unfinished rotation" in gateway.logs()
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == token and current["SecretString"] == pending
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert len(versions) == 2, versions
    new = json.loads(pending)["password"]
    assert postgres.can_login(user, new) and not postgres.can_login(user, old)


def test_alternating_users_rotate_three_times_without_a_failed_login(dev_gateway, postgres):
    """Three rotations of user and user_clone through the master credential, while a client
    keeps logging in with whatever AWSCURRENT says: not one login fails."""
    sm = dev_gateway.client()
    master = f"db/master-{next(_names)}"
    sm.create_secret(Name=master, SecretString=json.dumps(postgres.secret(postgres.admin_user, ADMIN_PASSWORD)))
    name, user, _ = database_secret(sm, postgres, masterarn=master)

    with KeepLoggingIn(dev_gateway, name, postgres) as client:
        users = []
        for _ in range(3):
            before = sm.describe_secret(SecretId=name).get("LastRotatedDate")
            sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-alternating-users")
            wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate") != before,
                     what="the rotation to finish")
            users.append(json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["username"])
            # A few logins with the new value: counted, not timed, as a loaded machine makes
            # each login slow.
            logins = client.logins
            wait_for(lambda: client.logins >= logins + 4, what="logins with the new value")
    assert users == [f"{user}_clone", user, f"{user}_clone"]
    assert client.logins >= 10
    assert client.failures == []


class KeepLoggingIn:
    """A client that, until the block ends, keeps reading the secret through the gateway and
    logging in to the database with whatever AWSCURRENT says, counting the failures."""

    def __init__(self, gateway, name, database):
        self.reader, self.name, self.database = gateway.client(), name, database
        self.logins, self.failures = 0, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop.is_set():
            current = json.loads(self.reader.get_secret_value(SecretId=self.name)["SecretString"])
            self.logins += 1
            if not self.database.can_login(current["username"], current["password"]):
                self.failures.append(current["username"])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(timeout=30)


def test_a_scheduled_rotation_runs_once_when_it_is_due(make_gateway, postgres):
    """RotateImmediately=false with rate(1 minute) only sets the schedule; when the minute has
    passed the gateway rotates the secret, once, and sets the next date a minute on."""
    gateway = make_gateway(config=config_with_plugins(("postgres-single-user", "postgres-single-user.wasm", {})))
    sm = gateway.client()
    name, user, old = database_secret(sm, postgres)
    sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-single-user",
                     RotationRules={"ScheduleExpression": "rate(1 minute)"}, RotateImmediately=False)
    due = sm.describe_secret(SecretId=name)["NextRotationDate"]
    assert "LastRotatedDate" not in sm.describe_secret(SecretId=name)

    rotated = wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate"), timeout=90,
                       what="the scheduled rotation")
    assert rotated >= due
    time.sleep(2)  # several more checks of the schedule
    described = sm.describe_secret(SecretId=name)
    assert described["LastRotatedDate"] == rotated
    assert 55 <= (described["NextRotationDate"] - rotated).total_seconds() <= 60
    assert_rotated_once(sm, name)
    new = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"]
    assert postgres.can_login(user, new) and not postgres.can_login(user, old)
    assert "starting a scheduled rotation" in gateway.logs()


def assert_rotated_once(sm, name):
    """The labelled versions are the old and the new one; besides them there is only the
    unlabelled version that claimed the scheduled rotation."""
    everything = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    labels = sorted(version.get("VersionStages", []) for version in everything)
    assert labels == [[], ["AWSCURRENT"], ["AWSPREVIOUS"]], everything
