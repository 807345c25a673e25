"""The store's view of the database: which errors mean an outage, one log line per change of state, calls
that fail at once while it is down, and a check that does not hang with a frozen server."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from otvet.core.store import DatabaseUnavailable
from otvet.plugins.storage.availability import Availability, Checker, _PoolNoise, is_outage


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        DBConnectionError("cannot connect"),
        _raised_from(OperationalError("wrapped"), ConnectionResetError()),  # the ORM wraps the driver
    ],
)
def test_errors_of_a_database_going_away_are_outages(error: BaseException) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("duplicate key value violates unique constraint"),
        OperationalError('syntax error at or near "SELEC"'),
        asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("bad input"),
    ],
)
def test_mistakes_in_a_query_are_not_outages(error: BaseException) -> None:
    assert not is_outage(error)


def test_one_line_when_it_goes_down_one_when_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    state = Availability(retry_after=5, clock=lambda: now[0])
    caplog.set_level(logging.INFO, "otvet.storage")
    for _ in range(50):
        error = state.failed(ConnectionRefusedError(111, "refused"))
        assert isinstance(error, DatabaseUnavailable) and error.retry_after == 5
    now[0] += 12.5
    state.succeeded()
    state.succeeded()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert "unavailable" in lines[0] and "refused" in lines[0]
    assert lines[1] == "the database is available again after 12.5 s"


def test_calls_fail_at_once_while_down_only_when_a_check_will_notice_its_return() -> None:
    state = Availability()
    state.failed(TimeoutError())
    state.refuse_if_down()  # no check running: the call itself is the only way to find out
    state.checking = True
    with pytest.raises(DatabaseUnavailable):
        state.refuse_if_down()
    state.succeeded()
    state.refuse_if_down()


async def test_a_ping_that_never_answers_is_down_after_the_deadline_and_is_not_waited_for() -> None:
    answer = asyncio.Event()

    async def frozen() -> bool:
        await answer.wait()
        return True

    state = Availability()
    checker = Checker(frozen, state, every=0, deadline=0.05)
    assert await checker.check() is False and not state.up
    assert await checker.check() is False  # the same ping, still pending: not a second one
    answer.set()
    await asyncio.sleep(0)
    assert await checker.check() is True and state.up


def test_the_pools_reconnect_tracebacks_are_one_line_and_silent_during_an_outage() -> None:
    state = Availability()
    noise = _PoolNoise(state)
    record = logging.LogRecord(
        "asyncpg.pool",
        logging.WARNING,
        __file__,
        1,
        "Failed to restore the pool connection floor; retrying",
        None,
        (ConnectionRefusedError, ConnectionRefusedError(), None),
    )
    assert noise.filter(record) and record.exc_info is None
    state.failed(ConnectionRefusedError())
    assert not noise.filter(record)
