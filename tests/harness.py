"""Runs the real secrets-gateway binary for the end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import boto3
import botocore.config

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready listen=(\S+)")
AGENT_READY = re.compile(r"agent_listen=(\S+)")
START_TIMEOUT = 30.0
# Debug level for the gateway's own modules, so the leak check reads every line it can log.
DEFAULT_LOG = "info,secrets_gateway=debug"

# Every secret value and random password that went through a test client, so that the
# gateways' logs and audit trails can be searched for them (see `find_leaks`).
SECRET_VALUES: set[str] = set()
# Shorter values would match ordinary log text by chance.
MIN_CHECKED_LENGTH = 8


def remember_secret(value) -> None:
    """Registers a value that must never appear in a log or audit line."""
    if isinstance(value, (bytes, bytearray)):
        import base64

        SECRET_VALUES.add(base64.b64encode(value).decode())
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return
    if isinstance(value, str) and len(value) >= MIN_CHECKED_LENGTH:
        SECRET_VALUES.add(value)


def _remember_request_values(params, **_):
    for member in ("SecretString", "SecretBinary"):
        if member in params:
            remember_secret(params[member])


def _remember_response_values(parsed, **_):
    if not isinstance(parsed, dict):
        return
    for member in ("SecretString", "SecretBinary", "RandomPassword"):
        if member in parsed:
            remember_secret(parsed[member])
    for value in parsed.get("SecretValues", []):
        _remember_response_values(value)


def binary() -> Path:
    """The gateway binary scripts/test built (SG_BINARY), else the default debug build."""
    explicit = os.environ.get("SG_BINARY")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "secrets-gateway"


# `secrets-gateway plugin run-step` exits with this when the step ran and failed.
STEP_FAILED = 3


def plugin_path(name: str) -> Path:
    """A plugin, or a test fixture, scripts/build-plugins built: in SG_PLUGIN_DIR, else
    `$CARGO_TARGET_DIR/plugins`, else the build scripts' default target directory."""
    explicit = os.environ.get("SG_PLUGIN_DIR")
    if explicit:
        directory = Path(explicit)
    elif os.environ.get("CARGO_TARGET_DIR"):
        directory = Path(os.environ["CARGO_TARGET_DIR"]) / "plugins"
    else:
        directory = Path.home() / ".cache" / "secrets-gateway" / "target" / "plugins"
    for path in (directory / name, directory / "fixtures" / name):
        if path.is_file():
            return path
    raise FileNotFoundError(f"no plugin {name} in {directory}: run scripts/build-plugins, or set SG_PLUGIN_DIR")


def run_cli(*args: str, check: bool = True, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary()), *args],
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def secret_version(version_id: str, stage: str, fields: dict) -> dict:
    """One version of a `plugin run-step` context file, with `fields` as its SecretString."""
    return {"version_id": version_id, "stages": [stage], "secret_string": json.dumps(fields, ensure_ascii=False)}


def run_plugin_step(plugin: str, step: str, context: dict, directory: Path, *flags: str,
                    hidden=()) -> subprocess.CompletedProcess:
    """Runs `step` of the built plugin `plugin` with `context`, written to `directory`, granted
    what `flags` say; checks that no value of `hidden`, as it is or JSON-escaped, appears in
    what the command printed."""
    path = directory / "context.json"
    path.write_text(json.dumps(context, ensure_ascii=False))
    result = run_cli("plugin", "run-step", str(plugin_path(plugin)), "--step", step, "--context", str(path),
                     *flags, check=False)
    for value in hidden:
        for form in {value, json.dumps(value)[1:-1]}:
            assert form not in result.stdout + result.stderr, f"a password in what {step} printed"
    return result


