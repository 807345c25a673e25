"""SSRF and hostile files through the admin's real paths: GraphQL ``addUrlSource`` / ``uploadSources`` and
``otvet ingest``. Each attack must end in a clear error naming the problem, with nothing fetched from where
it must not be, nothing half-ingested (sources, versions unchanged) and the service still answering.

The fetcher's rules are unit-tested in tests/core/test_fetch.py and the parsers are fuzzed in
test_fuzz_parsers.py; here the same attacks come in the way an attacker with an admin's hands would send
them, with a loopback web server standing by so that a request that got through would be seen.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import ipaddress
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from otvet.core import fetch as fetch_module
from otvet.core.app import Otvet
from otvet.plugins.sources_pdf import MAX_UNPACKED_BYTES
from tests.conftest import make_settings
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import serve_api
from tests.security.hostile import Snapshot, snapshot
from tests.support.archives import zip_bytes
from tests.support.cli import clean_env, run_otvet_async
from tests.support.providers import MockProvider
from tests.support.web import Page, WebServer

ADD_URL = "mutation($u: String!) { addUrlSource(url: $u) { added } }"
UPLOAD = "mutation($files: [Upload!]!) { uploadSources(files: $files) { added } }"
HTML = b"<html><head><title>Hours</title></head><body><p>The office opens at nine.</p></body></html>"
#: fetch.max_bytes of the "public" server's tests: a bomb's compressed body is well under it.
LIMIT = 1024 * 1024
GOOD_MD = b"# Kept\n\nThis source was here before the attack.\n"


@dataclass
class Target:
    """The API with one source already stored, and a loopback web server that must not be reached."""

    api: Api
    web: WebServer
    before: Snapshot

    async def add_url(self, url: str) -> dict[str, Any]:
        return await self.api.body(ADD_URL, {"u": url})

    async def upload(self, *files: tuple[str, bytes]) -> dict[str, Any]:
        response = await self.api.upload(
            UPLOAD,
            {f"f{i}": file for i, file in enumerate(files)},
            {"files": [None] * len(files)},
            {f"f{i}": [f"variables.files.{i}"] for i in range(len(files))},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def assert_refused_and_intact(self, body: dict[str, Any], *fragments: str) -> str:
        """``body`` is a BAD_USER_INPUT refusal mentioning every fragment; nothing changed; still serving."""
        assert codes(body) == ["BAD_USER_INPUT"], body
        message = body["errors"][0]["message"]
        for fragment in fragments:
            assert fragment in message, message
        assert "Traceback" not in message
        assert await snapshot(self.api.otvet) == self.before
        sources = await self.api.data("{ sources { name } }")
        assert sources == {"sources": [{"name": "kept.md"}]}
        return str(message)


@contextlib.asynccontextmanager
async def _target(tmp_path: Path, database_url: str = "", **overrides: Any) -> AsyncIterator[Target]:
    async with WebServer() as web, serve_api(tmp_path, MockProvider(), database_url, **overrides) as api:
        web.pages["/"] = Page(HTML, headers={"Content-Type": "text/html"})
        await api.data(
            'mutation { addTextSource(name: "kept.md", text: "# Kept\\n\\nKept text.") { added } }'
        )
        yield Target(api, web, await snapshot(api.otvet))


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[Target]:
    """Nothing on loopback is allowed (the defaults)."""
    async with _target(tmp_path) as found:
        yield found


@pytest.fixture
async def stored(tmp_path: Path, db_url: str) -> AsyncIterator[Target]:
    """As ``target``, on each database: what an upload leaves behind is the database's to keep."""
    async with _target(tmp_path, db_url) as found:
        yield found


@pytest.fixture
async def public(tmp_path: Path) -> AsyncIterator[Target]:
    """The loopback web server plays a public one (allowed by address and port), with small limits."""
    async with _target(tmp_path, fetch={"timeout_seconds": 2, "max_bytes": LIMIT}) as found:
        found.api.otvet.settings.fetch.allow_hosts = [f"127.0.0.1:{found.web.port}"]
        yield found


# --- SSRF: internal addresses in every spelling -------------------------------------------------------------

