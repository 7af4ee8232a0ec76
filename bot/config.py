"""Settings from PAPERBOY_* environment variables and an optional .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.fetch import FetchPolicy
from bot.schedule import SCHEDULE_USAGE, parse_schedule

# Hugging Face's daily papers: what paperboy ingests when no sources are configured.
DEFAULT_SOURCE = "https://huggingface.co/api/daily_papers"
# Telegram's broadcast limit for bots without paid broadcasts.
FREE_RATE_LIMIT = 30


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
    max_page_bytes: int = Field(default=20_000_000, gt=0)
    log_level: str = "INFO"
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

    @field_validator("default_schedule")
    @classmethod
    def _a_schedule(cls, value: str) -> str:
        # An empty variable means the default, as everywhere else.
        schedule = parse_schedule(value or "daily")
        if schedule is None:
            raise ValueError(f"expected {SCHEDULE_USAGE} (DAY as monday or mon), not {value!r}")
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
            try:
                return self.bot_token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read PAPERBOY_BOT_TOKEN_FILE: {exc.strerror}") from None
        raise ConfigError("no bot token: set PAPERBOY_BOT_TOKEN or PAPERBOY_BOT_TOKEN_FILE")

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            timeout=self.http_timeout,
            retries=self.http_retries,
            backoff=self.http_backoff,
            max_bytes=self.max_page_bytes,
        )
