"""Sources an admin can see and manage from the command line: names without the machine's paths,
``otvet sources list|show|remove``, rollback restoring a version's sources as the working set, checks
naming a source that does not exist, and progress inside a long file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from otvet.core.app import Otvet
from otvet.core.ingest import ingest_paths
from tests.conftest import make_settings
from tests.plugins.test_sources_pdf import make_pdf
from tests.support.cli import clean_env, run_otvet


def otvet_cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    result = run_otvet(*args, env=env, cwd=cwd)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere" / "my-docs"
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "invoices.md").write_text("# Invoices\n\nInvoices are sent monthly.\n", "utf-8")
    (folder / "hours.md").write_text("# Hours\n\nWe are open from 9 to 18.\n", "utf-8")
    return folder


def test_sources_from_another_folder_are_named_from_the_folder_given(tmp_path: Path, docs: Path) -> None:
    env, work = clean_env(tmp_path / "data"), tmp_path / "work"
    work.mkdir()
    code, _, err = otvet_cli(env, work, "ingest", str(docs))
    assert code == 0, err
    code, out, _ = otvet_cli(env, work, "sources", "list", "--json")
    assert [s["name"] for s in json.loads(out)] == ["my-docs/billing/invoices.md", "my-docs/hours.md"]
    assert str(tmp_path) not in out  # no path of this machine reaches API clients
    code, _, err = otvet_cli(env, work, "ingest", "--name", "handbook", str(docs / "hours.md"))
    assert code == 0, err
    code, out, _ = otvet_cli(env, work, "sources", "list")
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "LANG", "SECTIONS", "QA", "UPDATED", "TITLE"]
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "handbook",
        "my-docs/billing/invoices.md",
        "my-docs/hours.md",
    ]


def test_show_and_remove_a_source(tmp_path: Path, docs: Path) -> None:
    env = clean_env(tmp_path / "data")
    assert otvet_cli(env, docs.parent, "ingest", "my-docs")[0] == 0
    code, out, _ = otvet_cli(env, docs.parent, "sources", "show", "my-docs/hours.md")
    assert code == 0 and "title:       Hours" in out and "  section  Hours (" in out
    shown = json.loads(otvet_cli(env, docs.parent, "sources", "show", "--json", "my-docs/hours.md")[1])
    assert shown["content"]["sections"][0]["text"] == "We are open from 9 to 18."

    code, _, err = otvet_cli(env, docs.parent, "sources", "remove", "my-docs/hours.md", "nope.md")
    assert code == 1 and "no source named 'nope.md'" in err and "nothing was removed" in err
    code, out, err = otvet_cli(env, docs.parent, "sources", "remove", "my-docs/hours.md")
    assert code == 0, err
    assert "  removed   my-docs/hours.md" in out and "Knowledge version 2 is active" in out
    listed = json.loads(otvet_cli(env, docs.parent, "sources", "list", "--json")[1])
    assert [s["name"] for s in listed] == ["my-docs/billing/invoices.md"]
    code, out, _ = otvet_cli(env, docs.parent, "ask", "--json", "When are you open?")
    assert "9 to 18" not in json.loads(out)["text"]


def test_a_rollback_makes_the_versions_sources_the_working_set(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\nText about {name}.\n", "utf-8")
    assert otvet_cli(env, tmp_path, "ingest", "a.md")[0] == 0  # version 1: a
    assert otvet_cli(env, tmp_path, "ingest", "b.md")[0] == 0  # version 2: a, b
    code, out, err = otvet_cli(env, tmp_path, "rollback")
    assert code == 0, err
    assert "knowledge version 1 is active" in out and "  removed   b.md" in out
    assert otvet_cli(env, tmp_path, "ingest", "c.md")[0] == 0  # version 3: a, c; b does not come back
    listed = json.loads(otvet_cli(env, tmp_path, "sources", "list", "--json")[1])
    assert [s["name"] for s in listed] == ["a.md", "c.md"]
    versions = otvet_cli(env, tmp_path, "versions")[1]
    assert versions.splitlines()[1].split()[:4] == ["3", "active", "2", "2"]  # id, status, chunks, sources


def test_a_check_naming_a_source_that_does_not_exist_is_warned_about(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    (tmp_path / "hours.md").write_text("# Hours\n\nOpen 9 to 18.\n", "utf-8")
    assert otvet_cli(env, tmp_path, "ingest", "hours.md")[0] == 0
    checks = tmp_path / "checks.json"
    checks.write_text(
        json.dumps(
            [
                {"question": "When are you open?", "source": "Hours"},
                {"question": "Where is parking?", "source": "parking.md"},
            ]
        ),
        "utf-8",
    )
    code, out, err = otvet_cli(env, tmp_path, "checks", "import", str(checks))
    assert code == 0 and "Added 2 checks." in out
    assert err.strip() == (
        "Warning: no source is named or titled 'parking.md' (see `otvet sources list`): checks expecting it "
        "fail until it is ingested"
    )


async def test_a_long_pdf_reports_its_pages_as_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "manual.pdf").write_bytes(make_pdf([[f"Page {n} text."] for n in range(1, 6)]))
    details: list[str] = []
    async with Otvet(make_settings(tmp_path, retrieval={"embedder": ""})) as otvet:
        await ingest_paths(otvet, [tmp_path / "manual.pdf"], base=tmp_path, detail=details.append)
    assert details == [f"manual.pdf: page {n} of 5" for n in range(1, 6)]


def test_pypdfs_warnings_about_a_flawed_file_stay_out_of_the_output(tmp_path: Path) -> None:
    data = make_pdf([["Opening hours are 9 to 18."]])
    # A wrong cross-reference offset: pypdf warns ("incorrect startxref pointer") and reads the file anyway.
    (tmp_path / "flawed.pdf").write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n17", data))
    code, out, err = otvet_cli(clean_env(tmp_path / "data"), tmp_path, "ingest", "flawed.pdf")
    assert code == 0, err
    assert "startxref" not in out + err and "pypdf" not in out + err and "  added     flawed.pdf" in out
