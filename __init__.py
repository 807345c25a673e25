"""Otvet: a plugin-based question-answering bot framework.

The repository root is the ``otvet`` package: ``core/``, ``plugins/``, ``frontends/`` and ``config/`` import
as ``otvet.core``, ``otvet.plugins``, ``otvet.frontends`` and ``otvet.config``.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``from otvet import hookimpl``.
hookimpl = pluggy.HookimplMarker("otvet")

__all__ = ["__version__", "hookimpl"]