#: URL (``{port}`` is the loopback web server's) → what the refusal says. Every one would reach the server
#: or an internal service if the check were fooled.
INTERNAL = {
    "loopback": ("http://127.0.0.1:{port}/", "is a loopback address"),
    "localhost": ("http://localhost:{port}/", "localhost resolves to"),
    "ipv6 loopback": ("http://[::1]:{port}/", "is a loopback address"),
    "unspecified": ("http://0.0.0.0:{port}/", "is an unspecified address"),  # Linux connects it to loopback
    "zero": ("http://0:{port}/", "resolves to 0.0.0.0, an unspecified address"),
    "ipv6 unspecified": ("http://[::]:{port}/", "is an unspecified address"),
    "10/8": ("http://10.0.0.1/", "is a private address"),
    "172.16/12 low": ("http://172.16.0.1/", "is a private address"),
    "172.16/12 high": ("http://172.31.255.254/", "is a private address"),
    "192.168/16": ("http://192.168.1.1/", "is a private address"),
    "cloud metadata": ("http://169.254.169.254/latest/meta-data/iam/", "link-local address"),
    "unique local v6": ("http://[fd00::1]/", "is a private address"),
    "aws metadata v6": ("http://[fd00:ec2::254]/latest/", "is a private address"),
    "ipv4-mapped loopback": ("http://[::ffff:127.0.0.1]:{port}/", "is a loopback address"),
    "ipv4-mapped hex": ("http://[::ffff:7f00:1]:{port}/", "is a loopback address"),
    "ipv4-mapped metadata": ("http://[::ffff:169.254.169.254]/", "link-local address"),
    "ipv4-mapped long form": ("http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/", "is a loopback address"),
    "decimal": ("http://2130706433:{port}/", "resolves to 127.0.0.1, a loopback address"),
    "hex": ("http://0x7f000001:{port}/", "resolves to 127.0.0.1, a loopback address"),
    "hex short": ("http://0x7f.1:{port}/", "resolves to 127.0.0.1, a loopback address"),
    "octal": ("http://017700000001:{port}/", "resolves to 127.0.0.1, a loopback address"),
    "short form": ("http://127.1:{port}/", "resolves to 127.0.0.1, a loopback address"),
    "octal dotted": ("http://0177.0.0.1:{port}/", "not a valid URL"),
    "fullwidth dots": ("http://127\u30020\u30020\u30021:{port}/", "is a loopback address"),
    "upper-case scheme": ("HTTP://127.0.0.1:{port}/", "is a loopback address"),
}


@pytest.mark.parametrize("attack", list(INTERNAL))
async def test_internal_addresses_in_any_spelling_are_refused(target: Target, attack: str) -> None:
    url, reason = INTERNAL[attack]
    body = await target.add_url(url.format(port=target.web.port))
    await target.assert_refused_and_intact(body, reason)
    assert target.web.requests == []


#: Host name → what a hostile or misconfigured DNS answers for it.
RESOLVES = {
    "intranet.example": ["10.20.30.40"],
    "metadata.example": ["169.254.169.254"],
    "cgnat.example": ["100.64.0.7"],
    "v6-private.example": ["fd12:3456::1"],
    "one-bad-of-two.example": ["93.184.215.14", "127.0.0.1"],
    "mapped.example": ["::ffff:10.0.0.1"],
}


@pytest.fixture
def hostile_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fetch_module.resolve

    async def resolve(host: str, port: int) -> list[fetch_module.IPAddress]:
        if host not in RESOLVES:
            return await real(host, port)
        return [ipaddress.ip_address(a) for a in RESOLVES[host]]

    monkeypatch.setattr(fetch_module, "resolve", resolve)


@pytest.mark.parametrize("host", list(RESOLVES))
@pytest.mark.usefixtures("hostile_dns")
async def test_names_resolving_to_internal_addresses_are_refused(target: Target, host: str) -> None:
    body = await target.add_url(f"https://{host}/page")
    await target.assert_refused_and_intact(body, f"{host} resolves to", "refused")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://example.com/a.txt",
        "dict://127.0.0.1:11211/stats",
        "data:text/html,<p>Injected</p>",
        "javascript:alert(1)",
        "//example.com/no-scheme",
    ],
)
async def test_other_schemes_are_refused(target: Target, url: str) -> None:
    await target.assert_refused_and_intact(await target.add_url(url), "is not an http(s) URL")


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@example.com/",
        "http://user@example.com/",
        "http://example.com@127.0.0.1/",  # the "host" before @ is a user name
        "http://127.0.0.1:80@example.com/",
    ],
)
async def test_urls_with_credentials_are_refused(target: Target, url: str) -> None:
    await target.assert_refused_and_intact(await target.add_url(url), "user name or password")


# --- SSRF: redirects from a "public" server -----------------------------------------------------------------

