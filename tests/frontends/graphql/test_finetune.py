"""``startFineTune``: an admin queues the ``fine_tune`` job (run by tests/plugins/test_finetune.py)."""

from __future__ import annotations

from tests.frontends.graphql.client import codes
from tests.frontends.graphql.conftest import ApiFactory

START = """mutation($model: String, $suffix: String) {
  startFineTune(model: $model, suffix: $suffix) { id type status payload progress result message }
}"""


async def test_start_fine_tune_queues_a_job_once_there_are_enough_pairs(api_with: ApiFactory) -> None:
    async with api_with(openai={"api_key": "sk-test"}) as api:
        refused = await api.body(START)
        assert codes(refused) == ["BAD_USER_INPUT"]
        assert "at least 10 distinct approved Q&A pairs and there are 0" in refused["errors"][0]["message"]

        pairs = [{"question": f"Question {n}?", "answer": f"Answer {n}."} for n in range(10)]
        await api.otvet.store.upsert_source("faq.json", "qa_json", "FAQ", "sum", "en", {"qa_pairs": pairs})
        data = await api.data(START, {"model": "gpt-4.1-mini-2025-04-14", "suffix": "faq"})

        job = data["startFineTune"]
        assert job["type"] == "fine_tune" and job["status"] == "queued" and job["progress"] == 0
        assert job["payload"] == {"model": "gpt-4.1-mini-2025-04-14", "suffix": "faq"}
        assert job["result"] is None and job["message"] is None
        stored = await api.otvet.store.get_job(int(job["id"]))
        assert stored is not None and stored.type == "fine_tune"


async def test_start_fine_tune_needs_openai_configured(api_with: ApiFactory) -> None:
    async with api_with() as api:
        body = await api.body(START)
    assert codes(body) == ["BAD_USER_INPUT"] and "OTVET_OPENAI__API_KEY" in body["errors"][0]["message"]
