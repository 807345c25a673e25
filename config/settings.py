"""Otvet's settings: environment variables prefixed ``OTVET_``, a ``.env`` file, or ``otvet.toml``.

Nested sections use a double underscore: ``OTVET_EXTRACTIVE__MIN_RELEVANCE=0.4``. Third-party plugins read
their own section from ``plugin_settings`` (``OTVET_PLUGIN_SETTINGS__MYPLUGIN__KEY=value``) with
:meth:`Settings.for_plugin`, which validates it against the plugin's own pydantic model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

M = TypeVar("M", bound=BaseModel)


class ExtractiveSettings(BaseModel):
    """The built-in extractive answerer (no external service)."""

    #: Below this relevance (0..1, the share of the question's weighted terms a passage covers) Otvet says
    #: it does not know instead of guessing.
    min_relevance: float = Field(0.5, ge=0.0, le=1.0)
    #: A stored Q&A pair answers directly when its question covers at least this share of the user's.
    qa_min_relevance: float = Field(0.75, ge=0.0, le=1.0)
    #: How many sentences an extractive answer quotes at most.
    max_sentences: int = Field(3, ge=1, le=20)
    #: Simulated streaming: the answer is emitted in pieces of about this many characters.
    chunk_chars: int = Field(48, ge=1)


class RetrievalSettings(BaseModel):
    """Which retriever runs and how many passages reach the provider."""

    retriever: str = "bm25"
    top_k: int = Field(5, ge=1, le=100)
    #: How often (seconds) a process checks the database for a newly activated knowledge version.
    refresh_seconds: float = Field(5.0, ge=0.0)


class HistorySettings(BaseModel):
    """How much of the conversation the provider sees."""

    max_messages: int = Field(12, ge=0)
    max_tokens: int = Field(1500, ge=0)


class TelegramSettings(BaseModel):
    """The Telegram bot (``otvet telegram`` for long polling, or the webhook inside ``otvet serve``)."""

    #: The token @BotFather gives; empty disables the Telegram frontend.
    token: SecretStr = SecretStr("")
    #: ``polling`` (``otvet telegram``) or ``webhook`` (``/telegram/webhook`` in ``otvet serve``).
    mode: Literal["polling", "webhook"] = "polling"
    #: The public HTTPS URL Telegram posts updates to, e.g. ``https://bot.example.com/telegram/webhook``.
    webhook_url: str = ""
    #: Checked against the ``X-Telegram-Bot-Api-Secret-Token`` header of every webhook request.
    secret_token: SecretStr = SecretStr("")
    #: Only these users / chats may talk to the bot (empty: everyone).
    allowed_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    allowed_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    #: Users allowed to run the bot-side admin commands.
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    #: Seconds between edits of a streamed answer: Telegram allows about one message per second per chat
    #: and twenty per minute in a group.
    private_edit_interval: float = Field(1.0, ge=0.0)
    group_edit_interval: float = Field(3.0, ge=0.0)
    #: Space requests within Telegram's flood limits and wait out RetryAfter (python-telegram-bot's
    #: AIORateLimiter). Turn off only for a self-hosted Bot API server that has no limits.
    rate_limit: bool = True
    #: The Bot API server (change for a self-hosted Bot API server, or a fake one in tests).
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"

    @field_validator("allowed_user_ids", "allowed_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (
                json.loads(value)
                if value.lstrip().startswith("[")
                else [v for v in value.split(",") if v.strip()]
            )
        return value


class Settings(BaseSettings):
    """All of Otvet's configuration. Every field can be set as ``OTVET_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="OTVET_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        toml_file="otvet.toml",
        extra="ignore",
    )

    #: Where the SQLite database and other local state live.
    data_dir: Path = Path("data")
    #: ``sqlite:///abs/path.db`` or ``postgres://user:password@host:5432/db``; empty means SQLite in data_dir.
    database_url: SecretStr = SecretStr("")
    #: Apply pending migrations on start (convenient on one machine; run ``otvet migrate`` in production).
    auto_migrate: bool = True
    #: The storage backend (a name registered through the ``register_storage`` hook).
    storage: str = "tortoise"
    #: The LLM provider answering questions (a name registered through ``register_providers``).
    provider: str = "extractive"
    #: Languages Otvet answers in; each needs a catalog in ``locales/``.
    languages: Annotated[tuple[str, ...], NoDecode] = ("en", "ru")
    #: The language used when a message gives no clue (and for messages before a user is known).
    default_language: str = "en"
    #: Load the bundled demo knowledge base when no knowledge version is active yet.
    load_demo: bool = True
    #: External plugins to load from the ``otvet`` entry-point group; None loads all installed ones,
    #: an empty list loads none.
    plugins: Annotated[list[str] | None, NoDecode] = None
    #: Built-in or external plugins to leave out, by name (see ``otvet plugins``).
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Seconds a provider may take for a whole answer before the user gets a calm failure message.
    answer_timeout: float = Field(60.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    extractive: ExtractiveSettings = Field(default_factory=ExtractiveSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    #: Free-form sections for third-party plugins, validated by :meth:`for_plugin`.
    plugin_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("languages", "plugins", "disable_plugins", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        # The environment gives strings: accept "a,b" as well as a JSON list such as "[]".
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("OTVET_CONFIG_FILE", "otvet.toml")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        # Explicit arguments beat the environment, which beats .env, which beats otvet.toml.
        return (init_settings, env_settings, dotenv_settings, toml, file_secret_settings)

    @property
    def resolved_database_url(self) -> str:
        """The database URL to connect to, with the SQLite default filled in."""
        url = self.database_url.get_secret_value()
        if url:
            return url
        return f"sqlite:///{(self.data_dir / 'otvet.db').resolve()}"

    def for_plugin(self, name: str, model: type[M]) -> M:
        """Validate plugin ``name``'s section of ``plugin_settings`` against its pydantic ``model``."""
        return model.model_validate(self.plugin_settings.get(name, {}))
