"""Throwaway PostgreSQL and MariaDB servers that check passwords, from the Debian binaries.

Each server listens on a free port of 127.0.0.1 only, keeps its data and socket in a temporary
directory of its own, and runs as its system account (`postgres`, `mysql`). The directory is
made with `tempfile`, not pytest's `tmp_path_factory`: pytest's base directory is root's alone
(mode 0700), which those accounts cannot enter. `stop()` removes it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from harness import free_port

START_TIMEOUT = 30.0
ADMIN_PASSWORD = "throwaway-admin-pw-3f9c1e"


def sql_literal(value: str, backslash_escapes: bool) -> str:
    if backslash_escapes:
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


class Server:
    """What both servers share: the directory, the process, the bounded wait for readiness."""

    engine = ""
    account = ""
    admin_user = ""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix=f"sg-{self.engine}-"))
        shutil.chown(self.dir, self.account, self.account)
        self.port = free_port()
        self.log = self.dir / "server.log"
        self.process: subprocess.Popen | None = None

    def as_account(self, *args: str) -> None:
        """Runs a command as the server's account, failing with its output."""
        result = subprocess.run(
            args, cwd=self.dir, user=self.account, group=self.account, extra_groups=[],
            capture_output=True, text=True, timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} exited with {result.returncode}:\n{result.stdout}{result.stderr}")

    def spawn(self, *args: str) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=self.dir, user=self.account, group=self.account, extra_groups=[],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_until(self, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.engine} exited with {self.process.returncode}:\n{self.log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.engine} not ready in {START_TIMEOUT} s:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, user: str, password: str, statement: str) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def admin_sql(self, statement: str) -> str:
        """Runs SQL as the superuser over TCP; returns the rows as tab-separated lines."""
        result = self.client(self.admin_user, ADMIN_PASSWORD, statement)
        if result.returncode != 0:
            raise RuntimeError(f"{statement!r} failed: {result.stderr}")
        return result.stdout

    def can_login(self, user: str, password: str) -> bool:
        """Whether the server lets `user` in over TCP with `password`; any other failure raises."""
        result = self.client(user, password, "SELECT 1")
        if result.returncode == 0:
            return True
        if any(failure in result.stderr for failure in self.auth_failed):
            return False
        raise RuntimeError(f"login as {user} failed for another reason: {result.stderr}")

    def secret(self, username: str, password: str, **fields) -> dict:
        """A secret's JSON fields for `username` on this server, as the SQL capability reads them."""
        return {"engine": self.engine, "host": "127.0.0.1", "port": self.port, "username": username,
                "password": password, "dbname": self.dbname(username), **fields}


class Postgres(Server):
    engine = "postgres"
    account = "postgres"
    admin_user = "postgres"
    # libpq sends no empty password: the server asked for one, which is what a refusal proves.
    auth_failed = ("password authentication failed", "no password supplied")

    @staticmethod
    def bin(name: str) -> str:
        found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
        if not found:
            raise RuntimeError(f"no PostgreSQL {name} under /usr/lib/postgresql: install postgresql")
        return found[-1]

    def start(self) -> "Postgres":
        pwfile = self.dir / "pwfile"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        shutil.chown(pwfile, self.account)
        self.as_account(self.bin("initdb"), "-D", str(self.dir / "data"), "--auth=scram-sha-256",
                        "--username=postgres", f"--pwfile={pwfile}", "--encoding=UTF8", "--no-locale",
                        "--no-sync")
        pwfile.unlink()
        return self.restart()

    def restart(self) -> "Postgres":
        """Starts the server on its data directory, as after `crash`."""
        self.spawn(self.bin("postgres"), "-D", str(self.dir / "data"), "-p", str(self.port),
                   "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                   "-c", "fsync=off")
        self.wait_until(lambda: self.client(self.admin_user, ADMIN_PASSWORD, "SELECT 1").returncode == 0)
        return self

    def crash(self) -> None:
        """The immediate shutdown (SIGQUIT): every backend ends at once, without a checkpoint,
        and the next start recovers from the write-ahead log, as after a power cut."""
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        # SIGQUIT: the immediate shutdown, which takes the postmaster's children along.
        super().stop(signal.SIGQUIT)

    def client(self, user, password, statement):
        env = {"PATH": os.environ["PATH"], "HOME": str(self.dir), "PGPASSWORD": password,
               "PGCLIENTENCODING": "UTF8", "PGCONNECT_TIMEOUT": "10", "PGSSLMODE": "disable"}
        return subprocess.run(
            ["psql", "-X", "-w", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", user, "-d", "postgres", "-c", statement],
            env=env, capture_output=True, text=True, timeout=30,
        )

    def create_user(self, name: str, password: str) -> None:
        self.admin_sql(f'CREATE ROLE "{name}" LOGIN PASSWORD {sql_literal(password, False)}')

    def dbname(self, username: str) -> str:
        return "postgres"


class MariaDB(Server):
    engine = "mariadb"
    account = "mysql"
    admin_user = "root"
    auth_failed = ("ERROR 1045",)

    def start(self) -> "MariaDB":
        data = self.dir / "data"
        # The default root authentication, unix_socket: root has no password that works over TCP.
        self.as_account("mariadb-install-db", "--no-defaults", f"--datadir={data}",
                        "--skip-test-db", "--skip-name-resolve")
        socket = self.dir / "mysqld.sock"
        self.spawn("mariadbd", "--no-defaults", f"--datadir={data}", f"--port={self.port}",
                   "--bind-address=127.0.0.1", f"--socket={socket}", "--skip-networking=0",
                   f"--pid-file={self.dir / 'mysqld.pid'}", "--skip-name-resolve",
                   "--character-set-server=utf8mb4", "--innodb-flush-log-at-trx-commit=0")

        def as_root(statement: str) -> subprocess.CompletedProcess:
            return subprocess.run(["mariadb", "--no-defaults", f"--socket={socket}", "-u", "root", "-e", statement],
                                  capture_output=True, text=True, timeout=30)

        self.wait_until(lambda: as_root("SELECT 1").returncode == 0)
        # The superuser over TCP, with a password.
        result = as_root(f"CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY {sql_literal(ADMIN_PASSWORD, True)};"
                         "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        if result.returncode != 0:
            raise RuntimeError(f"cannot create the TCP superuser: {result.stderr}")
        return self

    def client(self, user, password, statement):
        return subprocess.run(
            ["mariadb", "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", str(self.port),
             "--connect-timeout=10", "--default-character-set=utf8mb4", "-u", user, f"--password={password}",
             "-N", "-B", "-e", statement],
            env={"PATH": os.environ["PATH"], "HOME": str(self.dir)}, capture_output=True, text=True, timeout=30,
        )

    def create_user(self, name: str, password: str) -> None:
        """`name`@`%` with a database of the same name."""
        self.admin_sql(f"CREATE USER '{name}'@'%' IDENTIFIED BY {sql_literal(password, True)};"
                       f"CREATE DATABASE `{name}`; GRANT ALL ON `{name}`.* TO '{name}'@'%'")

    def dbname(self, username: str) -> str:
        return username
