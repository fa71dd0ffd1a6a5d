"""Three gateways on one aws backend (moto_server), under load, while a secret rotates on its
schedule with the alternating-users strategy."""

import json
import threading
import time

from databases import ADMIN_PASSWORD
from conftest import AWS_ENV
from harness import remember_secret
from test_rotation import wait_for
from test_rotation_aws import CACHE_TTL_SECONDS, rotating_aws_config

ROTATIONS = 2


def test_three_replicas_rotate_on_schedule_under_load(make_gateway, proxy, postgres):
    """rate(1 minute) for two rotations, while six clients (two per replica) read the secret
    and log in with it as fast as they can. Each rotation runs once, on one replica; each
    replica serves the new value within its refresh interval (plus one schedule check); no
    login fails, and no read does."""
    config = rotating_aws_config(proxy, "postgres-alternating-users", 'master_secrets = ["db/replicas-master"]')
    replicas = [make_gateway(config=config, env=AWS_ENV) for _ in range(3)]
    sm = replicas[0].client()
    user, password = "replicated", "replicated-initial-9c2f"
    remember_secret(password)
    postgres.create_user(user, password)
    sm.create_secret(Name="db/replicas-master",
                     SecretString=json.dumps(postgres.secret(postgres.admin_user, ADMIN_PASSWORD)))
    name = "db/replicated"
    sm.create_secret(Name=name, SecretString=json.dumps(postgres.secret(user, password, masterarn="db/replicas-master")))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="plugin:postgres-alternating-users",
                     RotationRules={"ScheduleExpression": "rate(1 minute)"}, RotateImmediately=False)

    stop = threading.Event()
    logins, failures, lock = [0], [], threading.Lock()

    def client(replica):
        reader = replica.client()
        while not stop.is_set():
            try:
                current = json.loads(reader.get_secret_value(SecretId=name)["SecretString"])
            except Exception as error:  # noqa: BLE001 - every failure is counted, by kind
                with lock:
                    failures.append(f"read: {type(error).__name__}")
                continue
            ok = postgres.can_login(current["username"], current["password"])
            with lock:
                logins[0] += 1
                if not ok:
                    failures.append(f"login as {current['username']} refused")

    threads = [threading.Thread(target=client, args=(replica,)) for replica in replicas for _ in range(2)]
    for thread in threads:
        thread.start()
    lag = []
    try:
        seen = None
        for _ in range(ROTATIONS):
            seen = wait_for(lambda: rotated_since(sm, name, seen), timeout=120, what="the scheduled rotation")
            new = direct_value(proxy, name)
            started = time.monotonic()
            for replica in replicas:
                reader = replica.client()
                wait_for(lambda: reader.get_secret_value(SecretId=name)["SecretString"] == new,
                         timeout=CACHE_TTL_SECONDS + 10, what="every replica to serve the new value")
            lag.append(time.monotonic() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert failures == [], failures[:10]
    assert logins[0] > 50
    finished = [(replica, line) for replica in replicas for line in replica.logs().splitlines()
                if "rotation finished" in line]
    assert len(finished) == ROTATIONS, [line for _, line in finished]
    tokens = {record["version_id"] for replica in replicas for record in replica.audit()
              if record.get("step") == "finishSecret" and record["outcome"] == "ok"}
    assert len(tokens) == ROTATIONS
    print(f"{logins[0]} logins; replica lag after each rotation: {[round(seconds, 2) for seconds in lag]} s")


def rotated_since(sm, name, seen):
    rotated = sm.describe_secret(SecretId=name).get("LastRotatedDate")
    return rotated if rotated and rotated != seen else None


def direct_value(proxy, name) -> str:
    """AWSCURRENT as the backend holds it, read past every gateway cache."""
    import boto3

    direct = boto3.client("secretsmanager", endpoint_url=proxy.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    # With the stage named: moto's bare GetSecretValue does not follow AWSCURRENT once
    # UpdateSecretVersionStage has moved it.
    return direct.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
