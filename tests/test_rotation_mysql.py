"""Rotation of MariaDB passwords by the MySQL plugins, driven by RotateSecret: the same proofs
as for PostgreSQL, against a throwaway MariaDB that checks passwords."""

import json
import time

from databases import ADMIN_PASSWORD
from test_rotation import KeepLoggingIn, database_secret, dev_gateway, wait_for  # noqa: F401 (a fixture)


def rotate(sm, name, plugin):
    before = sm.describe_secret(SecretId=name).get("LastRotatedDate")
    sm.rotate_secret(SecretId=name, RotationLambdaARN=f"plugin:{plugin}")
    wait_for(lambda: sm.describe_secret(SecretId=name).get("LastRotatedDate") != before,
             what="the rotation to finish")
    return json.loads(sm.get_secret_value(SecretId=name)["SecretString"])


def test_single_user_rotation_changes_a_mariadb_password(dev_gateway, mariadb):
    sm = dev_gateway.client()
    name, user, old = database_secret(sm, mariadb)
    new = rotate(sm, name, "mysql-single-user")["password"]
    assert new != old and not set(new) & set("/@\"'\\")
    assert mariadb.can_login(user, new)
    assert not mariadb.can_login(user, old)
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"]
    assert json.loads(previous)["password"] == old


def test_alternating_users_rotate_mariadb_three_times_without_a_failed_login(dev_gateway, mariadb):
    """The clone gets the user's grants (it reads the user's table), the users alternate, and a
    client logging in with whatever AWSCURRENT says never fails."""
    sm = dev_gateway.client()
    master = f"db/mariadb-master-{time.monotonic_ns()}"
    root = {key: value for key, value in mariadb.secret(mariadb.admin_user, ADMIN_PASSWORD).items() if key != "dbname"}
    sm.create_secret(Name=master, SecretString=json.dumps(root))
    name, user, _ = database_secret(sm, mariadb, masterarn=master)
    mariadb.admin_sql(f"CREATE TABLE `{user}`.t (n INT); INSERT INTO `{user}`.t VALUES (42)")

    with KeepLoggingIn(dev_gateway, name, mariadb) as client:
        users = []
        for _ in range(3):
            current = rotate(sm, name, "mysql-alternating-users")
            users.append(current["username"])
            read = mariadb.client(current["username"], current["password"], f"SELECT n FROM `{user}`.t")
            assert read.returncode == 0 and read.stdout.strip() == "42", read.stderr
            time.sleep(0.3)
    assert users == [f"{user}_clone", user, f"{user}_clone"]
    assert client.logins >= 10
    assert client.failures == []
