"""python-telegram-bot's Bot API requests over ``httpx2`` (the client the ``openai`` package uses).

PTB's own :class:`telegram.request.HTTPXRequest` uses ``httpx``, whose connection pool re-examines every
connection on each request: with 50 chats answered at once, that costs several milliseconds of CPU per Bot
API call, most of a Telegram update's budget (docs/performance.md). ``httpx2`` has the same API and a pool
that does not, so this class is PTB's HTTPXRequest with the client swapped: same timeouts, the same pool
size, the same mapping of failures onto PTB's errors (so retries in delivery.py see what they always saw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput
    from telegram.request import RequestData


#: Connections to the Bot API. The pool examines each of its connections on every call, so one sized for
#: the peak (PTB's default is 256) makes every later call pay for it: ~2.5 ms of CPU per call with 256
#: open against ~1 ms with 32. 32 calls in flight are more than Telegram accepts anyway (~30 messages/s).
BOT_API_CONNECTIONS = 32
#: Seconds a call may wait for one of them. Waiting means a burst (hundreds of answers finishing at once),
#: not a fault: each call frees its connection within the read timeout, so wait rather than fail at 1 s.
BOT_API_POOL_TIMEOUT = 10.0


class Httpx2Request(BaseRequest):
    """A :class:`BaseRequest` on ``httpx2.AsyncClient``; defaults are those of PTB's HTTPXRequest."""

    __slots__ = ("_client", "_limits", "_media_write_timeout", "_timeout")

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._timeout = httpx2.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._limits = httpx2.Limits(max_connections=connection_pool_size)
        self._media_write_timeout = media_write_timeout
        self._client = self._build_client()

    def _build_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self._timeout, limits=self._limits)

    @property
    def read_timeout(self) -> float | None:
        return self._timeout.read

    async def initialize(self) -> None:
        if self._client.is_closed:
            self._client = self._build_client()

    async def shutdown(self) -> None:
        if not self._client.is_closed:
            await self._client.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._client.is_closed:
            raise RuntimeError("This Httpx2Request is not initialized!")
        files = request_data.multipart_data if request_data else None
        data = request_data.json_parameters if request_data else None
        default_write = self._timeout.write if not files else self._media_write_timeout
        timeout = httpx2.Timeout(
            connect=_given(connect_timeout, self._timeout.connect),
            read=_given(read_timeout, self._timeout.read),
            write=_given(write_timeout, default_write),
            pool=_given(pool_timeout, self._timeout.pool),
        )
        try:
            response = await self._client.request(
                method=method,
                url=url,
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
                files=files,
                data=data,
            )
        except httpx2.TimeoutException as exc:
            if isinstance(exc, httpx2.PoolTimeout):
                raise TimedOut(
                    "Pool timeout: all connections in the pool are busy; the request was not sent."
                ) from exc
            raise TimedOut from exc
        except httpx2.HTTPError as exc:
            # The same text as HTTPXRequest's ("httpx.RemoteProtocolError: ..."): logs and alerts match on it.
            raise NetworkError(f"httpx.{type(exc).__name__}: {exc}") from exc
        return response.status_code, response.content


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value
