#!/usr/bin/env python3
"""Runs the benchmarks against release binaries (scripts/bench builds them first).

Every throughput figure is reported with its ratio to a bare hyper server that returns the same
response bytes, measured in the same run: the server under test is pinned to CPU 0 and the
load generator to CPU 1, with 32 keep-alive connections. Standard library only.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_CPU, LOAD_CPU = "0", "1"
SM_HEADERS = ["Content-Type: application/x-amz-json-1.1", "X-Amz-Target: secretsmanager.GetSecretValue"]
TOKEN = "bench-token"
DB_SECRET = json.dumps(
    {"engine": "postgres", "host": "db.internal", "port": 5432, "username": "app",
     "password": "ZCjvMn1Q8x2R7Hv3pLw9sT4kYb6NfA0e", "dbname": "app"}
)


class Bench:
    def __init__(self, binaries: Path, seconds: float, connections: int, work: Path):
        self.bin = binaries
        self.seconds = seconds
        self.connections = connections
        self.work = work
        self.processes: list[subprocess.Popen] = []
        self.results: list[dict] = []

    def spawn(self, name, command, env=None, cpu=SERVER_CPU):
        log = open(self.work / f"{name}.log", "w")
        process = subprocess.Popen(["taskset", "-c", cpu, *command], stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
        self.processes.append(process)
        return process

    def wait_for(self, name, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, (self.work / f"{name}.log").read_text(errors="replace"))
            if match:
                return match
            time.sleep(0.05)
        raise SystemExit(f"{name} did not start:\n" + (self.work / f"{name}.log").read_text())

    def load(self, label, url, headers=(), body="", method="GET", tls=None):
        command = ["taskset", "-c", LOAD_CPU, str(self.bin / "loadgen"), url, "--label", label,
                   "--connections", str(self.connections), "--duration", str(self.seconds), "--method", method,
                   "--body", body]
        for header in headers:
            command += ["-H", header]
        if tls:
            command += ["--cacert", tls["ca"], "--cert", tls["cert"], "--key", tls["key"]]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        self.results.append(result)
        print(json.dumps(result), flush=True)
        return result

    def grpc_load(self, label, port, secret_id, tls):
        command = ["taskset", "-c", LOAD_CPU, str(self.bin / "grpcload"), f"https://localhost:{port}",
                   "--secret-id", secret_id, "--label", label, "--connections", "4",
                   "--streams", str(max(1, self.connections // 4)), "--duration", str(self.seconds),
                   "--cacert", tls["ca"], "--cert", tls["cert"], "--key", tls["key"]]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        self.results.append(result)
        print(json.dumps(result), flush=True)
        return result

    def stop_all(self):
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client:
    """A keep-alive stdlib client for setting up data; it reconnects when the gateway has closed
    an idle connection (its header read timeout) between two phases of the run."""

    def __init__(self, port, tls):
        context = ssl.create_default_context(cafile=tls["ca"])
        context.load_cert_chain(tls["cert"], tls["key"])
        self.connect = lambda: http.client.HTTPSConnection("127.0.0.1", port, context=context)
        self.connection = self.connect()

    def call(self, operation, payload):
        for attempt in (1, 2):
            try:
                self.connection.request("POST", "/", body=json.dumps(payload), headers={
                    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"secretsmanager.{operation}"})
                response = self.connection.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError):
                self.connection.close()
                self.connection = self.connect()
                if attempt == 2:
                    raise
        if response.status != 200:
            raise SystemExit(f"{operation} failed: {response.status} {body[:200]!r}")
        return body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--secrets", type=int, default=10_000, help="secrets of 1 KiB for the RSS figure")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    bench = Bench(args.bin, args.seconds, args.connections, work)
    try:
        run(bench, args)
    finally:
        bench.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def run(bench: Bench, args):
    work = bench.work
    gateway = bench.spawn(
        "gateway",
        [str(bench.bin / "secrets-gateway"), "serve", "--dev", "--data-dir", str(work / "gateway"),
         "--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0"],
        env={"TOKIO_WORKER_THREADS": "1", "RUST_LOG": "warn,secrets_gateway::daemon=info", "AWS_TOKEN": TOKEN},
    )
    port = int(bench.wait_for("gateway", r"ready listen=127\.0\.0\.1:(\d+)").group(1))
    agent_port = int(bench.wait_for("gateway", r"agent_listen=127\.0\.0\.1:(\d+)").group(1))
    pki = work / "gateway" / "pki"
    tls = {"ca": str(pki / "ca.pem"), "cert": str(pki / "client.pem"), "key": str(pki / "client-key.pem")}
    time.sleep(1)
    idle_rss = rss_kib(gateway.pid)

    client = Client(port, tls)
    client.call("CreateSecret", {"Name": "bench/db", "SecretString": DB_SECRET})
    sm_body = client.call("GetSecretValue", {"SecretId": "bench/db"})
    (work / "sm.json").write_bytes(sm_body)
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{agent_port}/secretsmanager/get?secretId=bench%2Fdb",
                                     headers={"X-Aws-Parameters-Secrets-Token": TOKEN})
    agent_body = urllib.request.urlopen(request).read()
    (work / "agent.json").write_bytes(agent_body)
    print(f"response bodies: Secrets Manager {len(sm_body)} bytes, Agent {len(agent_body)} bytes", flush=True)

    def ceiling(name, body_file, *extra):
        bench.spawn(name, [str(bench.bin / "ceiling"), "--body", str(body_file), *extra])
        return int(bench.wait_for(name, r"127\.0\.0\.1:(\d+)").group(1))

    plain_agent = ceiling("ceiling-plain-agent", work / "agent.json")
    plain_sm = ceiling("ceiling-plain-sm", work / "sm.json", "--content-type", "application/x-amz-json-1.1")
    mtls_sm = ceiling("ceiling-mtls-sm", work / "sm.json", "--content-type", "application/x-amz-json-1.1",
                      "--cert", str(pki / "server.pem"), "--key", str(pki / "server-key.pem"),
                      "--client-ca", str(pki / "ca.pem"))

    agent_path = "/secretsmanager/get?secretId=bench%2Fdb"
    sm_payload = json.dumps({"SecretId": "bench/db"})
    ceilings = {
        "agent": bench.load("ceiling-plain (agent bytes)", f"http://127.0.0.1:{plain_agent}{agent_path}"),
        "sm": bench.load("ceiling-plain (SM bytes)", f"http://127.0.0.1:{plain_sm}/", SM_HEADERS, sm_payload, "POST"),
    }
    bench.load("ceiling-mtls (SM bytes)", f"https://127.0.0.1:{mtls_sm}/", SM_HEADERS, sm_payload, "POST", tls)
    agent = bench.load("gateway agent GET, plain, cached", f"http://127.0.0.1:{agent_port}{agent_path}",
                       [f"X-Aws-Parameters-Secrets-Token: {TOKEN}"])
    sm = bench.load("gateway GetSecretValue, mTLS, cached", f"https://127.0.0.1:{port}/", SM_HEADERS, sm_payload,
                    "POST", tls)
    grpc = bench.grpc_load("gateway GetSecretValue, gRPC/mTLS, cached", port, "bench/db", tls)
    uncached = bench.load("gateway agent GET, mTLS, refreshNow (uncached)",
                          f"https://127.0.0.1:{port}{agent_path}&refreshNow=true",
                          [f"X-Aws-Parameters-Secrets-Token: {TOKEN}"], tls=tls)

    loaded_rss = rss_kib(gateway.pid)
    started = time.monotonic()
    value = "x" * 1024
    for i in range(args.secrets):
        client.call("CreateSecret", {"Name": f"bench/kib/{i}", "SecretString": value})
    created = time.monotonic() - started
    for i in range(args.secrets):
        client.call("GetSecretValue", {"SecretId": f"bench/kib/{i}"})
    cached_rss = rss_kib(gateway.pid)

    print()
    print(f"{'benchmark':<50}{'req/s':>10}{'p50 µs':>9}{'p99 µs':>9}{'errors':>8}{'ratio':>8}  ceiling")
    for result in bench.results:
        label = result["label"]
        base = ceilings["agent"] if "agent" in label and "ceiling" not in label else ceilings["sm"]
        ratio = result["rps"] / base["rps"]
        errors = result["errors"] + result["non_2xx"]
        print(f"{label:<50}{result['rps']:>10.0f}{result['p50_us']:>9}{result['p99_us']:>9}{errors:>8}{ratio:>8.2f}  {base['label']}")
    print()
    print(f"RSS idle: {idle_rss / 1024:.1f} MiB; after the runs: {loaded_rss / 1024:.1f} MiB; "
          f"after {args.secrets} cached secrets of 1 KiB: {cached_rss / 1024:.1f} MiB "
          f"(created in {created:.1f} s, {args.secrets / created:.0f} durable writes/s)")
    summary = {
        "results": bench.results,
        "agent_ratio": agent["rps"] / ceilings["agent"]["rps"],
        "sm_mtls_ratio": sm["rps"] / ceilings["sm"]["rps"],
        "grpc_mtls_ratio": grpc["rps"] / ceilings["sm"]["rps"],
        "uncached_ratio": uncached["rps"] / ceilings["sm"]["rps"],
        "rss_idle_kib": idle_rss,
        "rss_after_runs_kib": loaded_rss,
        "rss_cached_kib": cached_rss,
        "secrets": args.secrets,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    sys.exit(main())
