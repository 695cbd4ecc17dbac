"""Typed configuration from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line a host can act on."""


class Settings(BaseSettings):
    """Everything a host can set. Names are the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = Field(default=None, description="Bot token; without one the console starts.")
    database_path: Path = Field(default=Path("immunobot.db"), description="SQLite database file.")
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
    owner_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), description="Comma-separated user ids with owner rights besides the application owner."
    )

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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

    @property
    def log_level_number(self) -> int:
        """Return the logging module's number for the configured level."""
        return logging.getLevelNamesMapping()[self.log_level]


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line per bad setting (never echoing a secret)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_input=False):
            name = str(detail["loc"][0]).upper() if detail["loc"] else "settings"
            problems.append(f"{name}: {detail['msg']}")
        raise ConfigError("Invalid configuration: " + "; ".join(problems)) from None
