"""The aws backend (moto_server) SIGKILLed and restarted while clients read and write through
the gateway."""

import threading
import time
import uuid

import boto3
import requests
from botocore.exceptions import ClientError

from backend import Moto
from conftest import AWS_ENV
from test_aws_backend import aws_config
from test_rotation import wait_for


def test_backend_killed_and_restarted_under_load(make_gateway, tmp_path):
    """Readers of five cached secrets and a writer run throughout. The writer's acknowledged
    values reached the backend (checked against moto itself before the kill). While the backend
    is dead the readers see no error (stale values, past their one-second TTL), and every
    write is refused with InternalServiceError, so none is acknowledged and none can be lost.
    moto_server restarts empty on its port; the gateway, not restarted, is ready again and
    serves new writes."""
    moto = Moto(tmp_path)
    try:
        gateway = make_gateway(config=aws_config(moto, ttl=1, refresh_ahead=0, max_stale=900), env=AWS_ENV)
        sm = gateway.client()
        names = [f"aws/load-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
        for name in names:
            sm.create_secret(Name=name, SecretString=f"value of {name}")
            sm.get_secret_value(SecretId=name)
        written = f"aws/written-{uuid.uuid4().hex[:6]}"
        sm.create_secret(Name=written, SecretString="first value")

        stop, reads, read_errors, phase = threading.Event(), [0], [], ["backend up"]
        acknowledged, refused = [], []

        def read():
            client = gateway.client()
            while not stop.is_set():
                for name in names:
                    try:
                        assert client.get_secret_value(SecretId=name)["SecretString"] == f"value of {name}"
                        reads[0] += 1
                    except ClientError as error:
                        read_errors.append((phase[0], error.response["Error"]["Code"]))

        def write(until: threading.Event):
            client = gateway.client()
            while not until.is_set():
                value = f"write-{uuid.uuid4().hex}"
                try:
                    client.put_secret_value(SecretId=written, SecretString=value)
                    acknowledged.append(value)
                except ClientError as error:
                    refused.append(error.response["Error"]["Code"])
                    time.sleep(0.05)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        pause = threading.Event()
        writer = threading.Thread(target=write, args=(pause,))
        writer.start()
        time.sleep(2)
        pause.set()
        writer.join(timeout=30)
        direct = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        assert acknowledged and refused == []
        assert direct.get_secret_value(SecretId=written)["SecretString"] == acknowledged[-1]

        outage = threading.Event()
        writer = threading.Thread(target=write, args=(outage,))
        before_outage = len(acknowledged)
        phase[0] = "backend dead"
        moto.kill()
        writer.start()
        time.sleep(4)  # four TTLs: every cached value is stale now
        outage.set()
        writer.join(timeout=30)
        assert len(acknowledged) == before_outage, "a write was acknowledged with the backend dead"
        assert refused and set(refused) == {"InternalServiceError"}

        phase[0] = "backend restarted"
        moto.start()
        ready = lambda: requests.get(gateway.url + "/readyz", cert=gateway.client_cert,  # noqa: E731
                                     verify=gateway.ca, timeout=10).status_code == 200
        wait_for(ready, what="the gateway to see the backend again")
        sm.create_secret(Name="aws/after-restart", SecretString="the backend is back")
        assert sm.get_secret_value(SecretId="aws/after-restart")["SecretString"] == "the backend is back"
        stop.set()
        for reader in readers:
            reader.join(timeout=30)
        assert reads[0] > 50
        print(f"{reads[0]} reads, {len(acknowledged)} writes acknowledged, {len(refused)} refused while dead")
        # Once the backend answers again it answers for what it holds now: the restarted moto
        # lost the old secrets, which is moto's, not the gateway's.
        assert {code for seen, code in read_errors if seen != "backend restarted"} == set(), read_errors
        assert {code for _, code in read_errors} <= {"ResourceNotFoundException"}
        assert "serving the cached value past its expiry" in gateway.logs()
    finally:
        moto.stop()
