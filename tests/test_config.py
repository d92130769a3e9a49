"""The suite's own settings: whatever a developer's shell or `.env` say, the tests see the defaults."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import AliasChoices, AliasPath, Field, ValidationError
from pydantic_settings import SettingsConfigDict

from bot.config import ENV_FILE_VARIABLE, Settings
from tests.conftest import isolate_settings, setting_variables

# A value other than the default for every setting, as a developer might have in their shell or `.env`.
# RERANK_MODEL has one valid value, its default: any other is a name the bot cannot run.
HOSTILE = {
    "corpus_dir": "/hostile/corpus",
    "top_k": "7",
    "max_question_chars": "42",
    "max_excerpt_chars": "123",
    "cache_dir": "/hostile/cache",
    "use_cache": "false",
    "cache_max_mb": "2",
    "fetch_timeout_seconds": "1.5",
    "fetch_max_bytes": "1000",
    "fetch_allow_private": "true",
    "max_document_bytes": "1000",
    "rerank": "false",
    "rerank_model": "gpt-17",
    "rerank_max_sentences": "10",
    "reader": "false",
    "reader_candidates": "7",
    "reader_threads": "3",
    "discord_token": "hostile-token",
    "discord_guild_id": "1234",
    "shard_count": "4",
    "shard_ids": "0-1",
    "ask_cooldown_rate": "9",
    "ask_cooldown_seconds": "3",
    "log_level": "DEBUG",
    "feedback_db": "/hostile/feedback.sqlite3",
    "feedback_retention_days": "7",
    "corpus_db": "postgresql://hostile@127.0.0.1:1/corpus",
    "watch_corpus": "false",
    "reload_settle_seconds": "5",
    "servers_dir": "/hostile/servers",
    "server_max_documents": "3",
    "server_max_bytes": "1000",
    "server_adds_per_hour": "2",
    "server_retention_days": "0",
    "metrics_host": "192.0.2.1",
    "metrics_port": "9999",
}

# What a process started by a test sees: its settings as Python writes them (a secret's repr hides it,
# an address's shows it without its password: enough to tell a hostile one from the default).
SHOW = "from bot.config import Settings; print(repr(Settings().model_dump()))"


def read(field: str) -> object:
    """One setting as Settings() reads it here and now; a value it rejects reads as the error."""
    try:
        return getattr(Settings(), field)
    except ValidationError as exc:
        return exc


@pytest.mark.parametrize("spell", [str.upper, str.lower], ids=["upper case", "lower case"])
def test_the_suites_settings_ignore_a_hostile_environment_and_env_file(
    spell: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert HOSTILE.keys() == Settings.model_fields.keys()  # a new setting needs a hostile value here
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    # A developer's shell (which knows nothing of the tests' variable) started in a folder with a `.env`.
    monkeypatch.delenv(ENV_FILE_VARIABLE)
    monkeypatch.chdir(tmp_path)
    # Each hostile value, alone, is read (from the environment, then from `.env`) and is not the default.
    for field, value in HOSTILE.items():
        monkeypatch.setenv(spell(field), value)
        assert read(field) != defaults[field], f"{spell(field)}={value} in the environment"
        monkeypatch.delenv(spell(field))
        (tmp_path / ".env").write_text(f"{field.upper()}={value}\n", encoding="utf-8")
        assert read(field) != defaults[field], f"{field.upper()}={value} in .env"
    # Then all of them at once, in both places.
    lines = [f"{field.upper()}={value}\n" for field, value in HOSTILE.items()]
    (tmp_path / ".env").write_text("".join(lines), encoding="utf-8")
    for field, value in HOSTILE.items():
        monkeypatch.setenv(spell(field), value)

    isolate_settings(monkeypatch)

    assert Settings().model_dump() == defaults
    # A process a test starts inherits the environment and the working folder, `.env` and all.
    child = subprocess.run(
        [sys.executable, "-c", SHOW], capture_output=True, text=True, timeout=60, check=False
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == repr(Settings().model_dump())


class Aliased(Settings):
    """Settings with a prefix and aliases of each kind, to check their variables' names."""

    model_config = SettingsConfigDict(env_prefix="HOSTILE_", env_prefix_target="all")

    top_k: int = Field(default=3, validation_alias=AliasChoices("K", AliasPath("ANSWER", "k")))
    max_excerpt_chars: int = Field(default=500, validation_alias="EXCERPT")


def test_setting_variables_follow_prefixes_and_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    names = setting_variables(Aliased)
    assert {"hostile_k", "hostile_answer", "hostile_excerpt", "hostile_use_cache"} <= names
    assert not names & {"k", "top_k", "excerpt", "use_cache", "hostile_top_k"}  # names it does not read
    # Each name derived is one pydantic-settings reads.
    for name, value, field, expected in [
        ("HOSTILE_K", "7", "top_k", 7),
        ("HOSTILE_ANSWER", '{"k": 8}', "top_k", 8),
        ("HOSTILE_EXCERPT", "123", "max_excerpt_chars", 123),
        ("HOSTILE_USE_CACHE", "false", "use_cache", False),
    ]:
        assert name.lower() in names
        with monkeypatch.context() as inner:
            inner.setenv(name, value)
            assert getattr(Aliased(), field) == expected, name
    monkeypatch.setenv("HOSTILE_TOP_K", "7")  # not read: the field's aliases replace its name
    assert Aliased().top_k == 3
