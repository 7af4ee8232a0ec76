"""Settings from PAPERBOY_* environment variables and an optional .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.fetch import FetchPolicy


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
    sources: Annotated[list[str], NoDecode] = []
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    digest_max: int = Field(default=10, ge=1, le=50)

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
