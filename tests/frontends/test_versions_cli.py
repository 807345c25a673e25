"""``otvet checks``, ``otvet versions``, ``otvet promote`` and ``otvet rollback`` as an admin types them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import clean_env, run_otvet

CHECKS_YAML = """\
- question: When does the museum open?
  source: hours.md
  answer: opens at ten
- question: Where do staff park?
  source: Parking
"""


def test_a_worse_version_is_refused_until_forced_and_a_rollback_brings_the_old_one_back(
    tmp_path: Path,
) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")

    def otvet(*args: str) -> tuple[int, str, str]:
        done = run_otvet(*args, env=env, cwd=tmp_path)
        return done.returncode, done.stdout, done.stderr

    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    (tmp_path / "parking.md").write_text("# Parking\n\nStaff park in the garage.\n", encoding="utf-8")
    assert otvet("ingest", "hours.md", "parking.md")[0] == 0

    (tmp_path / "bad.yaml").write_text("- question: ''\n  source: x\n- question: Why?\n", encoding="utf-8")
    code, _, err = otvet("checks", "import", "bad.yaml")
    assert code == 1 and "Nothing was added" in err
    assert "check 1: the question is empty" in err and "check 2: name the expected source" in err
    assert otvet("checks", "--json")[1].strip() == "[]"

    (tmp_path / "checks.yaml").write_text(CHECKS_YAML, encoding="utf-8")
    assert otvet("checks", "import", "checks.yaml")[1].strip() == "Added 2 checks."
    code, out, _ = otvet("checks", "run")
    assert code == 0 and "hit@1 1.00, hit@3 1.00, answers 1.00 on 2 checks" in out

    # The parking page loses its answer: the new version scores worse and is not promoted.
    (tmp_path / "parking.md").write_text("# Lockers\n\nCoats go in the lockers.\n", encoding="utf-8")
    code, _, err = otvet("ingest", "parking.md")
    assert code == 1 and "was built but not promoted" in err and "hit@1 0.50 < 1.00" in err
    listed = json.loads(otvet("versions", "--json")[1])
    assert [(v["id"], v["status"]) for v in listed] == [(2, "rejected"), (1, "active")]
    assert listed[0]["metrics"]["hit1"] == 0.5
    assert "hit@1 0.50" in otvet("versions")[1]

    code, _, err = otvet("promote", "2")
    assert code == 1 and "was not promoted" in err and "--force" in err
    code, out, _ = otvet("promote", "2", "--force")
    assert code == 0 and "Knowledge version 2 is active: forced:" in out

    code, out, _ = otvet("rollback")
    assert code == 0 and "knowledge version 1 is active" in out
    assert [v["status"] for v in json.loads(otvet("versions", "--json")[1])] == ["retired", "active"]

    code, _, err = otvet("promote", "99")
    assert code == 1 and "there is no knowledge version 99" in err and "Traceback" not in err
    assert otvet("checks", "remove", "1", "5")[1].strip() == "Removed 1 of 2 checks."
    assert otvet("checks", "add", "Dogs?")[0] == 2  # neither a source nor an answer: a usage error
