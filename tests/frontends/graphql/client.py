"""Talking to ``/graphql`` in tests: an in-process client (httpx over ASGI) with an API key per scope."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from otvet.core.app import Otvet

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def codes(body: Mapping[str, Any]) -> list[str]:
    """The ``extensions.code`` of each error in a response body."""
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


@dataclass
class Api:
    """``/graphql`` of a started Otvet, with API keys ``ask``, ``read`` and ``admin`` (one scope each)."""

    otvet: Otvet
    client: httpx.AsyncClient
    keys: dict[str, str] = field(default_factory=dict)
    #: The ASGI app the client talks to (to serve it on a socket for WebSocket tests).
    app: Any = None

    def headers(self, key: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if key is not None:
            credential = self.keys.get(key, key)
            headers["authorization"] = credential if " " in credential else f"Bearer {credential}"
        return headers

    async def post(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        key: str | None = "admin",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        return await self.client.post("/graphql", json=payload, headers=self.headers(key, headers))

    async def body(
        self, query: str, variables: Mapping[str, Any] | None = None, *, key: str | None = "admin"
    ) -> dict[str, Any]:
        response = await self.post(query, variables, key=key)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(
        self, query: str, variables: Mapping[str, Any] | None = None, *, key: str | None = "admin"
    ) -> dict[str, Any]:
        """The ``data`` of a query that must succeed without errors."""
        body = await self.body(query, variables, key=key)
        assert "errors" not in body, json.dumps(body["errors"], indent=2, ensure_ascii=False)
        return body["data"]

    async def upload(
        self,
        query: str,
        files: Mapping[str, tuple[str, bytes]],
        variables: Mapping[str, Any],
        file_map: Mapping[str, list[str]],
        *,
        key: str | None = "admin",
        preflight: bool = True,
    ) -> httpx.Response:
        """A GraphQL multipart request (operations, map, then the files by their form field name)."""
        headers = {"Apollo-Require-Preflight": "true"} if preflight else {}
        form = {
            "operations": json.dumps({"query": query, "variables": dict(variables)}),
            "map": json.dumps(dict(file_map)),
        }
        return await self.client.post(
            "/graphql",
            data=form,
            files={name: (filename, content) for name, (filename, content) in files.items()},
            headers=self.headers(key, headers),
        )
