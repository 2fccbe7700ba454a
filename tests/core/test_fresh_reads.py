"""`core.fresh_reads`: requests waiting at once share a read, and no request gets a read that began before it came
(what keeps a revocation committed before a request seen by that request, issue 17)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from parcelguard.core.fresh_reads import FreshRead


class Source:
    """A value that changes (a revocation commits) while a read may be running; each read can be held."""

    def __init__(self) -> None:
        self.value = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def load(self) -> int:
        seen = self.value
        self.started.set()
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("database away")
        return seen


def test_requests_waiting_at_once_share_a_read() -> None:
    source = Source()
    fresh = FreshRead(source.load)

    async def main() -> list[int]:
        return await asyncio.gather(*(fresh.read() for _ in range(50)))

    assert asyncio.run(main()) == [0] * 50
    assert fresh.reads == 1


def test_a_request_that_comes_while_a_read_runs_gets_the_next_read() -> None:
    source = Source()
    fresh = FreshRead(source.load)

    async def main() -> tuple[int, int, int]:
        source.release.clear()
        first = asyncio.ensure_future(fresh.read())
        await asyncio.to_thread(source.started.wait, 5)  # the first read has begun: it saw 0
        source.value = 1  # a revocation commits now
        second = asyncio.ensure_future(fresh.read())
        third = asyncio.ensure_future(fresh.read())
        await asyncio.sleep(0.05)
        source.release.set()
        return await first, await second, await third

    assert asyncio.run(main()) == (0, 1, 1)  # the later two see the revocation, from one read of their own
    assert fresh.reads == 2


def test_a_failed_read_fails_its_waiters_and_the_next_read_is_made_again() -> None:
    source = Source()
    fresh = FreshRead(source.load)

    async def main() -> int:
        source.fail = True
        results = await asyncio.gather(fresh.read(), fresh.read(), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        source.fail, source.value = False, 7
        return await fresh.read()

    assert asyncio.run(main()) == 7


def test_a_waiter_that_goes_away_does_not_cancel_the_read_of_the_others() -> None:
    source = Source()
    fresh = FreshRead(source.load)

    async def main() -> int:
        source.release.clear()
        leaving = asyncio.ensure_future(fresh.read())
        staying = asyncio.ensure_future(fresh.read())
        await asyncio.to_thread(source.started.wait, 5)
        leaving.cancel()
        source.release.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(main()) == 0
