"""Frontends: thin translators between a protocol (HTTP, CLI, Telegram...) and the dialogue engine."""
