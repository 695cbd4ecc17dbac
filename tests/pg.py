"""The test suite's throwaway PostgreSQL server (bot/db/throwaway.py): started on first use, removed when the
session ends. Without any server the run stops with one line that says what to install; these tests are never
skipped.
"""

from __future__ import annotations

import atexit
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.throwaway import NO_SERVER, PostgresServer, find_bindir

__all__ = ["NO_SERVER", "PostgresServer", "database_url", "postgres_server", "postgres_url", "start_server"]


def start_server() -> PostgresServer:
    """Start a throwaway server; stop the pytest run with one line when none can be had."""
    bindir = find_bindir()
    if bindir is None:
        pytest.exit(NO_SERVER, returncode=3)
    server = PostgresServer(bindir, Path(tempfile.mkdtemp(prefix="immunobot-pg-")))
    atexit.register(server.stop)  # also after an interrupted run
    try:
        server.start()
    except (RuntimeError, OSError, KeyError) as error:
        server.stop()
        pytest.exit(f"The test PostgreSQL server (from {bindir}) did not start: {error}", returncode=3)
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's throwaway PostgreSQL server."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """DATABASE_URL of a new, empty PostgreSQL database for this test."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """DATABASE_URL of a new, empty database on each backend in turn: a test using it runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'immunobot.db'}"
    return request.getfixturevalue("postgres_url")