REDIRECTS = {
    "another loopback port": ("http://127.0.0.1:1/admin", "is a loopback address"),
    "the same server, spelled in decimal": ("http://2130706433:{port}/", "a loopback address"),
    "the same server, ipv4-mapped": ("http://[::ffff:127.0.0.1]:{port}/", "is a loopback address"),
    "localhost": ("http://localhost:{port}/", "localhost resolves to"),
    "cloud metadata": ("http://169.254.169.254/latest/meta-data/", "link-local address"),
    "private network": ("http://192.168.0.10/", "is a private address"),
    "name resolving privately": ("http://intranet.example/", "intranet.example resolves to 10.20.30.40"),
    "file scheme": ("file:///etc/passwd", "only http and https URLs are fetched"),
    "gopher scheme": ("gopher://127.0.0.1:6379/_x", "only http and https URLs are fetched"),
    "credentials": ("http://admin:admin@example.com/", "user name or password"),
}


@pytest.mark.parametrize("attack", list(REDIRECTS))
@pytest.mark.usefixtures("hostile_dns")
async def test_a_redirect_from_an_allowed_server_to_an_internal_one_is_refused(
    public: Target, attack: str
) -> None:
    location, reason = REDIRECTS[attack]
    location = location.format(port=public.web.port)
    for status in (301, 302, 303, 307, 308):
        public.web.pages[f"/go{status}"] = Page(status=status, headers={"Location": location})
    for status in (301, 302, 303, 307, 308):
        body = await public.add_url(public.web.url(f"/go{status}"))
        shown = str(httpx.URL(location))  # as the fetcher names it (file:///x is file:/x)
        await public.assert_refused_and_intact(body, f"redirected to {shown}", reason)
    # Only the redirecting pages were asked for, never where they pointed.
    assert [r.path for r in public.web.requests] == [f"/go{s}" for s in (301, 302, 303, 307, 308)]


async def test_the_allowed_server_itself_is_fetched(public: Target) -> None:
    """The control: the same setup accepts a page, so the refusals above are the attacks'."""
    added = await public.api.data(ADD_URL, {"u": public.web.url("/")})
    assert added == {"addUrlSource": {"added": [public.web.url("/")]}}


# --- oversized, slow and compressed responses ---------------------------------------------------------------


def _gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


def _deflate_bomb(size: int) -> bytes:
    return zlib.compress(b"A" * size, 9)


#: attack → (a page, made when the test runs: bombs take a moment to build, what the refusal says).
RESPONSES: dict[str, tuple[Callable[[], Page], str]] = {
    "declared too long": (
        lambda: Page(b"x" * (2 * LIMIT), headers={"Content-Type": "text/plain"}),
        "fetch.max_bytes",
    ),
    "streamed too long": (
        lambda: Page(b"word " * LIMIT, headers={"Content-Type": "text/plain"}, send_length=False),
        f"larger than {LIMIT} bytes (fetch.max_bytes)",
    ),
    "gzip bomb": (
        lambda: Page(
            _gzip_bomb(64 * 1024 * 1024), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
        ),
        f"larger than {LIMIT} bytes (fetch.max_bytes)",
    ),
    "deflate bomb": (
        lambda: Page(
            _deflate_bomb(64 * 1024 * 1024),
            headers={"Content-Type": "text/plain", "Content-Encoding": "deflate"},
        ),
        f"larger than {LIMIT} bytes (fetch.max_bytes)",
    ),
    "slow server": (
        lambda: Page(HTML, headers={"Content-Type": "text/html"}, delay=4),
        "took longer than 2 seconds",
    ),
    "server error": (lambda: Page(b"oops", status=500), "answered 500"),
    "unknown type": (
        lambda: Page(b"\x89PNG\r\n", headers={"Content-Type": "image/png"}),
        "not a kind of page",
    ),
    "lying charset": (  # UTF-16 labelled UTF-8: the parser sees the NULs
        lambda: Page("Café".encode("utf-16-le"), headers={"Content-Type": "text/plain; charset=utf-8"}),
        "looks like UTF-16 text; save it as UTF-8",
    ),
}


@pytest.mark.parametrize("attack", list(RESPONSES))
async def test_oversized_slow_or_broken_responses_store_nothing(public: Target, attack: str) -> None:
    page, reason = RESPONSES[attack]
    public.web.pages["/page"] = page()
    body = await public.add_url(public.web.url("/page"))
    await public.assert_refused_and_intact(body, reason)


# --- otvet ingest: the command-line path --------------------------------------------------------------------


