"""Shared fixtures: the shipped glossary, built once per session (it is immutable).

Tests that run against the stand-in need Discord's OpenAPI spec (``../shared/discord-api/openapi.json``
or ``$STANDIN_DISCORD_SPEC``): without it the run stops at once with one message instead of a failure per test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.glossary import Glossary
from bot.loader import GlossaryData, load_glossary
from tests.pg import database_url, postgres_server, postgres_url  # noqa: F401 - fixtures for every test


@pytest.fixture(scope="session")
def shipped_data() -> GlossaryData:
    """The validated shipped data files."""
    return load_glossary()


@pytest.fixture(scope="session")
def glossary(shipped_data: GlossaryData) -> Glossary:
    """The glossary view of the shipped data."""
    return Glossary((item.concept for item in shipped_data.concepts), shipped_data.documents)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stand-in tests are judged by Discord's spec: refuse to run them without it."""
    here = Path(__file__).parent
    if not any(Path(str(item.path)).is_relative_to(here / "e2e") or Path(str(item.path)).is_relative_to(here / "standin")
               for item in items):  # fmt: skip
        return
    from standin.spec import SpecMissingError, load_spec

    try:
        load_spec()
    except SpecMissingError as exc:
        pytest.exit(str(exc), returncode=4)
