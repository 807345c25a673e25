"""``otvet ask`` as a real process against an OpenAI-compatible server on loopback (the fake)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import clean_env, run_otvet_async
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import free_port

QUESTION = "How do I connect Telegram?"


async def ask(tmp_path: Path, base_url: str, *args: str) -> tuple[int, str, str]:
    """Run ``otvet ask`` without blocking the loop the fake server runs in."""
    env = clean_env(tmp_path / "data", OTVET_OPENAI__BASE_URL=base_url, OTVET_OPENAI__API_KEY="sk-test")
    return await run_otvet_async("ask", *args, env=env, cwd=tmp_path)


async def test_otvet_ask_prints_the_streamed_answer_with_numbered_sources(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.reply("Talk to ", "@BotFather [2] ", "and set the token [1].", delay=0.05)
        code, out, err = await ask(tmp_path, fake.base_url, QUESTION)
    assert code == 0, err
    answer, _, sources = out.partition("Sources:")
    assert answer.strip() == "Talk to @BotFather [1] and set the token [2]."
    listed = [line.strip() for line in sources.strip().splitlines()]
    assert len(listed) == 2 and listed[0].startswith("[1] ") and listed[1].startswith("[2] ")
    # The model was shown the demo knowledge base's passage on Telegram, and the question.
    (request,) = fake.chat_requests
    assert "Connecting Telegram" in request["messages"][0]["content"]
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}


async def test_otvet_ask_json_carries_sources_usage_and_provider(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.reply("Use @BotFather [1].", usage=(200, 7))
        code, out, err = await ask(tmp_path, fake.base_url, "--json", QUESTION)
    assert code == 0, err
    final = json.loads(out)
    assert final["type"] == "final" and final["provider"] == "openai" and final["fallback"] is False
    assert final["usage"] == {"prompt_tokens": 200, "completion_tokens": 7}
    (source,) = final["sources"]
    assert source["title"] and source["name"] and source["chunk_id"]


async def test_otvet_ask_with_the_server_down_answers_from_the_knowledge_base(tmp_path: Path) -> None:
    code, out, err = await ask(tmp_path, f"http://127.0.0.1:{free_port()}/v1", QUESTION)
    assert code == 0, err
    assert out.startswith("The AI model is not available right now")
    assert "BotFather" in out and "Sources:" in out
    assert "Traceback" not in err


async def test_ingest_with_the_embeddings_service_down_adds_nothing_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "shipping.md").write_text("# Shipping\n\nParcels leave the warehouse every Monday.\n")
    env = clean_env(
        tmp_path / "data",
        OTVET_OPENAI__BASE_URL=f"http://127.0.0.1:{free_port()}/v1",
        OTVET_OPENAI__RETRY_BASE_DELAY="0.01",
        OTVET_RETRIEVAL__EMBEDDER="openai",
        OTVET_PROVIDER="extractive",
    )

    async def otvet(*args: str) -> tuple[int, str, str]:
        return await run_otvet_async(*args, env=env, cwd=tmp_path)

    code, _, err = await otvet("ingest", "kb")
    assert code == 1
    assert "Nothing was added: the chunks could not be embedded" in err and "Traceback" not in err
    # Nothing half-stored: asking still gets the demo knowledge base, not the shipping file.
    env["OTVET_RETRIEVAL__EMBEDDER"] = ""
    code, out, err = await otvet("ask", "When do parcels leave the warehouse?")
    assert code == 0, err
    assert "Monday" not in out