async def test_otvet_ingest_refuses_hostile_urls_and_adds_nothing_of_the_batch(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_bytes(GOOD_MD)
    async with WebServer() as web:
        web.pages["/"] = Page(HTML, headers={"Content-Type": "text/html"})
        web.pages["/to-metadata"] = Page(status=302, headers={"Location": "http://169.254.169.254/latest/"})
        web.pages["/to-loopback"] = Page(status=307, headers={"Location": f"http://2130706433:{web.port}/"})
        env = clean_env(tmp_path / "data", OTVET_FETCH__ALLOW_HOSTS=f"127.0.0.1:{web.port}")
        hostile = {
            f"http://0x7f000001:{web.port}/": "resolves to 127.0.0.1, a loopback address",
            f"http://[::ffff:127.0.0.1]:{web.port}/": "is a loopback address",
            "http://169.254.169.254/latest/meta-data/": "link-local address",
            "http://[fd00::1]/": "is a private address",
            web.url("/to-metadata"): "redirected to http://169.254.169.254/latest/: refused",
            web.url("/to-loopback"): f"redirected to http://2130706433:{web.port}/: refused",
            "gopher://127.0.0.1:6379/_FLUSHALL": "only http and https URLs are fetched",
            "http://admin:pw@example.com/": "user name or password",
        }
        code, _, err = await run_otvet_async("ingest", "good.md", *hostile, env=env, cwd=tmp_path)
        assert [r.path for r in web.requests] == ["/to-metadata", "/to-loopback"]
    assert code == 1 and "Nothing was added" in err and "Traceback" not in err
    for url, reason in hostile.items():
        assert any(line.strip().startswith(url) and reason in line for line in err.splitlines()), (url, err)
    async with Otvet(make_settings(tmp_path)) as otvet:
        assert await otvet.store.list_sources() == []


# --- uploaded files: names ----------------------------------------------------------------------------------

NAMES = {
    "../../etc/passwd.md": "passwd.md",
    "/etc/absolute.md": "absolute.md",
    "..\\..\\windows\\win.md": "win.md",
    "C:\\Windows\\System32\\drive.md": "drive.md",
    "....//....//dots.md": "dots.md",
    "docs/../../../../tmp/nested.md": "nested.md",
    "a\x00b.md": None,  # the NUL never reaches the name as it is
}


@pytest.mark.parametrize("filename", list(NAMES))
async def test_upload_names_cannot_traverse_or_smuggle_paths(
    stored: Target, tmp_path: Path, filename: str
) -> None:
    target = stored
    body = await target.upload((filename, b"# Title\n\nUploaded text.\n"))
    assert "errors" not in body, body
    [stored] = body["data"]["uploadSources"]["added"]
    expected = NAMES[filename]
    if expected is not None:
        assert stored == expected
    for bad in ("/", "\\", "\x00", ".."):
        assert bad not in stored, stored
    names = sorted(s.name for s in await target.api.otvet.store.list_sources())
    assert names == sorted(["kept.md", stored])
    # Nothing was written where the name pointed (uploads live in the database, not in files).
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "tmp" / "nested.md").exists()


# --- uploaded files: size, bombs, broken and mis-encoded content --------------------------------------------


