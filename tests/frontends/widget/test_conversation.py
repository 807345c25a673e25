"""The widget's conversation over a real socket: welcome, streamed answers with sources, history, feedback."""

from __future__ import annotations

from otvet.frontends.widget.identity import CHANNEL
from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import Served, ServeFactory


async def test_a_visitor_asks_gets_sources_and_finds_the_conversation_again(served: Served) -> None:
    async with widget_socket(served.ws_url) as socket:
        welcome = await socket.hello(language="en")
        assert welcome["type"] == "welcome"
        assert welcome["visitor"].startswith("v1.")
        assert welcome["history"] == []
        assert welcome["language"] == "en" and set(welcome["languages"]) == {"en", "ru"}
        assert welcome["limits"] == {"max_question_chars": 2000}

        deltas, answer = await socket.ask("How do I connect Telegram?", "q-en")
        assert deltas, "the answer is streamed before it is final"
        assert answer["type"] == "answer" and answer["id"] == "q-en"
        assert "".join(d["text"] for d in deltas).strip() == answer["text"].strip()
        assert answer["language"] == "en" and answer["grounded"] is True and answer["fallback"] is False
        assert "telegram" in answer["text"].lower()
        assert answer["sources"] and answer["sources"][0]["n"] == 1 and answer["sources"][0]["title"]

        _, russian = await socket.ask("Как добавить обучающие данные?", "q-ru")
        assert russian["type"] == "answer" and russian["language"] == "ru" and russian["sources"]

    visitor = welcome["visitor"]
    async with widget_socket(served.ws_url) as socket:
        again = await socket.hello(visitor=visitor)
        assert again["visitor"].split(".")[1] == visitor.split(".")[1], "the same visitor, renewed"
        history = again["history"]
        assert [(m["role"], m["message_id"]) for m in history[1::2]] == [
            ("assistant", answer["message_id"]),
            ("assistant", russian["message_id"]),
        ]
        assert history[0] == {
            "role": "user",
            "text": "How do I connect Telegram?",
            "message_id": history[0]["message_id"],
            "sources": [],
            "rating": None,
        }
        assert history[1]["text"] == answer["text"] and history[1]["sources"] == answer["sources"]

        await socket.send({"type": "feedback", "message_id": answer["message_id"], "value": 1})
        assert await socket.receive() == {
            "type": "feedback_saved",
            "message_id": answer["message_id"],
            "value": 1,
        }

    rows = await served.otvet.store.list_feedback()
    assert [(r.message_id, r.value, r.channel) for r in rows] == [(answer["message_id"], 1, CHANNEL)]
    async with widget_socket(served.ws_url) as socket:
        rated = (await socket.hello(visitor=visitor))["history"]
        assert [m["rating"] for m in rated] == [None, 1, None, None]
        await socket.send({"type": "reset"})
        assert await socket.receive() == {"type": "reset_done"}
    async with widget_socket(served.ws_url) as socket:
        assert (await socket.hello(visitor=visitor))["history"] == []


async def test_feedback_on_another_visitors_answer_is_not_found(serve: ServeFactory) -> None:
    async with serve() as served:
        async with widget_socket(served.ws_url) as socket:
            await socket.hello()
            _, answer = await socket.ask("How do I connect Telegram?")
        async with widget_socket(served.ws_url) as other:
            await other.hello()
            for message_id in (answer["message_id"], answer["message_id"] - 1, 999_999):
                await other.send({"type": "feedback", "message_id": message_id, "value": -1})
                frame = await other.receive()
                assert frame["type"] == "error" and frame["code"] == "not_found", frame
        assert await served.otvet.store.list_feedback() == []


async def test_a_language_switch_is_stored_and_answers_follow_it(serve: ServeFactory) -> None:
    async with serve() as served:
        async with widget_socket(served.ws_url) as socket:
            welcome = await socket.hello(language="en")
            await socket.send({"type": "language", "language": "ru"})
            assert await socket.receive() == {"type": "language_set", "language": "ru"}
            await socket.send({"type": "language", "language": "xx"})
            refused = await socket.receive()
            assert refused["code"] == "bad_request"
            assert refused["message"].startswith("Чат не понял"), "errors speak the visitor's language"
        async with widget_socket(served.ws_url) as socket:
            assert (await socket.hello(visitor=welcome["visitor"], language="en"))["language"] == "ru"
