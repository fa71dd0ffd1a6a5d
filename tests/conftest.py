import itertools
import os
from pathlib import Path

import pytest

from harness import Gateway, binary, plugin_path, run_cli

_names = itertools.count()


def pytest_sessionstart(session):
    if not binary().exists():
        raise pytest.UsageError(f"no gateway binary at {binary()}: run scripts/test, or cargo build first")


@pytest.fixture(scope="session")
def plugin_cache(tmp_path_factory) -> Path:
    """A compile cache holding every built plugin, shared by the session's gateways, so that
    each does not compile the Python and JavaScript interpreters again: SG_PLUGIN_CACHE, which
    scripts/test fills, else one filled here."""
    explicit = os.environ.get("SG_PLUGIN_CACHE")
    if explicit:
        return Path(explicit)
    cache = tmp_path_factory.mktemp("plugin-cache")
    plugins = sorted(str(path) for path in plugin_path("minimal.wasm").parent.glob("*.wasm"))
    run_cli("plugin", "precompile", "--cache-dir", str(cache), *plugins, timeout=600)
    return cache


@pytest.fixture
def make_gateway(tmp_path, request):
    """Starts gateways in development mode under the test's temporary directory; those given
    a --plugin-dir share the session's compile cache."""
    started: list[Gateway] = []

    def make(args=None, env=None, start=True, config=None) -> Gateway:
        if args and "--plugin-dir" in args:
            args = [*args, "--plugin-cache", str(request.getfixturevalue("plugin_cache"))]
        gateway = Gateway(tmp_path / f"gateway-{next(_names)}", args=args, env=env, config=config)
        started.append(gateway)
        return gateway.start() if start else gateway

    yield make
    for gateway in started:
        gateway.kill()
    leaks = [leak for gateway in started for leak in gateway.find_leaks()]
    assert not leaks, "secret values in logs or audit records:\n" + "\n".join(leaks)


@pytest.fixture
def gateway(make_gateway) -> Gateway:
    return make_gateway()


@pytest.fixture
def sm(gateway):
    """A boto3 Secrets Manager client of the development client certificate."""
    return gateway.client()


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """One moto_server per test module; tests use names of their own."""
    from backend import Moto

    server = Moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def proxy(moto):
    """The gateway's route to moto, counting calls; `stop()` takes the backend away."""
    from backend import CountingProxy

    counting = CountingProxy(moto.port).start()
    yield counting
    counting.stop()


AWS_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _database(server):
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL that checks passwords (scram-sha-256), one per test module."""
    from databases import Postgres

    yield from _database(Postgres())


@pytest.fixture(scope="module")
def mariadb():
    """A throwaway MariaDB that checks passwords, one per test module."""
    from databases import MariaDB

    yield from _database(MariaDB())
