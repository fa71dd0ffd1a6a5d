"""The SQL capability of rotation plugins against real PostgreSQL and MariaDB servers that check
passwords, driven through `secrets-gateway plugin run-step` with the probe plugin."""

import itertools
import json
import secrets

import pytest

from databases import ADMIN_PASSWORD
from harness import STEP_FAILED, run_plugin_step, secret_version

TRICKY = "it's a \\ \"tricky\" pässwörd ✓ ' OR 1=1 --"
MASTER_ID = "db/master"
# As AWS's master secrets often are: no engine or database, which come from the rotated secret.
MASTER = {"host": "127.0.0.1", "password": ADMIN_PASSWORD}
_names = itertools.count()


@pytest.fixture(params=["postgres", "mariadb"])
def db(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def app_user(db):
    """A user of its own on the server, and its password."""
    name, password = f"app_{next(_names)}", f"old-{secrets.token_hex(12)}"
    db.create_user(name, password)
    return name, password


def run_step(tmp_path, db, step, mode, current, pending=None, sql_port=None, master="*", hidden=()):
    """Runs `step` of the probe in `mode`, granted everything it imports (SQL: `sql_port`, by
    default the server's); checks that no value of `hidden` appears in what the command says."""
    context = {"secret_id": "app/db", "token": "awspending",
               "current": secret_version("awscurrent", "AWSCURRENT", current),
               "secrets": {MASTER_ID: json.dumps(MASTER | {"port": db.port, "username": db.admin_user})}}
    if pending is not None:
        context["pending"] = secret_version("awspending", "AWSPENDING", pending)
    setting = {"setSecret": "set-secret", "testSecret": "test-secret"}[step]
    return run_plugin_step(
        "probe.wasm", step, context, tmp_path,
        "--setting", f"{setting}={mode}", "--sql-host", f"127.0.0.1:{sql_port or db.port}",
        "--http-host", "127.0.0.1:9", "--master-secret", master, "--master-secret-read",
        hidden=(*hidden, ADMIN_PASSWORD),
    )


def test_the_servers_refuse_a_wrong_password(db, app_user):
    """The servers check passwords (never `trust`), so a passing testSecret proves something."""
    name, password = app_user
    assert db.can_login(name, password)
    assert not db.can_login(name, password + "x")
    assert not db.can_login(db.admin_user, "")
    assert not db.can_login(db.admin_user, "not-" + ADMIN_PASSWORD)


def test_set_secret_changes_the_password_and_test_secret_logs_in_with_it(tmp_path, db, app_user):
    """setSecret, as the current user, sets a pending password full of quotes, backslashes and
    non-ASCII characters; the old one stops working and testSecret logs in with the new one."""
    name, old = app_user
    current = db.secret(name, old, masterarn=MASTER_ID)
    pending = db.secret(name, TRICKY)
    result = run_step(tmp_path, db, "setSecret", "sql-set", current, pending, hidden=(old, TRICKY))
    assert result.returncode == 0, result.stderr
    assert db.can_login(name, TRICKY)
    assert not db.can_login(name, old)
    result = run_step(tmp_path, db, "testSecret", "sql-test", current, pending, hidden=(old, TRICKY))
    assert result.returncode == 0, result.stderr


def test_test_secret_logs_in_with_a_tricky_password(tmp_path, db):
    """testSecret logs in with a password full of quotes, backslashes and non-ASCII characters,
    and reads it back unchanged as a bound parameter and as a quoted literal."""
    name = f"app_{next(_names)}"
    db.create_user(name, TRICKY)
    secret = db.secret(name, TRICKY)
    result = run_step(tmp_path, db, "testSecret", "sql-test", secret, secret, hidden=(TRICKY,))
    assert result.returncode == 0, result.stderr


def test_test_secret_fails_on_a_password_the_server_refuses(tmp_path, db, app_user):
    """testSecret with a pending password the server never got fails as an authentication error."""
    name, old = app_user
    wrong = f"never-set-{secrets.token_hex(12)}"
    result = run_step(tmp_path, db, "testSecret", "sql-test", db.secret(name, old), db.secret(name, wrong),
                      hidden=(old, wrong))
    assert result.returncode == STEP_FAILED, result.stderr
    assert "secrets-gateway: testSecret failed:" in result.stderr
    assert "Error::Authentication(" in result.stderr, "not an authentication error"
    assert db.can_login(name, old)


def test_the_master_connects_when_granted(tmp_path, db, app_user):
    """The master credential named by `masterarn` is used when the grant names it."""
    name, old = app_user
    current = db.secret(name, old, masterarn=MASTER_ID)
    result = run_step(tmp_path, db, "setSecret", "sql-master", current, master=MASTER_ID, hidden=(old,))
    assert result.returncode == 0, result.stderr
    assert f"connected as master user {db.admin_user}" in result.stderr


def test_the_master_is_refused_when_not_granted(tmp_path, db, app_user):
    """A master secret the grant's patterns do not match is refused before any lookup."""
    name, old = app_user
    current = db.secret(name, old, masterarn=MASTER_ID)
    result = run_step(tmp_path, db, "setSecret", "sql-master", current, master="db/other-*", hidden=(old,))
    assert result.returncode == STEP_FAILED, result.stderr
    assert f"master secret {MASTER_ID}: not in the plugin's master_secrets" in result.stderr


def test_a_port_outside_the_grant_is_refused(tmp_path, db, app_user):
    """A connection to host:port not in `sql_hosts` is refused, and nothing changes."""
    name, old = app_user
    new = f"new-{secrets.token_hex(12)}"
    result = run_step(tmp_path, db, "setSecret", "sql-set", db.secret(name, old), db.secret(name, new),
                      sql_port=db.port + 1 if db.port < 65535 else db.port - 1, hidden=(old, new))
    assert result.returncode == STEP_FAILED, result.stderr
    assert f"SQL connection to 127.0.0.1:{db.port}: not in the plugin's sql_hosts" in result.stderr
    assert db.can_login(name, old)
    assert not db.can_login(name, new)
