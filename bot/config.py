"""Settings from PAPERBOY_* environment variables and an optional .env file."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.fetch import FetchPolicy


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

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            timeout=self.http_timeout,
            retries=self.http_retries,
            backoff=self.http_backoff,
            max_bytes=self.max_page_bytes,
        )
