"""The PostgreSQL rotation plugins (single user, alternating users) against a real server that
checks passwords, their four steps driven one at a time with `secrets-gateway plugin run-step`
in the order, and with the contexts, the rotation engine will use."""

import itertools
import json
import re
import secrets
import uuid

import pytest

from databases import ADMIN_PASSWORD, Postgres
from harness import STEP_FAILED, run_plugin_step, secret_version

SINGLE = "postgres-single-user.wasm"
ALTERNATING = "postgres-alternating-users.wasm"
MASTER_ID = "db/master"
# What the PostgreSQL templates keep out of passwords: they break connection strings and quoting.
EXCLUDED = set(":/@\"'\\")
_names = itertools.count()


def new_user(db, superuser=False) -> tuple[str, str]:
    """A login role of its own on the server, and its password."""
    name, password = f"rot_{next(_names)}", f"old-{secrets.token_hex(12)}"
    db.create_user(name, password)
    if superuser:
        db.admin_sql(f'ALTER ROLE "{name}" SUPERUSER')
    return name, password


def role_exists(db, name: str) -> bool:
    return db.admin_sql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{name}'").strip() == "1"


def verifier(db, name: str) -> str:
    """The role's stored SCRAM verifier, whose salt changes whenever its password is set."""
    return db.admin_sql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{name}'").strip()


def master_secret(db) -> dict:
    """The server's superuser, as an AWS master secret often is: no engine or database."""
    return {"host": "127.0.0.1", "port": db.port, "username": db.admin_user, "password": ADMIN_PASSWORD}


class Rotation:
    """A secret's versions as the rotation engine keeps them, and its steps run by hand: the
    output of createSecret becomes AWSPENDING (version id = token), and finishing makes it
    AWSCURRENT and the old AWSCURRENT AWSPREVIOUS. Every run is checked for every password
    the rotation has known (and the server's superuser password)."""

    def __init__(self, tmp_path, db, plugin, current, previous=None, secrets=None, master=None, sql_hosts=()):
        self.tmp_path, self.db, self.plugin, self.master = tmp_path, db, plugin, master
        self.sql_hosts = [f"127.0.0.1:{db.port}", *sql_hosts]
        self.secrets = secrets or {}
        self.versions = {"current": (str(uuid.uuid4()), current)}
        if previous is not None:
            self.versions["previous"] = (str(uuid.uuid4()), previous)
        self.token = str(uuid.uuid4())
        self.hidden = {ADMIN_PASSWORD, current["password"], *(s["password"] for s in self.secrets.values())}
        if previous is not None:
            self.hidden.add(previous["password"])

    @property
    def current(self) -> dict:
        return self.versions["current"][1]

    @property
    def previous(self) -> dict:
        return self.versions["previous"][1]

    @property
    def pending(self) -> dict:
        return self.versions["pending"][1]

    def run(self, step: str, *settings: str):
        """Runs `step` with the versions as they are now and `settings` (`KEY=VALUE`)."""
        context = {"secret_id": "app/db", "token": self.token,
                   "secrets": {id: json.dumps(fields) for id, fields in self.secrets.items()}}
        for label, (version_id, fields) in self.versions.items():
            context[label] = secret_version(version_id, f"AWS{label.upper()}", fields)
        flags = [flag for host in self.sql_hosts for flag in ("--sql-host", host)]
        if self.master is not None:
            flags += ["--master-secret", self.master]
        for setting in settings:
            flags += ["--setting", setting]
        return run_plugin_step(self.plugin, step, context, self.tmp_path, *flags, hidden=self.hidden)

    def step(self, step: str, *settings: str):
        """Runs `step`, which must succeed."""
        result = self.run(step, *settings)
        assert result.returncode == 0, f"{step} exited with {result.returncode}: {result.stderr}"
        return result

    def create(self, *settings: str) -> dict:
        """createSecret, whose output becomes the pending version."""
        pending = json.loads(self.step("createSecret", *settings).stdout)
        self.versions["pending"] = (self.token, pending)
        self.hidden.add(pending["password"])
        return pending

    def finish(self) -> None:
        """finishSecret, then what the engine does: the pending version becomes current."""
        self.step("finishSecret")
        self.versions = {"previous": self.versions["current"], "current": self.versions.pop("pending")}
        self.token = str(uuid.uuid4())

    def rotate(self, check=lambda: None) -> None:
        """The four steps, calling `check` after each."""
        for run in (self.create, lambda: self.step("setSecret"), lambda: self.step("testSecret"), self.finish):
            run()
            check()


