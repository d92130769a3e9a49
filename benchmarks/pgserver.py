"""A PostgreSQL server for the tests and the benchmarks: an existing one (`TEST_DATABASE_URL`), or a
throwaway cluster made with `initdb` in a temporary folder and run with `pg_ctl` on a free port on
127.0.0.1, as the `postgres` system user when running as root (PostgreSQL refuses to run as root).

Debian's `postgresql` package puts the programs in /usr/lib/postgresql/VERSION/bin, off the PATH;
`.ci/run` installs the package where they are missing.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class ServerError(Exception):
    """No server could be had; the message says why."""


def _program(name: str) -> str | None:
    """A PostgreSQL program on the PATH, or in the newest of Debian's version folders."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    return None


def _version(folder: str) -> tuple[int, ...]:
    return tuple(int(p) for p in Path(folder).parent.name.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server the tests may make databases on: `database()` gives a fresh one's address."""

    def __init__(self, url: str) -> None:
        self.url = url  # an address on the server, with a user allowed to CREATE DATABASE
        self._names = itertools.count(1)
        self._prefix = f"articlebot_{os.getpid()}_"

    @property
    def can_restart(self) -> bool:
        """Whether `restart` can stop and start the server (only a cluster of our own)."""
        return False

    def restart(self) -> None:
        raise ServerError("an existing server (TEST_DATABASE_URL) is not restarted by the tests")

    def halt(self) -> None:
        raise ServerError("an existing server (TEST_DATABASE_URL) is not stopped by the tests")

    def resume(self) -> None:
        raise ServerError("an existing server (TEST_DATABASE_URL) is not started by the tests")

    def address(self, database: str) -> str:
        """This server's address for `database`."""
        return urllib.parse.urlsplit(self.url)._replace(path=f"/{database}").geturl()

    def database(self) -> str:
        """A new, empty database; its address."""
        import psycopg

        name = f"{self._prefix}{next(self._names)}"
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.address(name)

    def stop(self) -> None:
        """Drop the databases made here (a cluster of our own goes whole)."""
        import psycopg

        with contextlib.suppress(psycopg.Error), psycopg.connect(self.url, autocommit=True) as admin:
            for n in range(1, next(self._names)):
                admin.execute(f'DROP DATABASE IF EXISTS "{self._prefix}{n}" WITH (FORCE)')


class Cluster(Server):
    """A cluster of our own in a temporary folder, stopped and removed by `stop`."""

    def __init__(self) -> None:
        initdb, pg_ctl = _program("initdb"), _program("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise ServerError("initdb and pg_ctl were not found (Debian: apt-get install postgresql)")
        self._pg_ctl = pg_ctl
        self._user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError("running as root and there is no postgres user to run the server") from None
            self._user = "postgres"
        self.folder = Path(tempfile.mkdtemp(prefix="article-bot-pg-"))
        if self._user is not None:
            shutil.chown(self.folder, self._user)
        self.port = _free_port()
        self._run(initdb, "-D", str(self.folder / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")  # fmt: skip
        self._options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._ctl("start", "-o", self._options)
        super().__init__(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")

    def _run(self, *command: str) -> None:
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
                user=self._user,
                cwd=self.folder,
            )
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise ServerError(f"{Path(command[0]).name} failed: {detail[-1] if detail else exc}") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServerError(f"{Path(command[0]).name} failed: {exc}") from None

    def _ctl(self, action: str, *options: str) -> None:
        # The server's own output goes to its log: a pipe it held open would keep `run` waiting.
        log = ("-l", str(self.folder / "server.log")) if action in ("start", "restart") else ()
        self._run(self._pg_ctl, action, "-D", str(self.folder / "data"), "-w", "-t", "120", *log, *options)

    @property
    def can_restart(self) -> bool:
        return True

    def restart(self) -> None:
        """Stop the server (every connection dropped) and start it again on the same port."""
        self._ctl("restart", "-m", "fast")

    def halt(self) -> None:
        """Stop the server, keeping its data, until `resume`."""
        self._ctl("stop", "-m", "fast")

    def resume(self) -> None:
        """Start the halted server again, on the same port."""
        self._ctl("start", "-o", self._options)

    def stop(self) -> None:
        with contextlib.suppress(ServerError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """`TEST_DATABASE_URL`'s server, or a new cluster of our own; ServerError says why neither."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return Server(url)
    return Cluster()


@contextlib.contextmanager
def running() -> Iterator[Server]:
    """A server for the length of the block."""
    server = start()
    try:
        yield server
    finally:
        server.stop()


def describe(server: Any) -> str:
    """Which server, for a benchmark's report."""
    return "a throwaway cluster (initdb, 127.0.0.1)" if isinstance(server, Cluster) else "TEST_DATABASE_URL"
