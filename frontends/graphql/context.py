"""What every resolver gets as ``info.context``: the running Otvet and who is calling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from otvet.core.accounts import AuthError, Principal
from otvet.frontends.graphql.errors import from_auth_error
from otvet.frontends.sessions import cookie_credential, session_credential

if TYPE_CHECKING:
    from starlette.requests import Request
    from strawberry.types import Info

    from otvet.config.settings import GraphQLSettings
    from otvet.core.app import Otvet

#: The channel the engine records API turns under (conversations, quotas and usage reports name it).
CHANNEL = "graphql"


@dataclass
class GraphQLContext:
    """One HTTP request, or one WebSocket connection with every operation on it."""

    otvet: Otvet
    request: Request | WebSocket
    #: None: anonymous (no credential sent). An invalid credential never gets this far.
    principal: Principal | None = None
    #: The ``connection_init`` payload of a WebSocket (strawberry fills it in).
    connection_params: dict[str, Any] | None = None
    #: Batch loaders by name, made on first use (source_preview.py): the items of one list share a
    #: store call. They cache nothing, so a WebSocket's later operations read fresh data.
    loaders: dict[str, Any] = field(default_factory=dict)

    @property
    def client_address(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"

    @property
    def settings(self) -> GraphQLSettings:
        return self.otvet.settings.graphql

    @property
    def locale_hint(self) -> str | None:
        """The client's ``Accept-Language``: a hint for the language of answers and failure messages."""
        return self.request.headers.get("accept-language")

    @property
    def is_websocket(self) -> bool:
        return isinstance(self.request, WebSocket)

    def credential(self) -> str | None:
        """The credential of a WebSocket: ``connection_init``'s ``authorization``, else the handshake's, else
        the console's session cookie when ``connection_init`` carries its CSRF token (``csrf``)."""
        params = self.connection_params or {}
        for key in ("authorization", "Authorization"):
            value = params.get(key)
            if isinstance(value, str) and value.strip():
                return value
        header = self.request.headers.get("authorization")
        if header:
            return header
        return cookie_credential(self.otvet, self.request, params.get("csrf"))

    def request_credential(self) -> str | None:
        """The credential this request or connection carries: its ``Authorization`` header, else the
        console's session cookie with its CSRF token."""
        if self.is_websocket:
            return self.credential()
        return self.request.headers.get("authorization") or session_credential(self.request)

    async def reauthenticate(self) -> None:
        """On a WebSocket, check the credential again for a new operation.

        A connection can outlive its credential (a revoked key, an expired login), and each operation
        counts against the rate limit like an HTTP request does. Over HTTP the request was checked already.
        """
        if not self.is_websocket:
            return
        try:
            self.principal = await self.otvet.accounts.authenticate(self.credential())
        except AuthError as exc:
            raise from_auth_error(exc) from None


def context_of(info: Info) -> GraphQLContext:
    context = info.context
    assert isinstance(context, GraphQLContext), "the GraphQL app always passes a GraphQLContext"
    return context