# Single user


def test_a_full_single_user_rotation(tmp_path, postgres):
    """createSecret keeps the secret but for a new password; setSecret makes the server take
    it and refuse the old one; testSecret and finishSecret succeed."""
    name, old = new_user(postgres)
    current = postgres.secret(name, old, note="kept as it is")
    rotation = Rotation(tmp_path, postgres, SINGLE, current)
    pending = rotation.create()
    new = pending["password"]
    assert {**pending, "password": old} == current, "createSecret changed more than the password"
    assert len(new) == 32 and new != old
    assert not EXCLUDED & set(new), f"excluded characters in {new!r}"
    assert postgres.can_login(name, old), "createSecret changed the database"
    rotation.step("setSecret")
    assert postgres.can_login(name, new)
    assert not postgres.can_login(name, old)
    rotation.step("testSecret")
    rotation.finish()
    assert rotation.current["password"] == new and rotation.previous["password"] == old


def test_single_user_set_secret_again_changes_nothing(tmp_path, postgres):
    """A second setSecret, with the pending password already working, does not set it again."""
    name, old = new_user(postgres)
    rotation = Rotation(tmp_path, postgres, SINGLE, postgres.secret(name, old))
    rotation.create()
    rotation.step("setSecret")
    stored = verifier(postgres, name)
    result = rotation.step("setSecret")
    assert "the pending password already works" in result.stderr
    assert verifier(postgres, name) == stored, "the password was set again"
    assert postgres.can_login(name, rotation.pending["password"])
    assert not postgres.can_login(name, old)


def test_single_user_set_secret_falls_back_to_previous(tmp_path, postgres):
    """When AWSCURRENT holds a password the database never had but it still holds AWSPREVIOUS,
    setSecret changes the password logged in as AWSPREVIOUS."""
    name, old = new_user(postgres)
    never_set = f"never-set-{secrets.token_hex(12)}"
    rotation = Rotation(tmp_path, postgres, SINGLE, postgres.secret(name, never_set),
                        previous=postgres.secret(name, old))
    new = rotation.create()["password"]
    rotation.step("setSecret")
    assert postgres.can_login(name, new)
    assert not postgres.can_login(name, old)
    assert not postgres.can_login(name, never_set)
    rotation.step("testSecret")


def test_single_user_set_secret_fails_when_nothing_logs_in(tmp_path, postgres):
    """No credential of the secret logs in: setSecret fails and changes nothing."""
    name, old = new_user(postgres)
    wrong = [f"wrong-{secrets.token_hex(12)}" for _ in range(2)]
    rotation = Rotation(tmp_path, postgres, SINGLE, postgres.secret(name, wrong[0]),
                        previous=postgres.secret(name, wrong[1]))
    rotation.hidden.add(old)
    rotation.create()
    stored = verifier(postgres, name)
    result = rotation.run("setSecret")
    assert result.returncode == STEP_FAILED, result.stderr
    assert "cannot log in with the previous, current or pending credential" in result.stderr
    assert verifier(postgres, name) == stored


def test_single_user_refuses_a_pending_version_of_another_user(tmp_path, postgres):
    """A pending version naming another user is refused; neither user's password changes."""
    name, old = new_user(postgres)
    other, others_password = new_user(postgres)
    rotation = Rotation(tmp_path, postgres, SINGLE, postgres.secret(name, old))
    rotation.hidden.add(others_password)
    new = rotation.create()["password"]
    rotation.versions["pending"] = (rotation.token, {**rotation.pending, "username": other})
    stored = verifier(postgres, name), verifier(postgres, other)
    result = rotation.run("setSecret")
    assert result.returncode == STEP_FAILED, result.stderr
    assert "names another user or host" in result.stderr
    assert (verifier(postgres, name), verifier(postgres, other)) == stored
    assert postgres.can_login(name, old) and postgres.can_login(other, others_password)
    assert not postgres.can_login(other, new)


