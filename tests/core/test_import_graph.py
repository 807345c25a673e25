"""The layers stay apart: the engine (``core/``) imports neither frontends nor plugins, and frontends import
no plugin. Plugins reach the rest only through hooks, so a built-in plugin can be left out, replaced or
moved into a package of its own; the plugins themselves may use core's and frontends' public modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"core": ("otvet.plugins", "otvet.frontends"), "frontends": ("otvet.plugins",)}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, with the line (also imports inside functions and TYPE_CHECKING)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_from_the_layers_above_it(layer: str) -> None:
    crossing = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, module in imported_modules(path)
        if module.startswith(FORBIDDEN[layer])
    ]
    assert not crossing, "go through a hook instead:\n" + "\n".join(crossing)


def test_the_check_sees_imports_in_functions_too(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from otvet.plugins.llm_openai import finetune\n")
    assert imported_modules(module) == [(2, "otvet.plugins.llm_openai")]