def _docx_bomb() -> bytes:
    """A small .docx whose media folder unpacks to 210 MiB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/media/zeros.bin", "w") as member:
            for _ in range(210):
                member.write(bytes(1024 * 1024))
    return out.getvalue()


def _lying_docx() -> bytes:
    """A zip whose directory says its document is 13 bytes while the deflate stream holds 50 MiB."""
    data = bytearray(zip_bytes({"word/document.xml": b"<w:document/>" + b"\0" * (50 * 1024 * 1024)}))
    central = data.rindex(b"PK\x01\x02")
    local = data.index(b"PK\x03\x04")
    for offset in (local + 22, central + 24):  # the uncompressed size in both headers
        data[offset : offset + 4] = (13).to_bytes(4, "little")
    return bytes(data)


def _pdf(content: bytes, pages: int = 1) -> bytes:
    """A valid PDF whose every page shows ``content`` (a content stream, deflated)."""
    stream = zlib.compress(content, 9)
    kids = " ".join(f"{3 + 2 * n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    font = 3 + 2 * pages
    for n in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * n} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


TEXT_OP = b"BT /F1 12 Tf 72 712 Td (The office opens at nine.) Tj ET\n"
#: A billion-laughs document: nine-fold aliases, 9**6 strings if anything expanded them.
LAUGHS = (
    b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    ).encode()
)

#: attack → (file name, its content (bombs are made when their test runs: they take a moment), what the
#: refusal says).
HOSTILE_FILES: dict[str, tuple[str, bytes | Callable[[], bytes], str]] = {
    "docx zip bomb": ("bomb.docx", _docx_bomb, "a zip bomb?"),
    "docx lying sizes": ("lying.docx", _lying_docx, "lying.docx: "),
    "docx not a zip": ("fake.docx", b"<html>not a document</html>", "is not a Word .docx file"),
    "pdf deflate bomb": ("bomb.pdf", lambda: _pdf(TEXT_OP + b" " * (120 * 1024 * 1024)), "bomb.pdf: "),
    "pdf pages bomb": (
        "pages.pdf",
        lambda: _pdf(TEXT_OP + b" " * (MAX_UNPACKED_BYTES // 4), pages=6),
        "decompress",
    ),
    "pdf truncated": ("cut.pdf", lambda: _pdf(TEXT_OP)[:200], "is not a readable PDF"),
    "pdf not a pdf": ("fake.pdf", b"MZ\x90\x00 an executable", "is not a PDF file"),
    "csv broken": ("bad.csv", b'question,answer\n"unterminated,quote\n', "bad.csv:"),
    "json broken": ("bad.json", b'{"pairs": [{"question": "q", ', "is not valid JSON"),
    "json wrong shape": ("shape.json", b'{"question": 1}', "shape.json"),
    "yaml python object": (
        "evil.yaml",
        b"- question: !!python/object/apply:os.system ['touch /tmp/otvet-pwned']\n  answer: x\n",
        "is not valid YAML",
    ),
    "yaml python name": (
        "name.yaml",
        b"- question: !!python/name:os.system\n  answer: x\n",
        "is not valid YAML",
    ),
    "yaml billion laughs": ("laughs.yaml", LAUGHS, "laughs.yaml"),
    "html binary": ("bin.html", b"\x00\x01\x02\x03" * 100, "looks like a binary file"),
    "markdown invalid utf-8": ("bad.md", b"# T\n\n\xff\xfe\xfd \xc3\x28\n", "is not valid UTF-8"),
    "markdown latin-1": ("latin.md", "# Café\n\nnaïve façade\n".encode("latin-1"), "is not valid UTF-8"),
    "text utf-16": ("wide.txt", "Plain words in UTF-16.\n".encode("utf-16"), "looks like UTF-16 text"),
    "text utf-16 without bom": ("wide.md", "# Words\n\nin UTF-16\n".encode("utf-16-le"), "like UTF-16"),
    "markdown nothing": ("empty.md", b"   \n\n", "empty.md"),
    "unknown extension": ("payload.exe", b"MZ", "unknown kind of file"),
}


@pytest.mark.parametrize("attack", list(HOSTILE_FILES))
async def test_hostile_uploads_are_refused_whole_with_the_file_named(stored: Target, attack: str) -> None:
    target = stored
    name, content, reason = HOSTILE_FILES[attack]
    data = content() if callable(content) else content
    # A good file in the same batch is not stored either: nothing is half-ingested.
    body = await target.upload(("fresh.md", b"# Fresh\n\nA good file.\n"), (name, data))
    message = await target.assert_refused_and_intact(body, reason, "nothing was stored")
    assert body["errors"][0]["extensions"]["problems"][0].startswith(name), message


async def test_a_bom_prefixed_file_is_read_as_utf8(target: Target) -> None:
    """The control for the encodings above: UTF-8 with a byte-order mark is fine, and the BOM is no text."""
    body = await target.upload(("bom.md", b"\xef\xbb\xbf# Title\n\nWith a BOM.\n"))
    assert body["data"]["uploadSources"]["added"] == ["bom.md"]
    [source] = [s for s in await target.api.otvet.store.list_sources() if s.name == "bom.md"]
    assert source.content["sections"][0]["text"] == "With a BOM." and "\ufeff" not in source.title


async def test_an_oversized_upload_is_refused_from_its_length_before_it_is_read(tmp_path: Path) -> None:
    async with _target(tmp_path, graphql={"max_upload_bytes": 64 * 1024}) as target:
        body = b"#" * (10 * 1024 * 1024)
        received = []

        async def trickle() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65536):
                received.append(start)
                yield body[start : start + 65536]

        response = await target.api.client.post(
            "/graphql",
            content=trickle(),
            headers={
                "content-type": "multipart/form-data; boundary=x",
                "content-length": str(len(body)),
                "authorization": f"Bearer {target.api.keys['admin']}",
                "apollo-require-preflight": "true",
            },
        )
        assert response.status_code == 413, response.text
        assert codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
        assert "larger than 65536 bytes" in response.json()["errors"][0]["message"]
        assert len(received) < 10  # refused from the header: most of the body was never pulled
        assert await snapshot(target.api.otvet) == target.before
