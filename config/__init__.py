"""Configuration: the pydantic-settings model and the example files beside it."""

from __future__ import annotations

from otvet.config.settings import Settings

__all__ = ["Settings"]
