"""The docs match the code: the commands the README and docs/cli.md show exist, docs/cli.md's help texts
are the real ones (``python tools/cli_docs.py`` rewrites them after a change), and relative links reach
their files."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: A command line in a code block: ``otvet …`` or ``$ otvet …``, maybe after ``VAR=value`` assignments.
COMMAND = re.compile(r"^(?:\$ )?(?:[A-Z][A-Z0-9_]*=\S* )*otvet((?: [a-z][a-z0-9-]*)*)", re.M)
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def cli_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "tools" / "cli_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shown_commands(path: Path) -> set[tuple[str, ...]]:
    """Each ``otvet`` command path written in ``path``'s code blocks: ``("telegram", "set-webhook")``."""
    found = set()
    for block in FENCE.findall(path.read_text(encoding="utf-8")):
        for match in COMMAND.finditer(block):
            found.add(tuple(match.group(1).split()))
    return found


def resolve(group: click.Group, words: tuple[str, ...]) -> list[str]:
    """The command path ``words`` names: subcommands while there are groups, the rest are arguments."""
    path: list[str] = []
    command: click.Command = group
    for word in words:
        if not isinstance(command, click.Group):
            break
        sub = command.get_command(click.Context(command), word)
        assert sub is not None, f"`otvet {' '.join([*path, word])}` is not a command"
        path.append(word)
        command = sub
    return path


@pytest.mark.parametrize("doc", ["README.md", "docs/cli.md"])
def test_every_command_shown_exists_and_its_help_runs(doc: str) -> None:
    tool = cli_docs()
    group = tool.cli_group()
    commands = shown_commands(ROOT / doc)
    assert len(commands) >= 5
    for words in sorted(commands):
        path = resolve(group, words)
        assert tool.help_text(path).startswith(f"Usage: otvet {' '.join(path)}".rstrip())


def test_the_help_texts_in_docs_cli_md_are_the_real_ones() -> None:
    tool = cli_docs()
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert len(tool.HELP_BLOCK.findall(doc)) >= 15
    assert tool.rendered(doc) == doc, "docs/cli.md's help texts are out of date: run python tools/cli_docs.py"


def test_every_relative_link_in_the_docs_reaches_a_file() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#", 1)[0]
            if not path or re.match(r"[a-z]+:", path):
                continue  # an anchor on the same page, or a URL
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert broken == []
