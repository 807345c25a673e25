"""``otvet ingest URL``: web pages fetched (SSRF rules applied), parsed and cited by their URL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import clean_env, run_otvet_async
from tests.support.web import Page, WebServer

PAGE = (
    b"<html lang='en'><head><title>Museum</title></head><body><nav>Home | Shop</nav>"
    b"<main><h1>Museum</h1><h2>Tickets</h2><p>Tickets for the museum cost twelve euros.</p></main>"
    b"</body></html>"
)


async def otvet(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``otvet`` without blocking the loop the test web server answers in."""
    return await run_otvet_async(*args, env=env, cwd=tmp_path)


async def test_ingest_a_web_page_and_a_file_together_then_cite_the_page_by_its_url(tmp_path: Path) -> None:
    (tmp_path / "faq.yaml").write_text(
        "- question: Is there a cloakroom?\n  answer: Yes, by the entrance.\n", encoding="utf-8"
    )
    async with WebServer() as web:
        web.pages["/museum"] = Page(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
        env = clean_env(tmp_path / "data", OTVET_FETCH__ALLOW_HOSTS=f"127.0.0.1:{web.port}")
        url = web.url("/museum")
        code, out, err = await otvet(tmp_path, env, "ingest", url, "faq.yaml")
        assert code == 0, err
        assert f"added     {url}" in out and "added     faq.yaml" in out
        code, out, err = await otvet(tmp_path, env, "ask", "--json", "What do museum tickets cost?")
    assert code == 0, err
    final = json.loads(out)
    assert "twelve euros" in final["text"]
    source = final["sources"][0]
    assert (source["name"], source["url"], source["title"]) == (url, url, "Museum")


async def test_a_refused_url_adds_nothing_and_is_listed_with_the_other_problems(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\n\nGood content.\n", encoding="utf-8")
    async with WebServer() as web:
        web.pages["/museum"] = Page(PAGE, headers={"Content-Type": "text/html"})
        env = clean_env(tmp_path / "data")  # nothing on loopback is allowed
        code, _, err = await otvet(
            tmp_path, env, "ingest", "good.md", web.url("/museum"), "ftp://example.com/a.txt", "missing.md"
        )
        assert web.requests == []
    assert code == 1
    assert "Nothing was added" in err
    assert f"{web.url('/museum')}: refused: 127.0.0.1 is a loopback address" in err
    assert "ftp://example.com/a.txt: only http and https URLs are fetched" in err
    assert "missing.md: no such file or folder" in err
    assert "Traceback" not in err
