"""Choosing the store (DATABASE_URL), one process per SQLite file, and the tests' own PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, DatabaseUrl, load_settings
from tests.core.test_cli import ROOT, run_bot
from tests.pg import NO_SERVER


@pytest.fixture(autouse=True)
def _no_database_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "DATABASE_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_database_url_chooses_the_backend(tmp_path: Path) -> None:
    """Unset → DATABASE_PATH's SQLite file; sqlite:/// → that file; postgresql:// → asyncpg, password hidden."""
    assert load_settings(database_path=tmp_path / "a.db").database == DatabaseUrl.sqlite(tmp_path / "a.db")
    relative = load_settings(database_url="sqlite:///data/bot.db")
    assert (relative.database.backend, relative.database_path) == ("sqlite", Path("data/bot.db"))
    absolute = load_settings(database_url=f"sqlite:///{tmp_path}/b.db")
    assert absolute.database.sqlite_path == tmp_path / "b.db" == absolute.database_path
    postgres = load_settings(database_url="postgres://bot:s3cret@db.example:5433/immunobot").database
    assert postgres.backend == "postgresql"
    assert postgres.url.drivername == "postgresql+asyncpg"
    assert (postgres.url.host, postgres.url.port, postgres.url.database) == ("db.example", 5433, "immunobot")
    assert str(postgres) == "postgresql://bot:***@db.example:5433/immunobot"
    assert DatabaseUrl.parse("postgresql://bot@/immunobot?host=/run/pg").url.query == {"host": "/run/pg"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://db/immunobot", "has the scheme 'mysql'"),
        ("postgresql://bot:s3cret@db", "names no database"),
        ("sqlite://", "names no file"),
        ("postgresql+psycopg://db/immunobot", "driver must be asyncpg"),
        ("just words", "is not a URL"),
    ],
)
def test_bad_database_url_is_one_clear_error(value: str, message: str) -> None:
    """Each malformed DATABASE_URL is named with what is wrong, never echoing a password."""
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(database_url=value)
    assert str(raised.value).startswith("Invalid configuration: DATABASE_URL: ")
    assert "s3cret" not in str(raised.value)


def test_database_url_and_path_that_disagree_are_refused(tmp_path: Path) -> None:
    """Two different SQLite files named at once is a mistake to report, not to guess about."""
    with pytest.raises(ConfigError, match="disagree; set one"):
        load_settings(database_url="sqlite:///one.db", database_path=Path("two.db"))
    same = load_settings(database_url="sqlite:///one.db", database_path=Path("one.db"))
    assert same.database_path == Path("one.db")


def test_bad_database_url_stops_the_command_line_in_one_line(tmp_path: Path) -> None:
    """`python -m bot` with a malformed DATABASE_URL exits 2 with one line and creates no database."""
    result = run_bot("load", cwd=tmp_path, env={"DATABASE_URL": "postgresql://bot:s3cret@db"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Invalid configuration: DATABASE_URL: names no database; use postgresql://user:password@host:5432/database"
    ]
    assert list(tmp_path.iterdir()) == []


def test_load_into_postgresql_then_again_changes_nothing(tmp_path: Path, postgres_url: str) -> None:
    """`python -m bot load` with DATABASE_URL=postgresql://… migrates and fills that database; a second load
    finds every entry unchanged. No SQLite file is made."""
    environment = {"DATABASE_URL": postgres_url}
    first = run_bot("load", cwd=tmp_path, env=environment)
    assert first.returncode == 0, first.stderr
    assert "unchanged" in first.stdout
    assert " 0 added" not in first.stdout
    again = run_bot("load", cwd=tmp_path, env=environment)
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 changed," in again.stdout
    assert not list(tmp_path.glob("*.db"))


def test_unreachable_postgresql_stops_in_one_line(tmp_path: Path) -> None:
    """A PostgreSQL server that is not there: exit 1 with one line naming the database, no traceback."""
    url = f"postgresql://bot@/immunobot?host={tmp_path / 'no-server'}"
    result = run_bot("load", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cannot open the database postgresql://bot@/immunobot")


def test_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    """While one bot runs on a file, another is refused in one line pointing at PostgreSQL; after `kill -9` of
    the first, the file is free again (the lock is the kernel's, never stale)."""
    environment = {key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"}
    environment["PYTHONPATH"] = str(ROOT)
    first = subprocess.Popen(
        [sys.executable, "-m", "bot"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        cwd=tmp_path, env=environment, text=True,
    )  # fmt: skip
    try:
        assert first.stderr is not None
        assert "starting the offline console" in first.stderr.readline()  # printed once the lock is held
        second = run_bot(cwd=tmp_path, stdin="/define bcg\n")
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"Another Immunobot process (pid {first.pid}) is using the SQLite database immunobot.db; SQLite serves "
            "one process, so to run several set DATABASE_URL=postgresql://... for all of them."
        ]
        assert "BCG" not in second.stdout
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    third = subprocess.run(
        [sys.executable, "-c", "from pathlib import Path; from bot.db.lock import hold_sqlite_lock; "
         "hold_sqlite_lock(Path('immunobot.db')); print('held')"],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=60, check=False,
    )  # fmt: skip
    assert (third.returncode, third.stdout) == (0, "held\n"), third.stderr


def test_no_postgresql_server_fails_the_run_in_one_line(tmp_path: Path) -> None:
    """Without server binaries the test run stops with one line saying what to install: never a skip."""
    (tmp_path / "conftest.py").write_text("from tests.pg import postgres_server, postgres_url  # noqa: F401\n")
    (tmp_path / "test_needs_postgres.py").write_text("def test_it(postgres_url):\n    assert postgres_url\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "IMMUNOBOT_PG_BINDIR": str(tmp_path / "nothing")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_needs_postgres.py"],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 3
    assert [line.strip("! ") for line in output.splitlines() if "PostgreSQL" in line] == [
        f"_pytest.outcomes.Exit: {NO_SERVER}"
    ]
    assert "Traceback" not in output
    assert "skipped" not in output
