"""docs/cli.md shows ``otvet ... --help`` as the real command prints it: ``python tools/cli_docs.py`` rewrites
every help block there from the installed CLI (built-in plugins' commands included, at 80 columns);
tests/test_docs.py fails when one differs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from click.testing import CliRunner

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
#: A fenced block holding a help text: an optional ``$ otvet ... --help`` line, then ``Usage: otvet ...``.
HELP_BLOCK = re.compile(r"```\n((?:\$ otvet[^\n]*--help\n)?)(Usage: otvet(.*?) \[OPTIONS\].*?)```", re.S)


def cli_group() -> click.Group:
    """The ``otvet`` group with every built-in command and the built-in plugins' commands."""
    from otvet.core.plugins import make_plugin_manager
    from otvet.frontends.cli.main import cli, load_commands

    load_commands()
    make_plugin_manager(load_entry_points=False).hook.register_commands(cli=cli)
    return cli


def help_text(path: list[str]) -> str:
    from otvet.config.settings import Settings
    from otvet.frontends.cli.main import Context

    # Default settings, whatever this machine's environment or config file say: help text does not change.
    # (A data folder that exists, so no note about starting one joins the text.)
    context = Context(Settings.model_construct(data_dir=Path.cwd()))
    result = CliRunner().invoke(
        cli_group(), [*path, "--help"], terminal_width=80, prog_name="otvet", obj=context
    )
    if result.exit_code != 0:
        raise RuntimeError(f"otvet {' '.join(path)} --help failed: {result.output}")
    return result.output


def rendered(doc: str) -> str:
    """``doc`` with every help block replaced by the real help text of its command."""

    def replace(match: re.Match[str]) -> str:
        return f"```\n{match.group(1)}{help_text(match.group(3).split())}```"

    return HELP_BLOCK.sub(replace, doc)


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    new = rendered(text)
    if new != text:
        DOC.write_text(new, encoding="utf-8")
    sys.stdout.write(f"{DOC}: {'updated' if new != text else 'already current'}\n")
