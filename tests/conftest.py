"""Shared fixtures: the shipped glossary, built once per session (it is immutable)."""

from __future__ import annotations

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
