"""One test per hook (``test_hook_<name>``), each registering a throwaway plugin, plus the meta-tests that
keep every hook documented and tested.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import click
import pluggy
import pytest

from otvet import hookimpl
from otvet.core import hookspecs
from otvet.core.app import Otvet
from otvet.core.llm import AnswerRequest, Provider, ProviderDone
from otvet.core.plugins import make_plugin_manager
from otvet.core.registry import RegistryError
from otvet.core.retrieval import IndexedChunk, Retriever, RetrieverIndex
from otvet.core.sources import ParsedSource, Section, SourceType
from otvet.core.types import Failure, Final, HistoryMessage, Passage, Refusal, Turn
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pm() -> pluggy.PluginManager:
    return make_plugin_manager(load_entry_points=False)


def with_plugin(pm: pluggy.PluginManager, plugin: object, name: str) -> Callable[[], None]:
    pm.register(plugin, name=name)
    return lambda: pm.unregister(name=name)


class EchoProvider(Provider):
    name = "echo"

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        yield f"echo: {request.question}"
        yield ProviderDone(cited=())


def ask(otvet: Otvet, text: str) -> Any:
    return otvet.engine.ask(Turn(channel="test", user_id="u", text=text))


# --- registration hooks ------------------------------------------------------------------------------------


def test_registration_goes_through_pluggy_so_wrappers_and_tracing_see_it(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    wrapped: list[int] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def register_providers(self) -> Any:
            wrapped.append(1)  # a wrapper runs around every plugin's registration
            return (yield)

    traced: list[str] = []
    undo = pm.add_hookcall_monitoring(lambda name, impls, kwargs: traced.append(name), lambda *a: None)
    remove = with_plugin(pm, Wrapper(), "wrapper-plugin")
    try:
        otvet = Otvet(make_settings(tmp_path), pm)
    finally:
        remove()
        undo()
    # One call per implementing plugin, each through pluggy: the built-in providers were registered.
    providers = [impl for impl in pm.hook.register_providers.get_hookimpls() if not impl.wrapper]
    assert traced.count("register_providers") == len(wrapped) == len(providers) >= 2
    assert traced.count("register_routes") == 0  # routes are collected when the HTTP app is built
    assert {"extractive", "openai"} <= set(otvet.providers)


async def test_hook_register_providers(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[..., None]) -> None:
            register("echo", lambda otvet: EchoProvider())

    remove = with_plugin(pm, Plugin(), "echo-plugin")
    try:
        async with Otvet(make_settings(tmp_path, provider="echo"), pm) as otvet:
            result = await ask(otvet, "ping?")
        assert isinstance(result, Final) and result.text == "echo: ping?" and result.provider == "echo"

        # A second plugin claiming the same name is refused, naming both plugins.
        class Clash:
            @hookimpl
            def register_providers(self, register: Callable[..., None]) -> None:
                register("echo", lambda otvet: EchoProvider())

        pm.register(Clash(), name="clash-plugin")
        with pytest.raises(RegistryError, match=r"echo-plugin.*clash-plugin|clash-plugin.*echo-plugin"):
            Otvet(make_settings(tmp_path), pm)
        pm.unregister(name="clash-plugin")
    finally:
        remove()


async def test_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"unknown LLM provider 'gpt9'; known: extractive, openai$"):
        await Otvet(make_settings(tmp_path, provider="gpt9")).start()


async def test_hook_register_retrievers(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    built: list[int] = []

    class SubstringIndex(RetrieverIndex):
        def __init__(self, chunks: list[IndexedChunk]) -> None:
            self.chunks = chunks

        def search(self, query: str, k: int) -> list[Passage]:
            hits = [c for c in self.chunks if query.split()[0].lower() in c.text.lower()]
            return [Passage(c.text, 1.0, c.source) for c in hits[:k]]

    class SubstringRetriever(Retriever):
        name = "substring"

        def build(self, chunks: Any) -> RetrieverIndex:
            built.append(len(chunks))
            return SubstringIndex(list(chunks))

    class Plugin:
        @hookimpl
        def register_retrievers(self, register: Callable[..., None]) -> None:
            register("substring", lambda otvet: SubstringRetriever())

    remove = with_plugin(pm, Plugin(), "substring-plugin")
    try:
        settings = make_settings(tmp_path, retrieval={"retriever": "substring"})
        async with Otvet(settings, pm) as otvet:
            doc = tmp_path / "zebra.txt"
            doc.write_text("Zebras are striped.", encoding="utf-8")
            from otvet.core.ingest import ingest_paths

            await ingest_paths(otvet, [doc], base=tmp_path)
            passages = await otvet.knowledge.search("zebras please", 3)
        assert built == [1]
        assert [p.text for p in passages] == ["Zebras are striped."]
    finally:
        remove()


async def test_hook_register_source_types(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    class FaqLines(SourceType):
        name = "faq_lines"
        extensions = (".faq",)

        def parse(self, data: bytes, *, origin: str) -> ParsedSource:
            return ParsedSource(title="Lines", sections=[Section(data.decode().upper(), "Lines")])

    class Plugin:
        @hookimpl
        def register_source_types(self, register: Callable[..., None]) -> None:
            register(FaqLines())

    remove = with_plugin(pm, Plugin(), "faq-plugin")
    try:
        async with Otvet(make_settings(tmp_path), pm) as otvet:
            assert "faq_lines" in otvet.source_types
            (tmp_path / "a.faq").write_text("penguins live in the south", encoding="utf-8")
            from otvet.core.ingest import ingest_paths

            report = await ingest_paths(otvet, [tmp_path / "a.faq"], base=tmp_path)
            sources = await otvet.store.list_sources()
        assert report.added == ["a.faq"]
        assert sources[0].type == "faq_lines"
        assert sources[0].content["sections"][0]["text"] == "PENGUINS LIVE IN THE SOUTH"
    finally:
        remove()


async def test_hook_register_storage(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    from otvet.plugins.storage.store import TortoiseStore

    calls: list[str] = []

    class CountingStore(TortoiseStore):
        async def add_message(self, *args: Any, **kwargs: Any) -> int:
            calls.append(args[1])
            return await super().add_message(*args, **kwargs)

    class Plugin:
        @hookimpl
        def register_storage(self, register: Callable[..., None]) -> None:
            register("counting", CountingStore)

    remove = with_plugin(pm, Plugin(), "counting-plugin")
    try:
        async with Otvet(make_settings(tmp_path, storage="counting"), pm) as otvet:
            await ask(otvet, "hello?")
        assert calls == ["user", "assistant"]
    finally:
        remove()


async def test_hook_register_models(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[..., None]) -> None:
            register("notes", "tests.support.extra_models", "tests.support.extra_migrations")

    remove = with_plugin(pm, Plugin(), "notes-plugin")
    try:
        async with Otvet(make_settings(tmp_path), pm):
            from tests.support.extra_models import Note

            await Note.create(text="a plugin's own table")
            assert [n.text for n in await Note.all()] == ["a plugin's own table"]
    finally:
        remove()


async def test_hook_register_job_types(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    from otvet.core.jobs import JobContext, Worker

    async def shout(otvet: Otvet, job: JobContext) -> dict[str, Any]:
        return {"text": str(job.payload["text"]).upper()}

    class Plugin:
        @hookimpl
        def register_job_types(self, register: Callable[..., None]) -> None:
            register("shout", shout)

    class Clash:
        @hookimpl
        def register_job_types(self, register: Callable[..., None]) -> None:
            register("retrain", shout)

    remove = with_plugin(pm, Plugin(), "shout-plugin")
    try:
        async with Otvet(make_settings(tmp_path), pm) as otvet:
            assert {"retrain", "shout"} <= set(otvet.job_handlers)
            job = await otvet.store.enqueue_job("shout", {"text": "hi"})
            done = await Worker(otvet).run_one()
            assert done is not None and done.id == job.id
            assert (done.status, done.result) == ("succeeded", {"text": "HI"})
        remove_clash = with_plugin(pm, Clash(), "clash-plugin")
        try:
            with pytest.raises(
                RegistryError, match=r"'retrain' is registered twice: by otvet\.core\.jobs and by clash"
            ):
                Otvet(make_settings(tmp_path), pm).job_handlers  # noqa: B018
        finally:
            remove_clash()
    finally:
        remove()


async def test_hook_register_locale_dirs(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    catalog = tmp_path / "locales" / "ru" / "LC_MESSAGES"
    catalog.mkdir(parents=True)
    (catalog / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Sources:"\nmsgstr "Откуда это:"\n\n'
        'msgid "Plugin greeting"\nmsgstr "Привет от плагина"\n',
        encoding="utf-8",
    )

    class Plugin:
        @hookimpl
        def register_locale_dirs(self, register: Callable[[Path], None]) -> None:
            register(tmp_path / "locales")

    remove = with_plugin(pm, Plugin(), "locale-plugin")
    try:
        otvet = Otvet(make_settings(tmp_path), pm)
        t = otvet.i18n.get("ru")
        assert t.gettext("Plugin greeting") == "Привет от плагина"
        assert t.gettext("Sources:") == "Откуда это:"  # the plugin overrides the core catalog
        # Core strings the plugin does not mention still come from the core catalog.
        assert t.gettext("Please write your question as text.") == "Пожалуйста, напишите вопрос текстом."
    finally:
        remove()


async def test_hook_detect_language(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    class Plugin:
        @hookimpl
        def detect_language(self, text: str, hint: str | None) -> str | None:
            seen.append((text, hint))
            return "ru" if "tovarisch" in text else None  # None defers to the built-in detector

    remove = with_plugin(pm, Plugin(), "translit-plugin")
    try:
        otvet = Otvet(make_settings(tmp_path), pm)
        assert otvet.detect_language("privet tovarisch", "en") == "ru"
        assert otvet.detect_language("hello friend", None) == "en"
        assert otvet.detect_language("Привет, друг", None) == "ru"
        assert seen[0] == ("privet tovarisch", "en")
    finally:
        remove()


class EchoPlugin:
    @hookimpl
    def register_providers(self, register: Callable[..., None]) -> None:
        register("echo", lambda otvet: EchoProvider())


async def test_hook_review_question(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    class MaskPhones:
        @hookimpl
        def review_question(self, question: str) -> str | None:
            masked = re.sub(r"\+?\d[\d -]{7,}\d", "[phone]", question)
            return masked if masked != question else None

    class Moderate:
        @hookimpl
        async def review_question(self, question: str, language: str) -> Refusal | None:
            if "casino" in question.lower():
                return Refusal("Об этом я не отвечаю." if language == "ru" else "I don't answer that.")
            return None

    removes = [
        with_plugin(pm, EchoPlugin(), "echo-plugin"),
        with_plugin(pm, MaskPhones(), "mask-plugin"),
        with_plugin(pm, Moderate(), "moderation-plugin"),
    ]
    try:
        async with Otvet(make_settings(tmp_path, provider="echo"), pm) as otvet:
            answered = await ask(otvet, "Call me at +7 912 345-67-89 please")
            assert isinstance(answered, Final)
            assert answered.text == "echo: Call me at [phone] please"  # the provider saw the masked text
            stored = await otvet.store.messages(answered.conversation_id)
            assert stored[0].text == "Call me at [phone] please"  # and so did the database

            refused = await ask(otvet, "Best casino bonus?")
            assert isinstance(refused, Failure)
            assert (refused.code, refused.message) == ("refused", "I don't answer that.")
            asked = (await otvet.store.messages(refused.conversation_id))[-1]
            assert (asked.text, asked.status) == ("Best casino bonus?", "rejected")  # kept, never answered
            assert await otvet.store.history(refused.conversation_id, 10) == [
                HistoryMessage("user", "Call me at [phone] please"),
                HistoryMessage("assistant", "echo: Call me at [phone] please"),
            ]
    finally:
        for remove in removes:
            remove()


async def test_a_review_returning_nonsense_fails_the_turn_naming_the_plugin(
    pm: pluggy.PluginManager, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def review_question(self) -> str:
            return "   "

    removes = [with_plugin(pm, EchoPlugin(), "echo-plugin"), with_plugin(pm, Broken(), "broken-plugin")]
    try:
        async with Otvet(make_settings(tmp_path, provider="echo"), pm) as otvet:
            failed = await ask(otvet, "hello?")
        assert isinstance(failed, Failure) and failed.code == "internal_error"
        assert "plugin broken-plugin's review_question returned '   '" in caplog.text
    finally:
        for remove in removes:
            remove()


async def test_hook_answer_finished(
    pm: pluggy.PluginManager, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str, str]] = []

    class Audit:
        @hookimpl
        async def answer_finished(self, turn: Turn, event: Final | Failure) -> None:
            seen.append((turn.user_id, turn.text, event.type))

    class Broken:
        @hookimpl
        def answer_finished(self) -> None:
            raise RuntimeError("observer down")

    removes = [
        with_plugin(pm, EchoPlugin(), "echo-plugin"),
        with_plugin(pm, Broken(), "broken-plugin"),
        with_plugin(pm, Audit(), "audit-plugin"),
    ]
    try:
        async with Otvet(make_settings(tmp_path, provider="echo"), pm) as otvet:
            answered = await ask(otvet, "hello?")
            failed = await ask(otvet, "   ")
        # The broken observer is logged; the user still gets the answer and the other observer runs.
        assert isinstance(answered, Final) and answered.text == "echo: hello?"
        assert isinstance(failed, Failure) and failed.code == "empty_question"
        assert seen == [("u", "hello?", "final"), ("u", "   ", "failure")]
        assert caplog.text.count("plugin broken-plugin failed in answer_finished") == 2
    finally:
        for remove in removes:
            remove()


async def test_hook_startup(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    events: list[str] = []

    class Plugin:
        @hookimpl
        def startup(self, otvet: Otvet) -> Any:
            async def warm_up() -> None:
                # Storage is connected by the time startup runs.
                events.append(f"startup ping={await otvet.store.ping()}")

            return warm_up()

    remove = with_plugin(pm, Plugin(), "startup-plugin")
    try:
        async with Otvet(make_settings(tmp_path), pm):
            events.append("running")
        assert events == ["startup ping=True", "running"]
    finally:
        remove()


async def test_hook_shutdown(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    events: list[str] = []

    class Plugin:
        @hookimpl
        def shutdown(self, otvet: Otvet) -> None:
            events.append(f"shutdown started={otvet.started}")

    remove = with_plugin(pm, Plugin(), "shutdown-plugin")
    try:
        async with Otvet(make_settings(tmp_path), pm):
            events.append("running")
        assert events == ["running", "shutdown started=True"]
    finally:
        remove()


async def test_hook_register_routes(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from otvet.frontends.app import create_app

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"hello from {request.app.state.otvet.provider.name}")

    class Plugin:
        @hookimpl
        def register_routes(self, register: Callable[..., None]) -> None:
            register(Route("/plugin/hello", hello))

    remove = with_plugin(pm, Plugin(), "route-plugin")
    try:
        app = create_app(Otvet(make_settings(tmp_path), pm))
        with TestClient(app) as client:
            response = client.get("/plugin/hello")
            assert response.status_code == 200 and response.text == "hello from extractive"
            assert client.get("/healthz").json() == {"status": "ok"}
    finally:
        remove()


def test_hook_register_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from otvet.frontends.cli import main as cli_main

    class Plugin:
        @hookimpl
        def register_commands(self, cli: click.Group) -> None:
            @cli.command(name="hello-plugin")
            @click.argument("name")
            def hello(name: str) -> None:
                """Say hello from a plugin."""
                click.echo(f"Hello, {name}, from a plugin")

    original = cli_main.make_plugin_manager

    def with_test_plugin(**kwargs: Any) -> pluggy.PluginManager:
        manager = original(load_entry_points=False)
        manager.register(Plugin(), name="command-plugin")
        return manager

    monkeypatch.setattr(cli_main, "make_plugin_manager", with_test_plugin)
    monkeypatch.setenv("OTVET_DATA_DIR", str(tmp_path))
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli_main.main(["hello-plugin", "Ann"])
        assert exit_info.value.code == 0
        assert "Hello, Ann, from a plugin" in capsys.readouterr().out
        with pytest.raises(SystemExit):
            cli_main.main(["--help"])
        assert "hello-plugin" in capsys.readouterr().out
    finally:
        cli_main.cli.commands.pop("hello-plugin", None)


def test_hook_register_graphql() -> None:
    import strawberry

    from otvet.frontends.graphql.schema import build_schema, plugin_types

    @strawberry.type
    class HelloQuery:
        @strawberry.field(description="A plugin's greeting.")
        def plugin_hello(self, name: str) -> str:
            return f"Hello, {name}, from a plugin"

    class Plugin:
        @hookimpl
        def register_graphql(self, register: Callable[..., None]) -> None:
            register(query=HelloQuery)

    manager = make_plugin_manager(load_entry_points=False)
    manager.register(Plugin(), name="graphql-plugin")
    schema = build_schema(types=plugin_types(manager))
    result = schema.execute_sync('query Hello { pluginHello(name: "Ann") }')
    assert result.errors is None and result.data == {"pluginHello": "Hello, Ann, from a plugin"}
    # Otvet's own fields are all still there, and the built-in plugins' (fine-tuning is one).
    fields = schema.as_str()
    assert "askStream(" in fields and "startFineTune(" in fields and "pluginHello(" in fields

    @strawberry.type
    class Clash:
        @strawberry.field
        def plugin_hello(self) -> str:
            return "again"

    class Clashing:
        @hookimpl
        def register_graphql(self, register: Callable[..., None]) -> None:
            register(query=Clash)

    manager.register(Clashing(), name="clashing-plugin")
    with pytest.raises(ValueError, match=r"Query\.pluginHello is defined by both (Clash|HelloQuery) and"):
        build_schema(types=plugin_types(manager))


# --- meta-tests --------------------------------------------------------------------------------------------


def test_every_hook_is_documented_with_signature_and_example() -> None:
    docs = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
    for name in hookspecs.hook_names():
        section = re.search(rf"^## `?{name}`?\n(.*?)(?=^## |\Z)", docs, re.M | re.S)
        assert section, f"docs/plugin_hooks.md has no '## {name}' section"
        body = section.group(1)
        assert f"{name}(" in body, f"the {name} section does not show the hook's signature"
        assert "@hookimpl" in body, f"the {name} section has no example implementation"


def test_every_hook_has_a_test() -> None:
    tests = {p.name for p in Path(__file__).parent.glob("test_*.py")}
    source = "".join((Path(__file__).parent / name).read_text(encoding="utf-8") for name in tests)
    for name in hookspecs.hook_names():
        assert f"def test_hook_{name}(" in source, f"hook {name} has no test_hook_{name}"


def test_hook_names_are_found() -> None:
    assert "register_providers" in hookspecs.hook_names()
    assert "detect_language" in hookspecs.hook_names()
    assert len(hookspecs.hook_names()) == 16


def test_every_example_in_the_hook_docs_registers_as_a_valid_plugin() -> None:
    """Each ``@hookimpl`` example runs and passes pluggy's check of its arguments against the spec."""
    import types

    docs = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", docs, re.S) if "@hookimpl" in b]
    assert len(blocks) >= len(hookspecs.hook_names())
    for number, block in enumerate(blocks):
        module = types.ModuleType(f"doc_example_{number}")
        module.__file__ = str(ROOT / "docs" / "plugin_hooks.md")
        exec(compile(block, f"docs/plugin_hooks.md example {number}", "exec"), module.__dict__)
        manager = make_plugin_manager(load_entry_points=False)
        manager.register(module, name=module.__name__)  # raises on an unknown hook or argument
        assert manager.get_hookcallers(module), f"example {number} implements no hook"
