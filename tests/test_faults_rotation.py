"""Faults inside rotation: the database killed during setSecret and during testSecret, the
gateway SIGKILLed during each step. Each test says what the client saw, checks that no value
the gateway acknowledged was lost, and that AWSCURRENT logs in whenever the database is up.

The single-user strategy has a window of its own: once setSecret has changed the password,
only AWSPENDING logs in until finishSecret moves AWSCURRENT. The alternating strategy has no
such window, and these tests hold it to that.
"""

import itertools
import json
import signal
import time

import pytest
from botocore.exceptions import ClientError

from databases import ADMIN_PASSWORD
from faultproxy import FaultProxy
from harness import plugin_path, remember_secret
from test_rotation import config_with_plugins, stages, wait_for

_names = itertools.count()

STRATEGIES = ["postgres-single-user", "postgres-alternating-users"]


@pytest.fixture
def proxy(postgres):
    """The route from the gateway's plugins to PostgreSQL, which a test can stop at a point."""
    route = FaultProxy(postgres.port)
    yield route
    route.close()


def proxied_secret(sm, postgres, proxy, strategy) -> tuple[str, str, str]:
    """A login and its secret, reached through `proxy`; for the alternating strategy, with a
    master secret (the superuser, also through the proxy). Returns (name, user, password)."""
    user = f"faulted_{next(_names)}"
    password = f"initial-{user}-5be07c"
    remember_secret(password)
    postgres.create_user(user, password)
    postgres.admin_sql(f'CREATE TABLE "{user}_data" (n int); GRANT SELECT ON "{user}_data" TO "{user}"')
    fields = {}
    if strategy == "postgres-alternating-users":
        master = f"db/master-{user}"
        sm.create_secret(Name=master, SecretString=json.dumps(
            {**postgres.secret(postgres.admin_user, ADMIN_PASSWORD), "port": proxy.port}))
        fields["masterarn"] = master
    name = f"db/{user}"
    sm.create_secret(Name=name, SecretString=json.dumps(
        {**postgres.secret(user, password, **fields), "port": proxy.port}))
    return name, user, password


def rotate_into_the_fault(make_gateway, postgres, proxy, strategy, step, trigger, hold):
    """A gateway with `strategy`'s plugin starts rotating a proxied secret, and the proxy stops
    the conversation at `trigger` (with `hold="answer"`, once the database has applied the new
    password). Returns the gateway, its client, the secret's name, user and password, and the
    rotation's token and pending fields."""
    gateway = make_gateway(config=config_with_plugins((strategy, f"{strategy}.wasm", {})))
    sm = gateway.client()
    name, user, old = proxied_secret(sm, postgres, proxy, strategy)
    proxy.arm(trigger, hold)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=f"plugin:{strategy}")["VersionId"]
    assert proxy.triggered.wait(30), f"{step} never reached the database"
    pending = json.loads(sm.get_secret_value(SecretId=name, VersionId=token)["SecretString"])
    if hold == "answer":
        wait_for(lambda: postgres.can_login(pending["username"], pending["password"]),
                 what="the database to apply the new password")
    return gateway, sm, name, user, old, token, pending


