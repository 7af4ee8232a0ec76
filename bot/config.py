"""Settings from PAPERBOY_* environment variables and an optional .env file."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.schedule import SCHEDULE_USAGE, parse_schedule

if TYPE_CHECKING:
    # Imported where used: httpx is no part of reading the settings (`paperboy stats`).
    from bot.fetch import FetchPolicy

# Hugging Face's daily papers: what paperboy ingests when no sources are configured.
DEFAULT_SOURCE = "https://huggingface.co/api/daily_papers"
# Telegram's broadcast limit for bots without paid broadcasts.
FREE_RATE_LIMIT = 30
# A token is under 100 bytes; the file is read no further than this.
TOKEN_FILE_MAX_BYTES = 4096
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What @BotFather hands out: the bot's id, a colon, then letters, digits, - and _.
TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
# The databases paperboy runs on (postgres:// as some hosts write it); a driver may be named.
DATABASE_SCHEMES = re.compile(r"(sqlite|postgresql|postgres)(\+\w+)?://")
DATABASE_USAGE = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE"
# The password in a database URL: scheme://user:PASSWORD@host.
_URL_PASSWORD = re.compile(r"^[\w+.-]+://[^:/@]*:([^@]*)@")


def _not(value: str) -> str:
    """The bad value, quoted in an error when it is short: a long one may be a secret pasted
    into the wrong variable (the token), and errors are printed and logged."""
    return f", not {value!r}" if len(value) <= SHOWN_VALUE else ""


SHOWN_VALUE = 20


class ConfigError(Exception):
    """The configuration cannot work; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PAPERBOY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///data/paperboy.db"
    http_timeout: float = Field(default=30.0, gt=0)
    http_retries: int = Field(default=3, ge=0, le=10)
    http_backoff: float = Field(default=1.0, ge=0)
    http_deadline: float | None = Field(default=None, gt=0)
    max_page_bytes: int = Field(default=20_000_000, gt=0)
    log_level: str = "INFO"
    allow_private_sources: bool = False
    bot_token: SecretStr | None = None
    bot_token_file: Path | None = None
    bot_api_url: str = "https://api.telegram.org"
    admin_ids: Annotated[list[int], NoDecode] = []
    sources: Annotated[list[str], NoDecode] = [DEFAULT_SOURCE]
    ingest_interval: float = Field(default=3600.0, ge=60)
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    digest_max: int = Field(default=10, ge=1, le=50)
    recommend_max: int = Field(default=3, ge=0, le=10)
    # The sentence model of the recommender (`paperboy model fetch`); without it, words alone.
    model_dir: Path = Path("data/model")
    rate_limit: float = Field(default=25.0, gt=0, le=1000)
    paid_broadcasts: bool = False
    telegram_timeout: float = Field(default=10.0, gt=0)
    metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    metrics_host: str = "127.0.0.1"
    # The schedule of new subscribers, as /schedule takes it; stored as bot/schedule.py does.
    default_schedule: str = "daily"

    @model_validator(mode="after")
    def _within_telegram_limits(self) -> Settings:
        if self.rate_limit > FREE_RATE_LIMIT and not self.paid_broadcasts:
            raise ValueError(
                f"PAPERBOY_RATE_LIMIT={self.rate_limit:g} is above Telegram's "
                f"{FREE_RATE_LIMIT} messages/s; set PAPERBOY_PAID_BROADCASTS=true only if "
                "the bot has paid broadcasts enabled"
            )
        return self

    @field_validator("*", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object, info: ValidationInfo) -> object:
        # An empty variable (PAPERBOY_X=) means the default, as if it were not set; only an
        # empty PAPERBOY_SOURCES means what it says: no sources.
        if isinstance(value, str) and not value.strip() and info.field_name != "sources":
            raise PydanticUseDefault()
        return value

    @field_validator("log_level")
    @classmethod
    def _a_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}{_not(value)}")
        return value.strip().upper()

    @field_validator("database_url")
    @classmethod
    def _a_database(cls, value: str) -> str:
        value = value.strip()
        if not DATABASE_SCHEMES.match(value):
            # Only the scheme: the rest may hold a password.
            scheme = value.split("://", 1)[0] if "://" in value else "a URL without a scheme"
            raise ValueError(f"expected {DATABASE_USAGE}, not {scheme}")
        return value

    @field_validator("bot_api_url", "webhook_url")
    @classmethod
    def _a_web_address(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Telegram posts updates to HTTPS only; a self-hosted Bot API server may be plain HTTP.
        schemes = ("https://",) if info.field_name == "webhook_url" else ("http://", "https://")
        if value is not None and not value.strip().lower().startswith(schemes):
            raise ValueError(f"expected a URL starting with {' or '.join(schemes)}")
        return value.strip() if value is not None else None

    @field_validator("bot_token")
    @classmethod
    def _a_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_token(value.get_secret_value().strip())
        return value

    @field_validator("default_schedule")
    @classmethod
    def _a_schedule(cls, value: str) -> str:
        # An empty variable means the default, as everywhere else.
        schedule = parse_schedule(value or "daily")
        if schedule is None:
            raise ValueError(f"expected {SCHEDULE_USAGE} (DAY as monday or mon){_not(value)}")
        return schedule.stored

    @field_validator("admin_ids", "sources", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def token(self) -> str:
        """The bot token, from PAPERBOY_BOT_TOKEN or the file PAPERBOY_BOT_TOKEN_FILE names."""
        if self.bot_token is not None:
            return self.bot_token.get_secret_value().strip()
        if self.bot_token_file is not None:
            from bot.fetch import FetchError, read_file

            try:
                token = read_file(self.bot_token_file, TOKEN_FILE_MAX_BYTES).decode().strip()
            except FetchError as exc:
                raise ConfigError(f"cannot read PAPERBOY_BOT_TOKEN_FILE: {exc}") from None
            except UnicodeDecodeError:
                raise ConfigError("PAPERBOY_BOT_TOKEN_FILE is not UTF-8 text") from None
            try:
                return _check_token(token)
            except ValueError as exc:
                raise ConfigError(f"PAPERBOY_BOT_TOKEN_FILE: the token {exc}") from None
        raise ConfigError("no bot token: set PAPERBOY_BOT_TOKEN or PAPERBOY_BOT_TOKEN_FILE")

    def secrets(self) -> list[str]:
        """What no message may show: the bot token and the database password, if any."""
        found = []
        with contextlib.suppress(ConfigError):
            found.append(self.token())
        if (password := database_password(self.database_url)) is not None:
            # As written, and as a driver may quote it back (%40 read as @).
            found += [password, unquote(password)]
        return found

    def fetch_policy(self, chat_sources: Iterable[str] = ()) -> FetchPolicy:
        """How to fetch; `chat_sources` (added with /sources add) may reach only public
        addresses, unless PAPERBOY_ALLOW_PRIVATE_SOURCES is set."""
        from bot.fetch import FetchPolicy

        return FetchPolicy(
            timeout=self.http_timeout,
            retries=self.http_retries,
            backoff=self.http_backoff,
            max_bytes=self.max_page_bytes,
            deadline=self.http_deadline,
            untrusted=frozenset() if self.allow_private_sources else frozenset(chat_sources),
        )


def _check_token(token: str) -> str:
    # The token itself is never part of the message: a mistyped token is still mostly secret.
    if not token:
        raise ValueError("is empty")
    if not TOKEN_SHAPE.fullmatch(token):
        raise ValueError(
            "does not look like a bot token (the bot's id, a colon, then letters, digits, "
            "- and _, as @BotFather gives it)"
        )
    return token


def database_password(url: str) -> str | None:
    """The password in a database URL, so that messages can leave it out."""
    found = _URL_PASSWORD.match(url)
    return found.group(1) if found and found.group(1) else None
