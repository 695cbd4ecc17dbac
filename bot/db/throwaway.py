"""A throwaway PostgreSQL server: the test suite's and the cluster benchmark's, started and removed by them.

The server runs from a temporary directory, listens only on a Unix socket inside it (no TCP port to race
for) and has fsync off (nothing in it must survive). Its binaries come from, in order: IMMUNOBOT_PG_BINDIR,
`pg_config --bindir`, /usr/lib/postgresql/*/bin, or the `pgserver` wheel that scripts/bootstrap.sh installs
on machines without them. PostgreSQL refuses to run as root, so under root the server runs as `nobody`.
Not for production data: see README "Running at scale" for a real server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

NO_SERVER = (
    "No PostgreSQL server binaries for the tests: install them (Debian: apt-get install postgresql) "
    "or the wheel (pip install 'pgserver>=0.1.4,<0.2'; scripts/bootstrap.sh does this itself)."
)
SERVER_USER_WHEN_ROOT = "nobody"
SUPERUSER = "postgres"  # the database role, not a system user
SHARED_DATABASE = "immunobot_tests"


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _reachable_by_others(directory: Path) -> bool:
    """Can a user other than the owner run programs from `directory` (every folder on the way searchable)?"""
    resolved = directory.resolve()
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in (resolved, *resolved.parents))


def find_bindir() -> Path | None:
    """Return a directory holding initdb, pg_ctl and postgres, or None when this machine has none."""
    if os.environ.get("IMMUNOBOT_PG_BINDIR"):  # an explicit choice is the only place looked at
        chosen = Path(os.environ["IMMUNOBOT_PG_BINDIR"])
        return chosen if _has_server(chosen) else None
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            output = subprocess.run(  # noqa: S603 - the PATH's own pg_config, fixed arguments
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout
            candidates.append(Path(output.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    candidates.extend(versions)
    wheel = importlib.util.find_spec("pgserver")
    if wheel is not None and wheel.submodule_search_locations:
        candidates.extend(Path(location) / "pginstall" / "bin" for location in wheel.submodule_search_locations)
    return next((candidate for candidate in candidates if _has_server(candidate)), None)


@dataclass
class PostgresServer:
    """One running cluster; `new_database()` hands each test an empty database of its own."""

    bindir: Path
    root: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _process_user: tuple[int, int] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def _run(self, *arguments: str, as_server: bool = True) -> None:
        user = self._process_user if as_server else None
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own tools from the chosen bindir
            arguments,
            capture_output=True,
            text=True,
            check=False,
            user=user[0] if user else None,
            group=user[1] if user else None,
            extra_groups=[] if user else None,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PGHOST": str(self.socket_dir), "PGUSER": SUPERUSER},
        )
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split())[-400:]
            raise RuntimeError(f"{Path(arguments[0]).name} failed: {detail}")

    def start(self) -> None:
        """initdb and start the server; raise RuntimeError with the tool's own message when that fails."""
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER_WHEN_ROOT)
            self._process_user = (account.pw_uid, account.pw_gid)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            if not _reachable_by_others(self.bindir):  # the wheel in a virtualenv under /root: copy it out
                package = self.bindir.parents[1]  # <site-packages>/pgserver, with pginstall/bin inside
                for part in (package, package.with_name(package.name + ".libs")):  # .libs: its shared libraries
                    if part.is_dir():
                        shutil.copytree(part, self.root / "wheel" / part.name, symlinks=True)
                self.bindir = self.root / "wheel" / self.bindir.relative_to(package.parent)
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server at once and remove every file it had (idempotent)."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self) -> str:
        """Return the DATABASE_URL of a new, empty database of this server.

        Each is a login role whose search_path is a schema of its own, in one shared database: as isolated
        for the bot as a database, and made in milliseconds where CREATE DATABASE takes half a second.
        """
        name = f"test_{next(self._names)}"
        if name == "test_1":
            self.sql(f"CREATE DATABASE {SHARED_DATABASE} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'")
        self.sql(
            f"CREATE ROLE {name} LOGIN; ALTER ROLE {name} SET search_path = {name}; "
            f"CREATE SCHEMA {name} AUTHORIZATION {name}",
            database=SHARED_DATABASE,
        )
        return f"postgresql://{name}@/{SHARED_DATABASE}?host={self.socket_dir}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement through psql as the superuser."""
        self._run(str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", statement,
                  as_server=False)  # fmt: skip
