"""The scheduler across jumps of the wall clock. The gateway runs under libfaketime, whose
offset a file sets and the gateway reads at every clock call; the monotonic clock, which
timers and timeouts use, is left alone, as an NTP step leaves it.
"""

import datetime
import glob
import json
import time

import pytest

from test_rotation import config_with_plugins, wait_for

LIBFAKETIME = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))


@pytest.fixture
def jumpy_gateway(make_gateway, tmp_path):
    """A gateway with the probe plugin whose wall clock a test moves with `jump(offset)`."""
    if not LIBFAKETIME:
        pytest.fail("libfaketime is missing: scripts/test installs the Debian package faketime")
    offset = tmp_path / "clock-offset"
    offset.write_text("+0\n")
    gateway = make_gateway(config=config_with_plugins(("probe", "probe.wasm", {})), env={
        "LD_PRELOAD": LIBFAKETIME[-1],
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    })

    def jump(to: str) -> None:
        offset.write_text(f"{to}\n")

    return gateway, jump


def rotations(gateway, name) -> list[dict]:
    return [record for record in gateway.audit()
            if record.get("step") == "finishSecret" and record["outcome"] == "ok" and record["secret"] == name]


def test_a_forward_jump_rotates_once_and_a_backward_jump_not_at_all(jumpy_gateway):
    """rate(1 hour), not rotated yet. The clock jumps three hours ahead: three periods have
    passed, and the secret rotates once, with the next date an hour after the jumped clock.
    The clock jumps back to now: nothing rotates, and the next date stays where it was."""
    gateway, jump = jumpy_gateway
    sm = gateway.client()
    name = "clock/jumped"
    sm.create_secret(Name=name, SecretString=json.dumps({"password": "before-any-jump-41c9"}))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:probe",
                     RotationRules={"ScheduleExpression": "rate(1 hour)"}, RotateImmediately=False)
    first_due = sm.describe_secret(SecretId=name)["NextRotationDate"]
    time.sleep(2)  # several schedule checks before the jump
    assert rotations(gateway, name) == []

    jump("+3h")
    rotated = wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate"), what="the rotation")
    time.sleep(2)  # several more schedule checks, on the jumped clock
    assert len(rotations(gateway, name)) == 1
    described = sm.describe_secret(SecretId=name)
    assert described["LastRotatedDate"] == rotated
    assert rotated - first_due > datetime.timedelta(hours=1, minutes=55)
    assert described["NextRotationDate"] - rotated == datetime.timedelta(hours=1)

    jump("+0")
    time.sleep(2)
    assert len(rotations(gateway, name)) == 1
    assert sm.describe_secret(SecretId=name)["NextRotationDate"] == described["NextRotationDate"]
    assert sm.get_secret_value(SecretId=name)["VersionStages"] == ["AWSCURRENT"]


def test_a_backward_jump_does_not_rotate_again_what_just_rotated(jumpy_gateway):
    """rate(1 hour), rotated now. The clock jumps two hours back, then returns: the secret is
    not rotated again, as its next date is an hour after the rotation, on the real clock."""
    gateway, jump = jumpy_gateway
    sm = gateway.client()
    name = "clock/back"
    sm.create_secret(Name=name, SecretString=json.dumps({"password": "before-any-jump-5a07"}))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:probe",
                     RotationRules={"ScheduleExpression": "rate(1 hour)"})
    wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate"), what="the rotation")
    jump("-2h")
    time.sleep(2)
    jump("+0")
    time.sleep(2)
    assert len(rotations(gateway, name)) == 1
