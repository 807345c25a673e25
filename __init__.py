"""Otvet: a plugin-based question-answering bot framework.

The repository root is the ``otvet`` package: ``core/``, ``plugins/``, ``frontends/`` and ``config/`` import
as ``otvet.core``, ``otvet.plugins``, ``otvet.frontends`` and ``otvet.config``.
"""

from __future__ import annotations

import pluggy

from otvet.core import ast_race

# Before anything imports Strawberry or Tortoise, which parse annotations and source as they load.
ast_race.install()

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``from otvet import hookimpl``.
hookimpl = pluggy.HookimplMarker("otvet")

__all__ = ["__version__", "hookimpl"]