def test_single_user_test_secret_fails_before_set_secret(tmp_path, postgres):
    """testSecret with a pending password the server does not have yet fails, retryably."""
    name, old = new_user(postgres)
    rotation = Rotation(tmp_path, postgres, SINGLE, postgres.secret(name, old))
    rotation.create()
    result = rotation.run("testSecret")
    assert result.returncode == STEP_FAILED, result.stderr
    assert "the plugin reports a retryable error: the pending credential does not log in" in result.stderr
    assert postgres.can_login(name, old)


def test_the_settings_shape_the_password(tmp_path, postgres):
    """password_length and exclude_punctuation reach the generator; each remaining type is
    still required."""
    name, old = new_user(postgres)
    rotation = Rotation(tmp_path, postgres, SINGLE, postgres.secret(name, old))
    new = rotation.create("password_length=20", "exclude_punctuation=true")["password"]
    assert re.fullmatch(r"[A-Za-z0-9]{20}", new), new
    assert re.search("[A-Z]", new) and re.search("[a-z]", new) and re.search("[0-9]", new), new


# Alternating users


def alternating(tmp_path, db, name, password, master=MASTER_ID, masters=None, sql_hosts=()) -> Rotation:
    """A rotation of `name`'s secret, whose `masterarn` names MASTER_ID: by default the server's
    superuser, granted."""
    current = db.secret(name, password, masterarn=MASTER_ID)
    return Rotation(tmp_path, db, ALTERNATING, current, secrets=masters or {MASTER_ID: master_secret(db)},
                    master=master, sql_hosts=sql_hosts)


def test_the_first_alternating_rotation_creates_a_clone_with_the_users_privileges(tmp_path, postgres):
    """The first rotation creates `<user>_clone` with the new password, as a member of the
    user's role, so it reads what the user owns or was granted; the user's own password keeps
    working throughout."""
    name, old = new_user(postgres)
    postgres.admin_sql(f'CREATE TABLE "{name}_granted" (note text); INSERT INTO "{name}_granted" VALUES (\'granted\');'
                       f'GRANT SELECT ON "{name}_granted" TO "{name}";'
                       f'CREATE TABLE "{name}_owned" (note text); INSERT INTO "{name}_owned" VALUES (\'owned\');'
                       f'ALTER TABLE "{name}_owned" OWNER TO "{name}"')
    clone = f"{name}_clone"
    rotation = alternating(tmp_path, postgres, name, old)

    def no_outage():
        assert postgres.can_login(name, old), "the current user's password stopped working"

    pending = rotation.create()
    no_outage()
    assert pending["username"] == clone
    assert {**pending, "username": name, "password": old} == rotation.current
    assert len(pending["password"]) == 32 and not EXCLUDED & set(pending["password"])
    assert not role_exists(postgres, clone), "createSecret changed the database"
    rotation.step("setSecret")
    no_outage()
    assert postgres.can_login(clone, pending["password"])
    assert postgres.admin_sql(f"SELECT pg_has_role('{clone}', '{name}', 'MEMBER')").strip() == "t"
    for table, note in ((f"{name}_granted", "granted"), (f"{name}_owned", "owned")):
        result = postgres.client(clone, pending["password"], f'SELECT note FROM "{table}"')
        assert (result.returncode, result.stdout.strip()) == (0, note), result.stderr
    rotation.step("testSecret")
    no_outage()
    rotation.finish()
    no_outage()
    assert rotation.current["username"] == clone


