"""Faults under the embedded store: the gateway SIGKILLed while writes are in flight, the
store's disk full, the store's directory read-only. Each test says what the client saw and
checks that every write the gateway acknowledged is there afterwards, also after a restart.

The store's directory is a tmpfs of its own (this suite runs as root, for which permission
bits do not make a directory read-only), remounted to fill it up or make it read-only. The
audit trail stays on the ordinary disk: on a full disk of its own it refuses every request,
as an access that cannot be recorded is not served.
"""

import concurrent.futures
import signal
import subprocess
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import StartFailed, embedded_config


@pytest.fixture
def mounted(make_gateway):
    """Starts a gateway whose embedded store lives on a tmpfs of `size` of its own, with the
    audit trail and the certificates beside it on the ordinary disk; returns the gateway and
    a function that remounts the store's tmpfs with new options."""
    mounts = []

    def start(size: str, read_only: bool = False):
        gateway = make_gateway(config=embedded_config().replace('path = "store.redb"', 'path = "store/store.redb"')
                               .replace('master_key_file = "master.key"', 'master_key_file = "store/master.key"'),
                               start=False)
        store = gateway.data_dir / "store"
        store.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(store)], check=True)
        mounts.append(store)

        def remount(options: str) -> None:
            subprocess.run(["mount", "-o", f"remount,{options}", str(store)], check=True)

        return gateway, remount

    yield start
    for store in mounts:
        subprocess.run(["umount", "-l", str(store)], check=False)


def write_until_refused(sm, prefix: str, size: int, limit: int) -> tuple[dict, ClientError]:
    """Creates secrets of `size` characters until one is refused; returns the acknowledged
    values and the refusal."""
    acknowledged = {}
    for i in range(limit):
        name, value = f"{prefix}/{i}", uuid.uuid4().hex * (size // 32)
        try:
            sm.create_secret(Name=name, SecretString=value)
        except ClientError as refusal:
            return acknowledged, refusal
        acknowledged[name] = value
    raise AssertionError(f"{limit} writes of {size} characters all succeeded")


def assert_all_there(sm, acknowledged: dict) -> None:
    for name, value in acknowledged.items():
        assert sm.get_secret_value(SecretId=name)["SecretString"] == value, name


def test_disk_full(mounted):
    """Writes fill the store's disk: the write that does not fit is refused with a server error
    naming no value, and the gateway keeps serving every acknowledged value; once there is room
    again writes succeed without a restart, and after a SIGKILL and restart everything
    acknowledged is there."""
    gateway, remount = mounted("24m")
    gateway.start()
    sm = gateway.client()
    acknowledged, refusal = write_until_refused(sm, "full", 60_000, 2_000)
    assert len(acknowledged) > 10
    print(f"{len(acknowledged)} writes of 60 KB acknowledged before the disk was full")
    assert refusal.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert refusal.response["Error"]["Code"] == "InternalServiceError"
    assert_all_there(sm, acknowledged)
    assert gateway.process.poll() is None

    remount("size=256m")
    sm.create_secret(Name="after-full", SecretString="there is room again")
    acknowledged["after-full"] = "there is room again"
    gateway.stop(signal.SIGKILL)
    gateway.start()
    assert_all_there(gateway.client(), acknowledged)


def test_read_only_data_directory(mounted):
    """A store whose directory is read-only: the gateway does not start, and says why and
    where; made writable, it starts with everything acknowledged before. (A file system
    cannot be remounted read-only under a process holding a file open for writing, so the
    directory turns read-only while the gateway is stopped.)"""
    gateway, remount = mounted("64m")
    gateway.start()
    gateway.client().create_secret(Name="ro/kept", SecretString="written before the remount")
    gateway.stop(signal.SIGKILL)
    remount("ro")
    with pytest.raises(StartFailed) as failed:
        gateway.start()
    assert failed.value.returncode not in (None, 0)
    assert "store/store.redb" in failed.value.stderr and "Read-only file system" in failed.value.stderr

    remount("rw")
    gateway.start()
    assert gateway.client().get_secret_value(SecretId="ro/kept")["SecretString"] == "written before the remount"


def test_gateway_killed_during_writes(gateway):
    """Eight writers put values as fast as they can; SIGKILL lands while writes are in flight.
    After the restart each secret holds its last acknowledged value, or the one write that was
    in flight when the gateway died: nothing acknowledged is lost."""
    sm = gateway.client(retries={"max_attempts": 1})
    writers = 8
    for writer in range(writers):
        sm.create_secret(Name=f"inflight/{writer}", SecretString="initial value of the writer")
    acknowledged = {f"inflight/{writer}": "initial value of the writer" for writer in range(writers)}
    in_flight: dict[str, str] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def write(writer: int) -> int:
        client, name, done = gateway.client(retries={"max_attempts": 1}), f"inflight/{writer}", 0
        while not stop.is_set():
            value = f"writer-{writer}-{uuid.uuid4().hex}"
            with lock:
                in_flight[name] = value
            try:
                client.put_secret_value(SecretId=name, SecretString=value)
            except Exception:
                return done
            with lock:
                acknowledged[name] = value
            done += 1
        return done

    with concurrent.futures.ThreadPoolExecutor(writers) as pool:
        futures = [pool.submit(write, writer) for writer in range(writers)]
        time.sleep(2)
        gateway.stop(signal.SIGKILL)
        stop.set()
        written = sum(future.result(timeout=60) for future in futures)
    assert written > writers * 5, f"only {written} writes before the kill"
    print(f"{written} writes acknowledged before the SIGKILL")

    gateway.start()
    sm = gateway.client()
    for name, value in acknowledged.items():
        found = sm.get_secret_value(SecretId=name)["SecretString"]
        assert found in (value, in_flight[name]), f"{name} lost its acknowledged value"
