"""XSS: markup in questions and in knowledge content comes back inert in every rendering.

* Telegram HTML: every part the bot sends parses as Telegram HTML (strictly: an unescaped ``&`` fails),
  shows the attacker's text literally, and carries no entity but the bold header and http(s) source links.
* JSON APIs (GraphQL, the widget's frames): the text is returned exactly, as data, under
  ``nosniff`` and a deny-all CSP, so no browser renders it as a page. (The widget's ``textContent`` rendering
  in real Chromium is tests/frontends/widget/test_browser.py.)
* Pages: the demo page and GraphiQL never reflect the query string, and carry their CSP; GraphiQL's CSP
  allows exactly this server's scripts and its own inline script.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from otvet.core.i18n import I18n
from otvet.core.types import SourceRef
from otvet.frontends.graphql.ide import inline_hashes
from otvet.frontends.telegram.formatting import MESSAGE_LIMIT, render_answer, render_partial
from tests.frontends.graphql.client import Api
from tests.frontends.telegram.conftest import BotEnv
from tests.frontends.telegram.test_bot import final_answers
from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import ServeFactory
from tests.security.payloads import XSS_PAYLOADS, display_names
from tests.support.browser import chromium, require_chromium
from tests.support.cli import clean_env, run_otvet
from tests.support.providers import MockProvider
from tests.support.telegram_html import parse_html
from tests.support.telegram_updates import USER_ID

LOCALES = Path(__file__).resolve().parents[2] / "locales"
#: The only entities Otvet's own markup makes: the sources header, and links to web pages.
OWN_ENTITIES = {"bold", "text_link"}


def assert_inert(message_html: str, *literal: str) -> list[dict[str, Any]]:
    """``message_html`` parses as Telegram HTML showing each ``literal`` as plain text; its entities."""
    text, entities = parse_html(message_html, strict_ampersand=True)
    for part in literal:
        assert part in text, (part, text)
    assert {entity["type"] for entity in entities} <= OWN_ENTITIES, entities
    for entity in entities:
        if entity["type"] == "text_link":
            assert re.match(r"https?://", entity["url"]), entity
    return entities


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_telegram_answers_show_markup_from_answers_and_sources_literally(payload: str) -> None:
    translator = I18n([LOCALES], ("en", "ru"), "en").get("en")
    sources = [
        SourceRef(title=f"T {payload}", section=f"S {payload}", url="https://example.com/a?b=1&c=2"),
        SourceRef(title=f"U {payload}", url=payload),  # a payload as the URL: no link at all
        SourceRef(title="V", url=f"https://example.com/{payload}"),
    ]
    parts = render_answer(f"Answer: {payload} [1]", sources, translator)
    entities = [entity for part in parts for entity in assert_inert(part.html)]
    shown = "\n".join(parse_html(part.html)[0] for part in parts)
    assert f"Answer: {payload} [1]" in shown and f"T {payload}" in shown and f"U {payload}" in shown
    links = [entity["url"] for entity in entities if entity["type"] == "text_link"]
    # Quoted URLs survive whole inside the attribute (no quote of the payload closes it early); the payload
    # itself as a URL is no link; a web URL with a space in it neither.
    assert links[0] == "https://example.com/a?b=1&c=2"
    assert links[1:] == ([f"https://example.com/{payload}"] if " " not in payload else [])
    # The answer being streamed (edited in place) is escaped the same way.
    assert_inert(render_partial(f"Partial {payload}" * 3, limit=MESSAGE_LIMIT), f"Partial {payload}")


async def test_telegram_questions_and_names_with_markup_are_shown_literally(echo_bot: BotEnv) -> None:
    payloads = [str(param.values[0]) for param in XSS_PAYLOADS]
    question = " | ".join(payloads)
    update = echo_bot.api.private_message(question, language_code="en")
    sender = update["message"]["from"]
    sender.update(first_name=payloads[0], last_name="'; DROP TABLE otvet_user;--", username="x_or_1_1")
    echo_bot.api.queue_update(update)
    await final_answers(echo_bot)
    sent = [c for c in echo_bot.api.calls if c.method in ("sendMessage", "editMessageText")]
    for call in sent:
        assert call.params.get("parse_mode") == "HTML"
        assert_inert(call.params["text"])
    # The fake Bot API parsed what the bot sent, as Telegram would: the chat shows the payloads as typed.
    assert echo_bot.texts_sent(USER_ID)[-1].startswith(f"You asked: {question}")
    assert await display_names(echo_bot.otvet, "telegram") == [f"{payloads[0]} '; DROP TABLE otvet_user;--"]


TEXT_SOURCE = """mutation($name: String!, $text: String!, $title: String) {
  addTextSource(name: $name, text: $text, title: $title) { added } }"""


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
async def test_graphql_returns_markup_as_data_under_nosniff_and_a_deny_all_csp(
    sqlite_api: Api, mock_provider: MockProvider, payload: str
) -> None:
    await sqlite_api.data(
        TEXT_SOURCE, {"name": payload, "text": f"# {payload}\n\nBody {payload}", "title": payload}
    )
    response = await sqlite_api.post("{ sources { name title } }", headers={"accept": "text/html"})
    assert response.headers["content-type"].startswith("application/")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.json()["data"]["sources"] == [{"name": payload, "title": payload}]
    mock_provider.then(payload)
    ask = "mutation($q: String!) { ask(input: {question: $q}) { ... on Answer { text } } }"
    answer = await sqlite_api.data(ask, {"q": payload}, key="ask")
    assert answer["ask"]["text"] == payload


async def test_widget_frames_carry_markup_as_json_text(
    serve: ServeFactory, mock_provider: MockProvider
) -> None:
    payloads = [str(param.values[0]) for param in XSS_PAYLOADS]
    async with serve(mock=True) as served, widget_socket(served.ws_url, origin=served.origin) as socket:
        await socket.hello(language="en")
        for number, payload in enumerate(payloads):
            mock_provider.then(f"Echo {payload}")
            deltas, answer = await socket.ask(payload, question_id=f"q{number}")
            assert answer["type"] == "answer", answer
            assert "".join(d["text"] for d in deltas) == f"Echo {payload}" == answer["text"]
            assert mock_provider.requests[-1].question == payload


# --- pages ------------------------------------------------------------------------------------------------

REFLECTED = '"><script>alert(1)</script><img src=x onerror=alert(1)>'


@pytest.mark.parametrize("path", ["/", "/graphql"])
async def test_pages_never_reflect_the_query_string(sqlite_api: Api, path: str) -> None:
    # GraphiQL's own parameters (q, variables, headers) are read by its script into the editor, as text.
    params = {"q": REFLECTED, "variables": REFLECTED, "headers": REFLECTED, "lang": REFLECTED}
    response = await sqlite_api.client.get(path, params=params, headers={"accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for form in (REFLECTED, html.escape(REFLECTED), "alert(1)"):
        assert form not in response.text
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "'unsafe-eval'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_query_with_markup_is_answered_as_json_never_as_a_page(sqlite_api: Api) -> None:
    response = await sqlite_api.client.get(
        "/graphql", params={"query": REFLECTED}, headers={"accept": "text/html,*/*"}
    )
    assert response.headers["content-type"].startswith("application/")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.json()["errors"]


def _directive(csp: str, name: str) -> list[str]:
    for directive in csp.split(";"):
        parts = directive.split()
        if parts and parts[0] == name:
            return parts[1:]
    raise AssertionError(f"no {name} in {csp}")


async def test_graphiql_runs_only_its_own_scripts_from_this_server(sqlite_api: Api) -> None:
    response = await sqlite_api.client.get("/graphql", headers={"accept": "text/html"})
    page, csp = response.text, response.headers["content-security-policy"]
    sources = _directive(csp, "script-src")
    hashes = inline_hashes(page, "script")
    assert hashes and sorted(sources) == sorted(["'self'", *hashes]), (
        "this server and the page's inline script"
    )
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    # Every external script and stylesheet comes from this server (no CDN: it works offline) and is there.
    assets = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="(/graphiql/[^"]+)"', page)
    assert len(assets) == 4 and "https://" not in page
    for asset in assets:
        served = await sqlite_api.client.get(asset)
        assert served.status_code == 200 and served.headers["content-type"].startswith(
            ("text/javascript", "text/css")
        )
    # A script someone injected into the page would have another hash.
    assert inline_hashes("<script>alert(1)</script>", "script")[0] not in sources


async def test_graphiql_turned_off_serves_no_page(api_with: Any) -> None:
    async with api_with(graphql={"graphiql": False}) as api:
        response = await api.client.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 404 and "<script" not in response.text
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_every_response_carries_the_security_headers(sqlite_api: Api) -> None:
    from tests.security.test_csrf_cors import TOUR

    for method, path, body, scope in [
        *TOUR,
        ("PUT", "/graphql", None, None),
        ("GET", "/v1/chat/completions", None, None),
    ]:
        response = await sqlite_api.client.request(method, path, json=body, headers=sqlite_api.headers(scope))
        assert response.headers["x-content-type-options"] == "nosniff", (method, path)
        assert response.headers["referrer-policy"] == "no-referrer", (method, path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, (method, path, csp)


async def test_the_ops_listener_carries_them_too(sqlite_api: Api) -> None:
    from otvet.frontends.app import create_ops_app

    transport = httpx.ASGITransport(app=create_ops_app(sqlite_api.otvet))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as client:
        for path in ("/healthz", "/readyz", "/metrics", "/nothing"):
            response = await client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["content-security-policy"].startswith("default-src 'none'"), path


# --- the widget in real Chromium --------------------------------------------------------------------------

#: Each sets its own flag if it ever runs: the test reads them all.
KNOWLEDGE_XSS = [
    "<script>window.__xss1=1</script>",
    '"><svg onload="window.__xss2=1">',
    "<img src=x onerror=window.__xss3=1>",
    '<iframe src="javascript:window.__xss4=1"></iframe>',
    "&lt;b&gt;entity&lt;/b&gt; &#60;i&#62;",
]


@pytest.fixture
async def hostile_knowledge(tmp_path: Path) -> Any:
    """``otvet serve`` whose only source has markup in its title, its section headings and its text."""
    from tests.frontends.widget.test_browser import _serve

    require_chromium()
    document = tmp_path / "tickets.md"
    sections = "\n\n".join(
        f"## Refunds {payload}\n\nRefunds take five days. {payload}" for payload in KNOWLEDGE_XSS
    )
    document.write_text(f"# Tickets {KNOWLEDGE_XSS[1]}\n\n{sections}\n", encoding="utf-8")
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    ingested = run_otvet("ingest", str(document), env=env, cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    async for served in _serve(tmp_path, OTVET_LOAD_DEMO="false"):
        yield served


async def test_markup_in_knowledge_and_questions_never_runs_in_the_widget(hostile_knowledge: Any) -> None:
    from tests.frontends.widget.test_browser import _ask, _open_page, _open_widget

    async with chromium() as browser:
        # Without the page's CSP, so that markup the widget wrongly parsed would really run.
        page = await _open_page(browser, hostile_knowledge, bypass_csp=True)
        await _open_widget(page)
        await _ask(page, " ".join(KNOWLEDGE_XSS))
        answer = await _ask(page, "Do refunds take five days?")
        assert "five days" in await answer.inner_text()
        shown = await page.locator('[role="log"]').inner_text()
        assert KNOWLEDGE_XSS[0] in shown and KNOWLEDGE_XSS[2] in shown, "the markup is shown as text"
        panel = page.locator(".otvet-panel")
        # Only the widget's own icons are SVG; nothing the knowledge base or a question held became markup.
        assert await panel.locator("script, svg:not(.otvet-icon), img, iframe").count() == 0
        flags = await page.evaluate("[1, 2, 3, 4].map((n) => window['__xss' + n])")
        assert flags == [None, None, None, None]
        assert hostile_knowledge.problems == []