def test_alternating_rotations_alternate_the_users(tmp_path, postgres):
    """Three rotations: user, user_clone, user, user_clone. Each new password logs in, and at
    every point of every rotation so does AWSCURRENT; after each one AWSPREVIOUS still does,
    and a user's password from two rotations back no longer does."""
    name, old = new_user(postgres)
    clone = f"{name}_clone"
    rotation = alternating(tmp_path, postgres, name, old)

    def current_logs_in():
        assert postgres.can_login(rotation.current["username"], rotation.current["password"])

    users = [rotation.current["username"]]
    for _ in range(3):
        retired = rotation.versions.get("previous", (None, None))[1]
        rotation.rotate(check=current_logs_in)
        users.append(rotation.current["username"])
        assert postgres.can_login(rotation.previous["username"], rotation.previous["password"])
        if retired is not None:
            assert not postgres.can_login(retired["username"], retired["password"])
    assert users == [name, clone, name, clone]


def test_alternating_refuses_a_master_not_granted(tmp_path, postgres):
    """A master secret outside the plugin's master_secrets is refused, and nothing changes."""
    name, old = new_user(postgres)
    rotation = alternating(tmp_path, postgres, name, old, master="db/other-*")
    rotation.create()
    result = rotation.run("setSecret")
    assert result.returncode == STEP_FAILED, result.stderr
    assert f"master secret {MASTER_ID}: not in the plugin's master_secrets" in result.stderr
    assert not role_exists(postgres, f"{name}_clone")
    assert postgres.can_login(name, old)


@pytest.mark.parametrize("rotated", ["current", "pending"])
def test_alternating_refuses_a_master_that_is_a_rotated_user(tmp_path, postgres, rotated):
    """A masterarn naming the credential of the current or the pending user is refused, even
    when that user is a superuser that could do the change."""
    name, password = new_user(postgres, superuser=True)
    master = postgres.secret(name, password)
    if rotated == "current":
        rotation = alternating(tmp_path, postgres, name, password, masters={MASTER_ID: master})
    else:
        clone, clones_password = f"{name}_clone", f"clone-{secrets.token_hex(12)}"
        postgres.create_user(clone, clones_password)
        rotation = alternating(tmp_path, postgres, clone, clones_password, masters={MASTER_ID: master})
    stored = verifier(postgres, name)
    assert rotation.create()["username"] == (f"{name}_clone" if rotated == "current" else name)
    result = rotation.run("setSecret")
    assert result.returncode == STEP_FAILED, result.stderr
    assert f"the master user {name} is one of the rotated users" in result.stderr
    assert verifier(postgres, name) == stored
    if rotated == "current":
        assert not role_exists(postgres, f"{name}_clone")
    else:
        assert postgres.can_login(clone, clones_password)


def test_alternating_does_not_use_the_master_for_an_invalid_current_credential(tmp_path, postgres):
    """When AWSCURRENT does not log in, setSecret fails before the master does anything."""
    name, password = new_user(postgres)
    wrong = f"wrong-{secrets.token_hex(12)}"
    rotation = alternating(tmp_path, postgres, name, wrong)
    rotation.hidden.add(password)
    rotation.create()
    result = rotation.run("setSecret")
    assert result.returncode == STEP_FAILED, result.stderr
    assert "the current credential does not log in" in result.stderr
    assert not role_exists(postgres, f"{name}_clone")
    assert postgres.can_login(name, password)


def test_alternating_refuses_the_master_of_another_server(tmp_path, postgres):
    """A masterarn naming the superuser of another server (both granted) is refused, as the
    template's check that the master's host is the secret's does: else the credential of a user
    on one server would get its clone, a member of the same-named role, made on the other."""
    name, old = new_user(postgres)
    other = Postgres().start()
    try:
        other.create_user(name, f"elsewhere-{secrets.token_hex(12)}")
        rotation = alternating(tmp_path, postgres, name, old, masters={MASTER_ID: master_secret(other)},
                               sql_hosts=[f"127.0.0.1:{other.port}"])
        rotation.create()
        result = rotation.run("setSecret")
        clone = f"{name}_clone"
        made = [server.port for server in (postgres, other) if role_exists(server, clone)]
        assert result.returncode == STEP_FAILED, f"setSecret made {clone} on the servers of port {made}"
        assert made == []
    finally:
        other.stop()