class StartFailed(Exception):
    def __init__(self, returncode: int | None, stderr: str):
        super().__init__(f"gateway exited with {returncode} before it was ready:\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


class Gateway:
    """One gateway process in development mode, with its data directory and logs."""

    def __init__(self, data_dir: Path, args: list[str] | None = None, env: dict | None = None, config: str | None = None):
        """Development mode, or with `config` (TOML text) the configuration-file mode, with a
        development PKI under `data_dir/pki` that the configuration can reference."""
        self.data_dir = Path(data_dir)
        self.args = list(args or [])
        self.env = dict(env or {})
        self.config_path: Path | None = None
        if config is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            run_cli("pki", "init", "--out", str(self.data_dir / "pki"))
            self.config_path = self.data_dir / "gateway.toml"
            self.config_path.write_text(config)
        self.process: subprocess.Popen | None = None
        self.address: str | None = None
        self.agent_address: str | None = None
        self.log_dir = self.data_dir.parent / f"{self.data_dir.name}-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts = 0

    # -- lifecycle ------------------------------------------------------------------------

    def command(self) -> list[str]:
        listen = self.address or "127.0.0.1:0"
        mode = ["--config", str(self.config_path)] if self.config_path else ["--dev", "--data-dir", str(self.data_dir)]
        return [str(binary()), "serve", *mode, "--listen", listen, *self.args]

    def start(self) -> "Gateway":
        self.starts += 1
        stdout = open(self.log_dir / f"stdout.{self.starts}.log", "w")
        stderr_path = self.log_dir / f"stderr.{self.starts}.log"
        stderr = open(stderr_path, "w")
        env = {**os.environ, "RUST_LOG": os.environ.get("SG_TEST_LOG", DEFAULT_LOG), **self.env}
        self.process = subprocess.Popen(self.command(), stdout=stdout, stderr=stderr, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = stderr_path.read_text(errors="replace")
            match = READY.search(text)
            if match:
                self.address = match.group(1)
                agent = AGENT_READY.search(text)
                self.agent_address = agent.group(1) if agent else None
                return self
            if self.process.poll() is not None:
                raise StartFailed(self.process.returncode, text)
            time.sleep(0.02)
        self.process.kill()
        raise StartFailed(None, stderr_path.read_text(errors="replace"))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def restart(self) -> "Gateway":
        self.stop()
        return self.start()

    # -- addresses and material -----------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pki(self) -> Path:
        return self.data_dir / "pki"

    @property
    def ca(self) -> str:
        return str(self.pki / "ca.pem")

    @property
    def client_cert(self) -> tuple[str, str]:
        return str(self.pki / "client.pem"), str(self.pki / "client-key.pem")

    def issue(self, name: str, spiffe_id: str | None = None) -> tuple[str, str]:
        args = ["pki", "issue", "--out", str(self.pki), "--name", name]
        if spiffe_id:
            args += ["--spiffe-id", spiffe_id]
        run_cli(*args)
        return str(self.pki / f"{name}.pem"), str(self.pki / f"{name}-key.pem")

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    @property
    def audit_path(self) -> Path:
        """Where dev mode, and the test configurations, write the audit trail."""
        return self.data_dir / "audit.log"

    def audit(self) -> list[dict]:
        import json

        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line]

    def find_leaks(self) -> list[str]:
        """Lines of the logs and the audit trail that contain a registered secret value."""
        texts = [p for p in sorted(self.log_dir.glob("*.log"))]
        if self.audit_path.exists():
            texts.append(self.audit_path)
        leaks = []
        for path in texts:
            for line in path.read_text(errors="replace").splitlines():
                for value in SECRET_VALUES:
                    if value in line:
                        leaks.append(f"{path.name}: a secret value of {len(value)} characters in: {line[:200]}")
        return leaks

    # -- clients --------------------------------------------------------------------------

    def client(self, cert: tuple[str, str] | None = None, **config):
        config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
        client = boto3.client(
            "secretsmanager",
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            verify=self.ca,
            config=botocore.config.Config(client_cert=cert or self.client_cert, **config),
        )
        client.meta.events.register("provide-client-params.secretsmanager.*", _remember_request_values)
        client.meta.events.register("after-call.secretsmanager.*", _remember_response_values)
        return client


# The statement that lets the development client do everything, for configuration-mode tests
# (dev mode has it built in).
DEV_CLIENT_POLICY = """
[[policy.statement]]
sid = "dev-client"
effect = "allow"
identities = ["spiffe://secrets-gateway.dev/client"]
actions = ["secretsmanager:*"]
secrets = ["*"]

[audit]
file = "audit.log"
"""


def embedded_config(extra: str = "") -> str:
    """A configuration file for `Gateway(config=…)`: the development PKI, the embedded store and
    the development client's policy, then `extra`."""
    return f"""
[tls]
cert_file = "pki/server.pem"
key_file = "pki/server-key.pem"
client_ca_file = "pki/ca.pem"

[store.embedded]
path = "store.redb"
master_key_file = "master.key"
{DEV_CLIENT_POLICY}
{extra}
"""


def file_sha256(file: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(file).read_bytes()).hexdigest()


def plugin_entry(name: str, file: Path, digest: str | None = None, extra: str = "") -> str:
    """A `[[plugin]]` table, pinned to the file's sha256 unless `digest` says otherwise."""
    digest = digest or file_sha256(file)
    return f"""
[[plugin]]
name = "{name}"
file = "{file}"
sha256 = "{digest}"
{extra}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
