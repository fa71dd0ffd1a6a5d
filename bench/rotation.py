#!/usr/bin/env python3
"""The time of a full single-user rotation against a local PostgreSQL (scram-sha-256): a release
gateway in development mode with the built plugins rotates one secret N times in a row, and the
engine's own `elapsed_ms` of each rotation (RotateSecret's start to the recorded finish, all four
steps, the plugin's logins and ALTER USER included) is reported as median and p90. Uses the test
suite's throwaway PostgreSQL and harness, so it runs in the suite's venv (boto3).

scripts/bench-rotation builds what it needs and runs this.
"""

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from databases import Postgres  # noqa: E402
from harness import Gateway  # noqa: E402

FINISHED = re.compile(r"rotation finished .*elapsed_ms=([\d.]+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plugins", required=True, type=Path, help="the built plugins (scripts/build-plugins)")
    parser.add_argument("--rotations", type=int, default=50)
    args = parser.parse_args()

    postgres = Postgres()
    postgres.start()
    try:
        with tempfile.TemporaryDirectory(prefix="sg-bench-rotation-") as work:
            gateway = Gateway(Path(work) / "gateway", args=["--plugin-dir", str(args.plugins)],
                              env={"RUST_LOG": "info"}).start()
            try:
                measure(gateway, postgres, args.rotations)
            finally:
                gateway.kill()
    finally:
        postgres.stop()


def measure(gateway: Gateway, postgres: Postgres, rotations: int) -> None:
    sm = gateway.client()
    postgres.create_user("bench_app", "initial-bench-password-1")
    secret = postgres.secret("bench_app", "initial-bench-password-1")
    sm.create_secret(Name="bench/db", SecretString=json.dumps(secret))
    for done in range(rotations):
        sm.rotate_secret(SecretId="bench/db", RotationLambdaARN="plugin:postgres-single-user")
        deadline = time.monotonic() + 30
        while len(FINISHED.findall(gateway.logs())) <= done:
            if time.monotonic() > deadline:
                raise SystemExit("a rotation did not finish within 30 s:\n" + gateway.logs()[-2000:])
            time.sleep(0.005)
    elapsed = sorted(float(ms) for ms in FINISHED.findall(gateway.logs()))
    current = json.loads(sm.get_secret_value(SecretId="bench/db")["SecretString"])
    assert postgres.can_login("bench_app", current["password"])
    p90 = elapsed[int(len(elapsed) * 0.9) - 1]
    print(f"full single-user rotation against local PostgreSQL, {len(elapsed)} rotations: "
          f"median {statistics.median(elapsed):.1f} ms, p90 {p90:.1f} ms, "
          f"min {elapsed[0]:.1f} ms, max {elapsed[-1]:.1f} ms")


if __name__ == "__main__":
    main()
