"""Typed configuration from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.clock import Clock, ScaledClock, SystemClock

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line a host can act on."""


@dataclass(frozen=True)
class DatabaseUrl:
    """Where the store lives: an SQLite file (one process) or a PostgreSQL database (any number of processes)."""

    backend: Literal["sqlite", "postgresql"]
    url: URL  # SQLAlchemy's URL with the async driver: sqlite+aiosqlite or postgresql+asyncpg

    @classmethod
    def sqlite(cls, path: str | Path) -> Self:
        """The SQLite file at `path` (":memory:" for a private in-memory database)."""
        return cls("sqlite", URL.create("sqlite+aiosqlite", database=str(path)))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read `sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://user:pass@host:port/name`.

        Raises ValueError with a message a host can act on (the password is never repeated).
        """
        try:
            url = make_url(text.strip())
        except ArgumentError:
            raise ValueError("is not a URL; use sqlite:///path/to/file.db or postgresql://user@host/database") from None
        scheme, _, driver = url.drivername.partition("+")
        if scheme == "sqlite":
            if driver not in ("", "aiosqlite"):
                raise ValueError(f"the SQLite driver must be aiosqlite, not {driver}")
            if not url.database:
                raise ValueError("names no file; use sqlite:///path/to/file.db (four slashes for an absolute path)")
            return cls.sqlite(url.database)
        if scheme in ("postgresql", "postgres"):
            if driver not in ("", "asyncpg"):
                raise ValueError(f"the PostgreSQL driver must be asyncpg, not {driver}")
            if not url.database:
                raise ValueError("names no database; use postgresql://user:password@host:5432/database")
            return cls("postgresql", url.set(drivername="postgresql+asyncpg"))
        raise ValueError(f"has the scheme {scheme!r}; Immunobot stores its data in sqlite:/// or postgresql://")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and for an in-memory database."""
        if self.backend != "sqlite" or self.url.database in (None, ":memory:"):
            return None
        return Path(self.url.database)

    def __str__(self) -> str:
        """The URL as it may be shown in a log line: without the password."""
        return self.url.set(drivername=self.backend).render_as_string(hide_password=True)


