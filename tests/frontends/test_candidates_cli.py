"""``otvet candidates ...`` as real processes, on SQLite and PostgreSQL: list, correct, approve, reject."""

from __future__ import annotations

import json
from pathlib import Path

from otvet.core.app import Otvet
from otvet.core.knowledge import NewSource
from otvet.core.sources import ParsedSource, Section
from otvet.core.types import Final, Turn
from tests.conftest import make_settings
from tests.support.cli import clean_env, run_otvet

QUESTION = "When does the canteen serve lunch?"


async def _liked_and_disliked_answers(work: Path, db_url: str) -> tuple[int, int]:
    """A knowledge base, a liked answer and a disliked one; returns their message ids."""
    async with Otvet(make_settings(work, db_url, provider="extractive")) as otvet:
        text = "The canteen serves lunch from noon to two o'clock. The library opens at nine."
        parsed = ParsedSource(title="Campus", sections=[Section(text)], language="en")
        await otvet.knowledge.add_sources([NewSource("campus.md", "markdown", parsed, "v1")])
        ids = []
        for question, value in ((QUESTION, 1), ("When does the library open?", -1)):
            answer = await otvet.engine.ask(Turn(channel="test", user_id="u1", text=question))
            assert isinstance(answer, Final) and answer.message_id is not None
            await otvet.engine.rate("test", "u1", answer.message_id, value)
            ids.append(answer.message_id)
        return ids[0], ids[1]


async def test_candidates_are_listed_corrected_approved_and_rejected(db_url: str, tmp_path: Path) -> None:
    liked, disliked = await _liked_and_disliked_answers(tmp_path, db_url)
    env = clean_env(tmp_path / "data", OTVET_DATABASE_URL=db_url, OTVET_PROVIDER="extractive")

    def otvet_cli(*args: str) -> tuple[int, str, str]:
        result = run_otvet(*args, env=env, cwd=tmp_path)
        return result.returncode, result.stdout, result.stderr

    code, out, err = otvet_cli("candidates", "list", "--json")
    assert code == 0, err
    [rating] = json.loads(out)
    assert (rating["origin"], rating["status"], rating["message_id"]) == ("rating", "pending", liked)
    assert rating["question"] == QUESTION and "[1]" not in rating["answer"]

    better = "The library opens at nine o'clock, Monday to Saturday."
    code, out, err = otvet_cli("candidates", "correct", str(disliked), better)
    assert code == 0, err
    assert out.startswith("Candidate ") and "(pending)" in out
    code, out, _ = otvet_cli("candidates", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "STATUS", "ORIGIN", "LANG", "MESSAGE", "QUESTION", "ANSWER"]
    assert [row.split()[1:3] for row in rows] == [["pending", "rating"], ["pending", "correction"]]
    correction_id = rows[1].split()[0]

    code, out, err = otvet_cli("candidates", "approve", str(rating["id"]), correction_id)
    assert code == 0, err
    assert "otvet-feedback:approved now holds the approved answers" in out
    assert "is active" in out
    code, out, err = otvet_cli("ask", "When does the library open?")
    assert code == 0, err
    assert better in out and "Approved answers" in out

    # Approving again changes nothing; rejecting both removes the source again.
    code, out, _ = otvet_cli("candidates", "approve", correction_id, "--no-rebuild")
    assert code == 0 and "did not change" in out
    code, out, err = otvet_cli("candidates", "reject", str(rating["id"]), correction_id)
    assert code == 0, err
    assert "otvet-feedback:approved was removed" in out
    code, out, _ = otvet_cli("candidates", "list", "--status", "rejected", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = otvet_cli("candidates", "list")
    assert code == 0 and out.strip() == "No pending candidates."


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")  # SQLite: the messages do not depend on the database
    for args, message in (
        (("candidates", "approve", "4242"), "there is no candidate 4242"),
        (("candidates", "reject", "7", "8"), "there is no candidate 7, 8"),
        (("candidates", "correct", "99", "An answer."), "there is no message 99"),
        (("candidates", "list", "--status", "maybe"), "'maybe' is not one of"),
    ):
        result = run_otvet(*args, env=env, cwd=tmp_path)
        assert result.returncode != 0, args
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
