"""The running Otvet: settings, plugins, registries, storage, knowledge and the engine, started and stopped
together. Every hook receives this object as ``otvet``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pluggy

from otvet.config.settings import Settings
from otvet.core.i18n import I18n
from otvet.core.lifecycle import Lifecycle, Service
from otvet.core.plugins import make_plugin_manager
from otvet.core.registry import Registry, RegistryError
from otvet.core.tracing import Tracing

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from otvet.core.accounts import Accounts
    from otvet.core.embeddings import Embedder, EmbedderFactory
    from otvet.core.engine import Engine
    from otvet.core.inbox import Inbox
    from otvet.core.jobs import JobHandler
    from otvet.core.knowledge import KnowledgeBase
    from otvet.core.llm import Provider, ProviderFactory
    from otvet.core.metrics import Metrics
    from otvet.core.quotas import Quotas
    from otvet.core.retrieval import Retriever, RetrieverFactory
    from otvet.core.sources import SourceType
    from otvet.core.store import Store, StoreFactory
    from otvet.core.transcription import Transcriber, TranscriberFactory
    from otvet.core.types import Failure, Final, Refusal, Turn

log = logging.getLogger(__name__)


class Otvet:
    """One Otvet instance. Construct it, then ``async with otvet:`` (or ``await start()`` / ``stop()``)."""

    def __init__(
        self,
        settings: Settings | None = None,
        pm: pluggy.PluginManager | None = None,
        *,
        service: Service = "cli",
    ) -> None:
        self.settings = settings or Settings()
        self.pm = pm or make_plugin_manager(
            allow=self.settings.plugins, disable=self.settings.disable_plugins
        )
        self.providers: Registry[ProviderFactory] = Registry("LLM provider")
        self.transcribers: Registry[TranscriberFactory] = Registry("transcriber")
        self.retrievers: Registry[RetrieverFactory] = Registry("retriever")
        self.embedders: Registry[EmbedderFactory] = Registry("embedder")
        self.source_types: Registry[SourceType] = Registry("source type")
        self.storages: Registry[StoreFactory] = Registry("storage backend")
        #: The roles each storage backend registered for (core/storage.py chooses one per role).
        self.storage_backend_roles: dict[str, frozenset[str]] = {}
        #: Job types plugins add; :attr:`job_handlers` adds the built-in ones.
        self.job_types: Registry[JobHandler] = Registry("job type")
        self.locale_dirs: list[Path] = []
        #: Per-plugin runtime state (a running bot, a client), keyed by the plugin's name.
        self.state: dict[str, object] = {}
        #: The webhook inboxes running in this process, by channel (core/inbox.py).
        self.inboxes: dict[str, Inbox] = {}
        #: Which service this process is, the work in progress, draining and readiness checks.
        self.lifecycle = Lifecycle(service)
        #: OpenTelemetry spans of turns, when ``tracing.exporter`` is set (core/tracing.py).
        self.tracing = Tracing()
        #: Which plugin registered each HTTP route (``routes()`` fills it): the ``frontend`` of its metrics.
        self.route_owners: list[tuple[BaseRoute, str]] = []
        self._hook_calls: dict[str, list[tuple[str, Callable[..., Any]]]] = {}
        self._collect_registrations()
        self.i18n = I18n(self.locale_dirs, self.settings.languages, self.settings.default_language)
        self._provider: Provider | None = None
        self._fallback: Provider | None = None
        self._transcriber: Transcriber | None = None
        self._retriever: Retriever | None = None
        self._embedder: Embedder | None = None
        self._store: Store | None = None
        self._knowledge: KnowledgeBase | None = None
        self._engine: Engine | None = None
        self._quotas: Quotas | None = None
        self._accounts: Accounts | None = None
        self._metrics: Metrics | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self.started = False

    # --- registration -----------------------------------------------------------------------------------

    def _collect_registrations(self) -> None:
        # Named things are collected implementation by implementation so that a name registered twice is
        # reported with both plugins' names instead of one silently replacing the other.
        self._collect("register_providers", self.providers.register)
        self._collect("register_transcribers", self.transcribers.register)
        self._collect("register_retrievers", self.retrievers.register)
        self._collect("register_embedders", self.embedders.register)
        self._collect("register_storage", self._register_storage)
        self._collect("register_job_types", self.job_types.register)
        self._collect(
            "register_source_types",
            lambda source_type, *, owner: self.source_types.register(
                source_type.name, source_type, owner=owner
            ),
        )
        self.pm.hook.register_locale_dirs(
            register=lambda path: self.locale_dirs.append(Path(path)), otvet=self
        )

    def _collect(self, hook_name: str, register: Callable[..., None]) -> None:
        for owner, call in self._calls_per_plugin(hook_name):

            def bound(*args: object, _owner: str = owner, **kwargs: object) -> None:
                register(*args, owner=_owner, **kwargs)

            call(register=bound, otvet=self)

    def _register_storage(
        self, name: str, factory: StoreFactory, *, roles: Iterable[str] | None = None, owner: str
    ) -> None:
        from otvet.core.storage import check_roles

        checked = check_roles(roles)
        self.storages.register(name, factory, owner=owner)
        self.storage_backend_roles[name] = checked

    def _plugin_calls(self, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
        """:meth:`_calls_per_plugin`, made once per hook: for hooks called on every turn."""
        calls = self._hook_calls.get(hook_name)
        if calls is None:
            calls = self._hook_calls[hook_name] = self._calls_per_plugin(hook_name)
        return calls

    def _calls_per_plugin(self, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
        """Each plugin's implementation of ``hook_name`` as a hook call of its own, in registration order:
        through pluggy, so its wrappers and tracing apply, yet each call knows which plugin registers what
        (a name registered twice is reported with both plugins' names)."""
        impls = [
            i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if not (i.hookwrapper or i.wrapper)
        ]
        plugins = [impl.plugin for impl in impls]
        return [
            (
                impl.plugin_name,
                self.pm.subset_hook_caller(
                    hook_name, remove_plugins=[p for p in plugins if p is not impl.plugin]
                ),
            )
            for impl in impls
        ]

    @property
    def job_handlers(self) -> dict[str, JobHandler]:
        """Every job type a worker runs: the built-in ones (:data:`otvet.core.jobs.BUILT_IN`) and plugins'.
        A plugin's name that is already built in is refused, naming both, like any other collision."""
        from otvet.core.jobs import BUILT_IN

        handlers = dict(BUILT_IN)
        for name in self.job_types:
            if name in handlers:
                raise RegistryError(
                    f"job type {name!r} is registered twice: by otvet.core.jobs and by "
                    f"{self.job_types.owner(name)}"
                )
            handlers[name] = self.job_types.get(name)
        return handlers

    # --- the parts, created on first use so that light commands (``otvet plugins``) stay light -----------

    @property
    def store(self) -> Store:
        if self._store is None:
            from otvet.core.storage import compose_store

            self._store = compose_store(self)
        return self._store

    @property
    def provider_name(self) -> str:
        """The provider that answers: the configured one, with ``auto`` resolved."""
        name = self.settings.provider
        if name == "auto":
            # An OpenAI key (or a server of one's own) is the one setting that switches to the model.
            return (
                "openai" if self.settings.openai.configured and "openai" in self.providers else "extractive"
            )
        return name

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = self.providers.get(self.provider_name)(self)
        return self._provider

    @property
    def fallback_provider(self) -> Provider | None:
        """Who answers when the provider fails before saying anything; None when nobody should."""
        name = self.settings.fallback_provider
        if not name or name == self.provider_name:
            return None
        if self._fallback is None:
            self._fallback = self.providers.get(name)(self)
        return self._fallback

    @property
    def transcriber_name(self) -> str:
        """The transcriber of voice questions: the configured one, with ``auto`` resolved; empty for none."""
        name = self.settings.transcription.provider
        if name == "auto":
            configured = self.settings.transcription.own_server or self.settings.openai.configured
            return "openai" if configured and "openai" in self.transcribers else ""
        return name

    @property
    def transcriber(self) -> Transcriber | None:
        """Who transcribes voice questions; None when nobody does (voice messages are then declined)."""
        name = self.transcriber_name
        if not name:
            return None
        if self._transcriber is None:
            self._transcriber = self.transcribers.get(name)(self)
        return self._transcriber

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = self.retrievers.get(self.settings.retrieval.retriever)(self)
        return self._retriever

    @property
    def embedder(self) -> Embedder | None:
        """The embedder giving chunks vectors (``retrieval.embedder``), or None for BM25 alone."""
        name = self.settings.retrieval.embedder
        if not name:
            return None
        if self._embedder is None:
            self._embedder = self.embedders.get(name)(self)
        return self._embedder

    @property
    def knowledge(self) -> KnowledgeBase:
        if self._knowledge is None:
            from otvet.core.knowledge import KnowledgeBase

            self._knowledge = KnowledgeBase(self)
        return self._knowledge

    @property
    def knowledge_if_loaded(self) -> KnowledgeBase | None:
        """The knowledge base if something used it already, else None (without creating it)."""
        return self._knowledge

    @property
    def metrics(self) -> Metrics:
        """This instance's Prometheus metrics (core/metrics.py)."""
        if self._metrics is None:
            from otvet.core.metrics import Metrics

            self._metrics = Metrics(self.lifecycle.service)
        return self._metrics

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from otvet.core.engine import Engine

            self._engine = Engine(self)
        return self._engine

    @property
    def quotas(self) -> Quotas:
        if self._quotas is None:
            from otvet.core.quotas import Quotas

            self._quotas = Quotas(self)
        return self._quotas

    @property
    def accounts(self) -> Accounts:
        """Admin accounts, login tokens, API keys and the per-caller rate limit (core/accounts.py)."""
        if self._accounts is None:
            from otvet.core.accounts import Accounts

            self._accounts = Accounts(self)
        return self._accounts

    def routes(self, plugins: Collection[str] | None = None) -> list[BaseRoute]:
        """Routes every plugin (or only the named ``plugins``) adds to the HTTP app; :attr:`route_owners`
        records which plugin added each."""
        owners: list[tuple[BaseRoute, str]] = []
        # pluggy calls implementations last-registered first: the same order here, so routes match as before.
        for owner, call in reversed(self._calls_per_plugin("register_routes")):
            if plugins is not None and owner not in plugins:
                continue

            def register(route: BaseRoute, _owner: str = owner) -> None:
                owners.append((route, _owner))

            call(register=register, otvet=self)
        self.route_owners = owners
        return [route for route, _ in owners]

    def detect_language(self, text: str, hint: str | None = None) -> str | None:
        """Ask the ``detect_language`` hook which of our languages ``text`` is in."""
        found: str | None = self.pm.hook.detect_language(
            text=text, hint=hint, languages=self.i18n.languages, otvet=self
        )
        return found

    async def review_question(self, question: str, turn: Turn, language: str) -> str | Refusal:
        """The question as the ``review_question`` plugins leave it, in turn, or the first refusal."""
        from otvet.core.types import Refusal

        for owner, call in self._plugin_calls("review_question"):
            for result in call(question=question, turn=turn, language=language, otvet=self):
                value = await result if inspect.isawaitable(result) else result
                if isinstance(value, Refusal):
                    return value
                if value is None:
                    continue
                if not isinstance(value, str) or not value.strip():
                    raise TypeError(
                        f"plugin {owner}'s review_question returned {value!r}: return None, a non-empty "
                        "question or a Refusal"
                    )
                question = value
        return question

    async def answer_finished(self, turn: Turn, event: Final | Failure) -> None:
        """Tell the ``answer_finished`` plugins one by one: one failing is logged, the rest still run."""
        for owner, call in self._plugin_calls("answer_finished"):
            try:
                for result in call(turn=turn, event=event, otvet=self):
                    if inspect.isawaitable(result):
                        await result
            except Exception:
                log.exception("plugin %s failed in answer_finished", owner)

    # --- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect storage, apply migrations when configured to, validate the choices, run startup hooks."""
        if self.started:
            return
        # Resolve named choices first, so a typo in OTVET_PROVIDER fails before anything is touched.
        self.provider  # noqa: B018
        self.fallback_provider  # noqa: B018
        self.transcriber  # noqa: B018
        self.retriever  # noqa: B018
        self.embedder  # noqa: B018
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.tracing.setup(self.settings.tracing)
        await self.store.connect()
        self.started = True
        try:
            if self.settings.auto_migrate:
                await self.store.migrate()  # the store logs each migration it applies
            await self.knowledge.recover()
            for result in self.pm.hook.startup(otvet=self):
                if inspect.isawaitable(result):
                    await result
            if self.lifecycle.service != "cli":
                from otvet.core import housekeeping

                self._housekeeping = asyncio.create_task(housekeeping.run(self), name="housekeeping")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if not self.started:
            return
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
            self._housekeeping = None
        try:
            for result in self.pm.hook.shutdown(otvet=self):
                if inspect.isawaitable(result):
                    await result
        finally:
            if self._knowledge is not None:
                await self._knowledge.close()
            for provider in (self._provider, self._fallback):
                if provider is not None:
                    await provider.aclose()
            if self._transcriber is not None:
                await self._transcriber.aclose()
                self._transcriber = None
            if self._embedder is not None:
                await self._embedder.aclose()
            await self.store.close()
            self.tracing.shutdown()
            self.started = False

    async def __aenter__(self) -> Otvet:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