class Settings(BaseSettings):
    """Everything a host can set. Names are the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = Field(default=None, description="Bot token; without one the console starts.")
    database_path: Path = Field(default=Path("immunobot.db"), description="SQLite database file.")
    database_url: DatabaseUrl | None = Field(
        default=None,
        description="sqlite:///file.db (the default, DATABASE_PATH) or postgresql://user:password@host/database.",
    )
    dev_guild_id: int | None = Field(default=None, gt=0, description="Sync commands to this guild only.")
    log_level: str = Field(default="INFO", description="CRITICAL, ERROR, WARNING, INFO or DEBUG.")
    health_file: Path | None = Field(
        default=None, description="File the bot touches every 30 s while connected (for container health checks)."
    )
    discord_api_base: str | None = Field(
        default=None, description="Testing only: REST base of a Discord stand-in (leave unset for Discord)."
    )
    discord_gateway_url: str | None = Field(
        default=None, description="Testing only: gateway URL of a Discord stand-in (leave unset for Discord)."
    )
    test_clock: str | None = Field(
        default=None,
        description="Testing only: the bot's clock reads <ISO time> at <Unix time>, x<speed> faster "
        "(`2026-11-23T06:00:00+00:00@1795932000x60`); leave unset for the real time.",
    )
    owner_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), description="Comma-separated user ids with owner rights besides the application owner."
    )
    shard_count: int | None = Field(
        default=None, gt=0, description="Shards of the whole bot (all processes); unset: Discord's recommendation."
    )
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        default=None, description="Shards this process runs, e.g. 0-3 or 0,2,5 (needs SHARD_COUNT); unset: all."
    )
    daily_claim_lease_seconds: float = Field(
        default=300.0,
        ge=1.0,
        description="How long a process's claim on a daily post holds the others back if it dies mid-send "
        "(must outlast a send, 429 waits included); shorter only for tests and benchmarks.",
    )

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _parse_database_url(cls, value: object) -> object:
        if isinstance(value, str):
            return DatabaseUrl.parse(value) if value.strip() else None
        return value

    @model_validator(mode="after")
    def _one_database(self) -> Self:
        """DATABASE_URL wins; with an SQLite URL, DATABASE_PATH follows it so both name the same file."""
        if self.database_url is None:
            return self
        wanted = self.database_url.sqlite_path
        if self.database_url.backend == "postgresql":
            return self  # DATABASE_PATH then only names the file `migrate-to` copies from
        if "database_path" in self.model_fields_set and wanted != self.database_path:
            raise ValueError(
                f"DATABASE_URL ({self.database_url}) and DATABASE_PATH ({self.database_path}) disagree; set one"
            )
        if wanted is not None:
            self.database_path = wanted
        return self

    @property
    def database(self) -> DatabaseUrl:
        """The store to open: DATABASE_URL, else the SQLite file at DATABASE_PATH."""
        return self.database_url if self.database_url is not None else DatabaseUrl.sqlite(self.database_path)

    @field_validator("test_clock", mode="before")
    @classmethod
    def _valid_clock(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            ScaledClock.parse(value)  # a malformed clock is refused at start, in one line
        return value

    def clock(self) -> Clock:
        """The bot's clock: the machine's, or TEST_CLOCK's shifted and scaled one."""
        return SystemClock() if self.test_clock is None else ScaledClock.parse(self.test_clock)

    @field_validator("dev_guild_id", mode="before")
    @classmethod
    def _blank_guild_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
            for part in parts:
                if not part.isdigit():
                    raise ValueError(f"'{part}' is not a numeric Discord user id")
            return tuple(int(part) for part in parts)
        return value

    @field_validator("shard_count", mode="before")
    @classmethod
    def _blank_count_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_shard_ids(value) if value.strip() else None
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Self:
        """A process runs some shards of a known total: the ids need the count, and each must be below it."""
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT (the number of shards of the whole bot, in every process)")
        too_big = [shard for shard in self.shard_ids if shard >= self.shard_count]
        if too_big:
            raise ValueError(
                f"SHARD_IDS {', '.join(map(str, too_big))} not below SHARD_COUNT {self.shard_count} (ids start at 0)"
            )
        return self

    @property
    def sharded(self) -> bool:
        """Whether the host chose the shards (else one process runs Discord's recommended count)."""
        return self.shard_count is not None

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process runs the shard Discord routes the guild to (all guilds when it runs every shard):
        what its scheduler posts for and which quizzes it recovers."""
        if self.shard_ids is None or self.shard_count is None:
            return True
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    @property
    def share_of_shards(self) -> float:
        """The part of the bot's shards this process runs (1 when it runs them all): its share of what Discord
        limits per bot across every process, such as the global rate of requests."""
        if self.shard_ids is None or self.shard_count is None:
            return 1.0
        return len(set(self.shard_ids)) / self.shard_count

    @property
    def log_level_number(self) -> int:
        """Return the logging module's number for the configured level."""
        return logging.getLevelNamesMapping()[self.log_level]


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """Read shard ids as a host writes them: `0-3`, `0,2,5` or a mix (`0-1,4`); sorted, each once."""
    ids: set[int] = set()
    for part in (part.strip() for part in text.replace(";", ",").split(",")):
        first, dash, last = part.partition("-")
        if not first.strip().isdigit() or (dash and not last.strip().isdigit()):
            raise ValueError(f"'{part}' is not a shard id or a range like 0-3")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"the range '{part}' runs backwards")
        ids.update(range(low, high + 1))
    return tuple(sorted(ids))


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line per bad setting (never echoing a secret)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_input=False):
            message = str(detail["msg"]).removeprefix("Value error, ")
            # A rule across settings (no location) names the settings itself.
            problems.append(f"{str(detail['loc'][0]).upper()}: {message}" if detail["loc"] else message)
        raise ConfigError("Invalid configuration: " + "; ".join(problems)) from None