def current_login(sm, name) -> tuple[str, str]:
    current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    return current["username"], current["password"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("step,trigger,hold", [
    # The password change reached the database and was applied; its answer never came back.
    ("setSecret", b" PASSWORD ", "answer"),
    # The new login's first query never reached the database.
    ("testSecret", b"SELECT now()", "request"),
])
def test_database_killed_during_a_step(make_gateway, postgres, proxy, strategy, step, trigger, hold):
    """The database dies inside the step, and stays down while the gateway's attempts run out.
    The client keeps reading AWSCURRENT from the gateway throughout. The pending version is kept:
    the database may hold it. Once the database is back, RotateSecret answers "A previous
    rotation isn't complete" and reattempts that rotation, with the same token and value, and
    it finishes; the rotated login works and keeps its privileges."""
    gateway, sm, name, user, old, token, pending = rotate_into_the_fault(
        make_gateway, postgres, proxy, strategy, step, trigger, hold)
    postgres.crash()
    proxy.cut()

    wait_for(lambda: "its pending version is kept" in gateway.logs(), what="the attempts to run out")
    assert current_login(sm, name) == (user, old), "AWSCURRENT moved although testSecret never passed"
    assert "AWSPENDING" in stages(sm, name)[token]

    postgres.restart()
    if strategy == "postgres-alternating-users":
        assert postgres.can_login(user, old), "the alternating strategy never changes AWSCURRENT's login"
    with pytest.raises(ClientError) as refused:
        sm.rotate_secret(SecretId=name)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "A previous rotation isn't complete" in refused.value.response["Error"]["Message"]
    wait_for(lambda: "AWSCURRENT" in stages(sm, name).get(token, []), what="the reattempted rotation")

    assert current_login(sm, name) == (pending["username"], pending["password"])
    assert postgres.can_login(pending["username"], pending["password"])
    rows = postgres.client(pending["username"], pending["password"], f'SELECT count(*) FROM "{user}_data"')
    assert rows.returncode == 0, f"the rotated login lost its privileges: {rows.stderr}"
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert len(versions) == 2, "the reattempt made a second pending version"


@pytest.mark.parametrize("step,trigger,hold", [
    ("setSecret", b" PASSWORD ", "answer"),
    ("testSecret", b"SELECT now()", "request"),
])
def test_gateway_killed_during_set_or_test_secret_resumes_the_rotation(make_gateway, postgres, proxy, step,
                                                                       trigger, hold):
    """SIGKILL while the step waits on the database (inside setSecret, after the database
    applied the new password). The next start resumes the rotation RotateSecret acknowledged,
    with its token and value, and it finishes once: AWSCURRENT is the new login and works."""
    gateway, sm, name, user, old, token, pending = rotate_into_the_fault(
        make_gateway, postgres, proxy, "postgres-single-user", step, trigger, hold)
    gateway.stop(signal.SIGKILL)
    proxy.cut()

    gateway.start()
    wait_for(lambda: "AWSCURRENT" in stages(sm, name).get(token, []), what="the resumed rotation")
    assert "resuming an unfinished rotation" in gateway.logs()
    assert current_login(sm, name) == (user, pending["password"])
    assert postgres.can_login(user, pending["password"]) and not postgres.can_login(user, old)
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert len(versions) == 2, versions


@pytest.mark.parametrize("step", ["createSecret", "finishSecret"])
def test_gateway_killed_during_create_or_finish_secret(make_gateway, step):
    """SIGKILL while the probe plugin loops in the step. In createSecret nothing was written
    yet: the token RotateSecret answered names no version, AWSCURRENT is as it was, and the
    next RotateSecret rotates. In finishSecret AWSCURRENT had moved: the next start finishes
    the rotation (AWSPENDING comes off) without a second version."""
    setting = {"createSecret": "create-secret", "finishSecret": "finish-secret"}[step]
    gateway = make_gateway(config=config_with_plugins(("probe", "probe.wasm", {setting: "loop"}),
                                                      step_timeout_seconds=120))
    sm = gateway.client()
    name = f"plain/{next(_names)}"
    sm.create_secret(Name=name, SecretString=json.dumps({"password": "before-the-kill-e3a1"}))
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:probe")["VersionId"]
    wait_for(lambda: entered(gateway, step), what=f"{step} to start")
    if step == "finishSecret":
        wait_for(lambda: "AWSCURRENT" in stages(sm, name).get(token, []), what="AWSCURRENT to move")
    time.sleep(0.3)  # the step is looping now
    gateway.stop(signal.SIGKILL)

    gateway.config_path.write_text(config_with_plugins(("probe", "probe.wasm", {})))
    gateway.start()
    if step == "createSecret":
        assert token not in stages(sm, name)
        assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"] == "before-the-kill-e3a1"
        token = sm.rotate_secret(SecretId=name)["VersionId"]
    wait_for(lambda: stages(sm, name).get(token) == ["AWSCURRENT"], what="the rotation to finish")
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 2


def entered(gateway, step: str) -> bool:
    """Whether the rotation is in `step` or past it: the steps before it have audit records."""
    order = ["createSecret", "setSecret", "testSecret", "finishSecret"]
    done = {record.get("step") for record in gateway.audit() if record.get("outcome") == "ok"}
    return all(earlier in done for earlier in order[:order.index(step)])


def test_gateway_killed_in_a_scheduled_create_secret_lets_the_claim_lapse(make_gateway):
    """The gateway that claimed a due rotation dies in createSecret, before anything of the
    rotation is written. After the claim's lease (two step timeouts and ten seconds) the
    rotation, still due, is claimed anew (here by the restarted gateway; a replica would do
    the same) and runs once."""
    config = lambda settings: config_with_plugins(("probe", "probe.wasm", settings),  # noqa: E731
                                                  step_timeout_seconds=2)
    gateway = make_gateway(config=config({"create-secret": "loop"}))
    sm = gateway.client()
    name = f"plain/scheduled-{next(_names)}"
    sm.create_secret(Name=name, SecretString=json.dumps({"password": "before-the-kill-77d0"}))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:probe",
                     RotationRules={"ScheduleExpression": "rate(1 minute)"}, RotateImmediately=False)
    wait_for(lambda: "starting a scheduled rotation" in gateway.logs(), timeout=90, what="the due rotation")
    time.sleep(0.3)  # createSecret is looping now
    gateway.stop(signal.SIGKILL)

    gateway.config_path.write_text(config({}))
    gateway.start()
    wait_for(lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name), timeout=60,
             what="the rotation, claimed anew")
    assert "claiming a scheduled rotation overdue by more than a claim lease" in gateway.logs()
    labels = sorted(v.get("VersionStages", []) for v in
                    sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"])
    # The lapsed claim and the new one stay, unlabelled, beside the two labelled versions.
    assert labels == [[], [], ["AWSCURRENT"], ["AWSPREVIOUS"]], labels


def test_rotate_secret_twice_at_once_never_strands_a_rotation(make_gateway):
    """Two RotateSecret calls back to back, ten times (a client retrying, say). The second is
    refused while the first runs ("A previous rotation isn't complete"), never cuts it short:
    each time, the secret is left with no AWSPENDING, and in the end a rotation is accepted
    again and finishes. (The
    soak test found a second call aborting the first after it wrote AWSPENDING, which left the
    secret refusing every rotation until a restart.)"""
    gateway = make_gateway(args=["--plugin-dir", str(plugin_path("minimal.wasm").parent)])
    sm = gateway.client()
    name = f"plain/twice-{next(_names)}"
    sm.create_secret(Name=name, SecretString=json.dumps({"password": "before-the-race-0b1e"}))
    accepted = 0
    for _ in range(10):
        for _ in range(2):
            try:
                sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:minimal")
                accepted += 1
            except ClientError as refused:
                assert refused.response["Error"]["Code"] == "InvalidRequestException"
                assert "A previous rotation isn't complete" in refused.response["Error"]["Message"]
        wait_for(lambda: not any("AWSPENDING" in labels and "AWSCURRENT" not in labels
                                 for labels in stages(sm, name).values()), timeout=15,
                 what="no rotation left unfinished")
    assert accepted >= 1

    def accepted_again():
        try:
            return sm.rotate_secret(SecretId=name)["VersionId"]
        except ClientError:
            return None

    token = wait_for(accepted_again, timeout=15, what="a rotation to be accepted again")
    wait_for(lambda: stages(sm, name).get(token) == ["AWSCURRENT"], what="that rotation")
    assert "rotation stopped" not in gateway.logs()
