"""Settings, from the environment and `.env` (see `.env.example` for each one)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's folder: the defaults work from any working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything the bot and the command line can be told; no instance is made at import."""

    # Empty values (`SHARD_COUNT=` as .env.example has them) mean "not set": the default applies.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    top_k: int = Field(default=3, ge=1, le=10)
    max_question_chars: int = Field(default=500, ge=1, le=4000)
    max_excerpt_chars: int = Field(default=500, ge=80, le=1000)
    cache_dir: Path = PROJECT_ROOT / ".cache"
    use_cache: bool = True

    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None
    shard_count: int | None = Field(default=None, ge=1)  # None: as many as Discord recommends
    ask_cooldown_rate: int = Field(default=5, ge=1)
    ask_cooldown_seconds: float = Field(default=30.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    feedback_db: Path = PROJECT_ROOT / "data" / "feedback.sqlite3"
