"""Retries with backoff and Retry-After, deadlines, and the circuit breaker."""

from __future__ import annotations

import asyncio

import pytest

from otvet.core.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    RetryableError,
    RetryPolicy,
    call_with_retries,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """Fails with the given exceptions in turn, then returns "ok"; counts calls."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=5.0)
    for _ in range(50):
        assert 0.5 <= policy.delay(1) <= 1.0
        assert 1.0 <= policy.delay(2) <= 2.0
        assert 2.5 <= policy.delay(6) <= 5.0
    assert len({policy.delay(3) for _ in range(20)}) > 1  # jitter: clients do not return in lockstep


def test_retry_after_from_the_server_wins() -> None:
    assert RetryPolicy(base_delay=1.0).delay(1, retry_after=7.5) == 7.5
    assert RetryPolicy(base_delay=1.0).delay(3, retry_after=0) == 0


async def test_retryable_failures_are_retried_until_success() -> None:
    call = Flaky(RetryableError("429", retry_after=0.01), RetryableError("503"))
    result = await call_with_retries(call, policy=RetryPolicy(attempts=3, base_delay=0.01))
    assert (result, call.calls) == ("ok", 3)


async def test_attempts_are_bounded() -> None:
    call = Flaky(*[RetryableError("503") for _ in range(5)])
    with pytest.raises(RetryableError):
        await call_with_retries(call, policy=RetryPolicy(attempts=3, base_delay=0.001))
    assert call.calls == 3


async def test_other_errors_are_not_retried() -> None:
    call = Flaky(ValueError("HTTP 400: bad request"))
    with pytest.raises(ValueError, match="400"):
        await call_with_retries(call, policy=RetryPolicy(attempts=5, base_delay=0.001))
    assert call.calls == 1


async def test_a_retry_after_beyond_the_limit_is_not_waited_for() -> None:
    call = Flaky(RetryableError("429", retry_after=3600))
    with pytest.raises(RetryableError):
        await call_with_retries(call, policy=RetryPolicy(attempts=3, max_retry_after=20))
    assert call.calls == 1


async def test_no_retry_that_would_end_past_the_deadline() -> None:
    call = Flaky(RetryableError("429", retry_after=5))
    deadline = asyncio.get_running_loop().time() + 1.0
    with pytest.raises(RetryableError):
        await call_with_retries(call, policy=RetryPolicy(attempts=3), deadline=deadline)
    assert call.calls == 1


def test_breaker_opens_after_consecutive_failures_and_probes_after_the_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker("chat", failures=3, reset_seconds=30, clock=clock)
    for _ in range(2):
        breaker.check()
        breaker.failure()
    breaker.success()  # a success in between resets the count
    for _ in range(3):
        breaker.check()
        breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.check()
    clock.now += 31
    assert breaker.state == "half-open"
    breaker.check()  # one probe goes through…
    with pytest.raises(CircuitOpenError):
        breaker.check()  # …and only one
    breaker.failure()  # the probe failed: open again for a full cool-down
    assert breaker.state == "open"
    clock.now += 31
    breaker.check()
    breaker.success()
    assert breaker.state == "closed"
    breaker.check()


def test_a_probe_that_ends_without_a_verdict_lets_the_next_caller_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("chat", failures=1, reset_seconds=10, clock=clock)
    breaker.failure()
    clock.now += 11
    breaker.check()
    breaker.release()  # the caller was cancelled
    breaker.check()


async def test_an_open_circuit_fails_at_once_without_calling() -> None:
    breaker = CircuitBreaker("chat", failures=2, reset_seconds=60)
    call = Flaky(*[RetryableError("503") for _ in range(10)])
    with pytest.raises(RetryableError):
        await call_with_retries(call, policy=RetryPolicy(attempts=2, base_delay=0.001), breaker=breaker)
    assert call.calls == 2
    with pytest.raises(CircuitOpenError):
        await call_with_retries(call, policy=RetryPolicy(attempts=2, base_delay=0.001), breaker=breaker)
    assert call.calls == 2


def test_a_disabled_breaker_never_opens() -> None:
    breaker = CircuitBreaker("chat", failures=0)
    for _ in range(100):
        breaker.failure()
        breaker.check()
