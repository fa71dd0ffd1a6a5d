"""The soak test (issue 8): mixed reads, writes and rotations over mTLS on loopback for a bounded
time, driven by the `soak` binary (bench/src/bin/soak.rs) against a development gateway that
loads the built plugins.

The soak's workers mix GetSecretValue (most requests), PutSecretValue (one writer per secret),
RotateSecret with plugin:minimal, DescribeSecret and ListSecrets, and retire, delete and
recreate secrets before they reach the 100-version limit. The test passes when:

- no request failed other than as expected (a RotateSecret refused while the previous rotation
  of the secret is not complete);
- every check passed: no read returned a value the soak never wrote, or one older than a write
  acknowledged before the read was sent; no acknowledged write was lost; every secret's
  rotations settled on the version of the last accepted RotateSecret, with no AWSPENDING left
  and no more versions than rotations;
- every answer the soak had has its audit record, and no soak value appears in the gateway's
  logs or audit trail (rotated every AUDIT_ROTATION_SECONDS as logrotate would: moved away,
  then SIGHUP, so that a long soak does not fill the disk);
- the gateway's RSS grew by less than RSS_GROWTH_BOUND_MIB from after the warmup to the end.

Latency is reported, not asserted: the suite runs two tests at once on two cores. The report
(one JSON object: requests per second, p50/p99/max per operation, expected errors by code, RSS
samples in KiB) goes to soak.json in the test's temporary directory, to $SG_SOAK_REPORT when it
is set, and into the captured output, which pytest shows when the test fails.

The soak lasts SG_SOAK_SECONDS seconds (default 120). A longer soak by hand, e.g. 30 minutes,
from scripts/test's environment (CARGO_TARGET_DIR, SG_PLUGIN_DIR, SG_BINARY):

    cargo build -p secrets-gateway && cargo build -p secrets-gateway-bench --bin soak
    SG_SOAK_SECONDS=1800 SG_SOAK_REPORT=/tmp/soak.json pytest tests/test_soak.py

The `soak` binary is looked for beside the gateway binary (SG_SOAK_BINARY overrides).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from harness import binary, plugin_path

# Growth of the gateway's VmRSS from the end of the warmup to the end of the soak. Measured (debug
# build, all plugins loaded, about 2,000 requests a second): 0.4 MiB in 120 s and 1.4 MiB in
# 300 s, after about 10 MiB of warmup. The bound leaves room for the cache filling up to its
# entry limit and for the runtime's blocking threads under a busy CI machine, and still fails
# a leak of 150 bytes a request in the default 120 s.
RSS_GROWTH_BOUND_MIB = 32
SECONDS = float(os.environ.get("SG_SOAK_SECONDS", "120"))
# In every value the soak writes, and in no secret name.
VALUE_MARKER = b"soakvalue-"
# How often the audit trail is rotated during the soak.
AUDIT_ROTATION_SECONDS = 20
# The warmup fills the cache, the connection pools and the allocator's arenas.
WARMUP_SECONDS = min(20.0, SECONDS / 4)


def soak_binary() -> Path:
    explicit = os.environ.get("SG_SOAK_BINARY")
    return Path(explicit) if explicit else binary().parent / "soak"


def test_a_soak_of_mixed_reads_writes_and_rotations(make_gateway, tmp_path):
    soak = soak_binary()
    assert soak.is_file(), f"no soak binary at {soak}: cargo build -p secrets-gateway-bench --bin soak"
    # At info level: the debug line of every request would fill the disk in a long soak.
    gateway = make_gateway(args=["--plugin-dir", str(plugin_path("minimal.wasm").parent)], env={"RUST_LOG": "info"})
    client_cert, client_key = gateway.client_cert
    command = [
        str(soak), "--endpoint", gateway.url, "--cacert", gateway.ca, "--cert", client_cert, "--key", client_key,
        "--duration", str(SECONDS), "--warmup", str(WARMUP_SECONDS), "--pid", str(gateway.process.pid),
        "--connections", "8", "--secrets", "32", "--rotated-secrets", "4", "--label", "test_soak",
    ]
    audit = AuditRotation(gateway)
    with open(tmp_path / "soak.stderr", "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            # The soak bounds itself (the load, then at most 300 s of checks); this is a backstop.
            deadline = time.monotonic() + SECONDS + 420
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    process.wait(timeout=AUDIT_ROTATION_SECONDS)
                except subprocess.TimeoutExpired:
                    audit.rotate()
        finally:
            if process.poll() is None:
                process.kill()
            stdout = process.communicate()[0]
    audit.rotate()
    assert stdout.strip(), f"the soak printed no report (exit {process.returncode}):\n{(tmp_path / 'soak.stderr').read_text()}"
    report = json.loads(stdout.strip().splitlines()[-1])
    report["audit"] = {"requests": audit.requests, "files": audit.files}
    text = json.dumps(report, indent=2)
    (tmp_path / "soak.json").write_text(text)
    if os.environ.get("SG_SOAK_REPORT"):
        Path(os.environ["SG_SOAK_REPORT"]).write_text(text)
    print(summary(report))

    assert report["requests"] > 0, text
    assert report["unexpected_errors"] == {}, text
    assert report["verification"]["passed"], text
    assert report["passed"] and process.returncode == 0, text
    for operation in ("GetSecretValue", "PutSecretValue", "RotateSecret", "DescribeSecret", "ListSecrets"):
        assert report["operations"].get(operation, {}).get("count", 0) > 0, f"no {operation} in the mix:\n{text}"
    assert report["checks"].get("written_reads_checked", 0) > 0, text
    assert report["checks"].get("rotated_secrets_verified", 0) > 0, text
    # Every answer the soak had, errors too, has its audit record.
    answers = sum(figures["count"] for figures in report["operations"].values())
    assert audit.requests == answers, text

    rss = report["rss_kib"]
    assert rss["samples"] >= SECONDS / 2, text
    assert rss["growth"] < RSS_GROWTH_BOUND_MIB * 1024, (
        f"the gateway's RSS grew by {rss['growth'] / 1024:.1f} MiB after the warmup, over the bound of "
        f"{RSS_GROWTH_BOUND_MIB} MiB:\n{text}"
    )

    assert report["value_marker"].startswith(VALUE_MARKER.decode()), text
    leaks = audit.leaks + [
        f"{path.name}:{number}"
        for path in sorted(gateway.log_dir.glob("*.log"))
        for number, line in enumerate(open(path, "rb"), 1)
        if VALUE_MARKER in line
    ]
    assert not leaks, f"soak values in the gateway's logs or audit trail at {leaks[:10]}"


class AuditRotation:
    """Rotates the gateway's audit trail as logrotate would (move it away, SIGHUP), so that a
    long soak does not fill the disk: each moved-away file has its Secrets Manager requests
    counted, is searched for soak values, and is removed."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.records = 0
        self.lists: set[str] = set()
        self.files = 0
        self.leaks: list[str] = []

    def rotate(self) -> None:
        path = self.gateway.audit_path
        if not path.exists():
            return
        self.files += 1
        moved = path.with_name(f"audit.{self.files}.log")
        path.rename(moved)
        self.gateway.process.send_signal(signal.SIGHUP)
        # The gateway creates the file again when it reopens it, and writes no more to the
        # moved one after that.
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.exists(), "the gateway did not reopen its audit trail on SIGHUP"
        time.sleep(0.2)
        with open(moved, "rb") as records:
            for number, line in enumerate(records, 1):
                if b'"surface":"secretsmanager"' in line:
                    # ListSecrets writes a record for each secret it lists.
                    if b'"operation":"ListSecrets"' in line:
                        self.lists.add(json.loads(line)["request_id"])
                    else:
                        self.records += 1
                if VALUE_MARKER in line:
                    self.leaks.append(f"{moved.name}:{number}")
        moved.unlink()

    @property
    def requests(self) -> int:
        """The Secrets Manager requests recorded."""
        return self.records + len(self.lists)


def summary(report: dict) -> str:
    """The report's figures in a few lines, for the captured output."""
    lines = [f"soak: {report['requests']} requests in {report['seconds']:.0f}s, {report['rps']:.0f} req/s"]
    for operation, figures in report["operations"].items():
        lines.append(
            f"  {operation:22} {figures['count']:>8} p50 {figures['p50_us'] / 1000:8.2f} ms"
            f"  p99 {figures['p99_us'] / 1000:8.2f} ms  max {figures['max_us'] / 1000:8.2f} ms"
        )
    rss = report["rss_kib"] or {}
    if rss.get("samples"):
        lines.append(
            f"  RSS MiB: start {rss['start'] / 1024:.1f}, after warmup {rss['after_warmup'] / 1024:.1f}, "
            f"max {rss['max'] / 1024:.1f}, final {rss['final'] / 1024:.1f}"
        )
    lines.append(f"  expected errors {report['expected_errors']}, unexpected {report['unexpected_errors']}")
    return "\n".join(lines)
