"""One read shared by every request waiting for it, never older than the request (issue 17).

The auth epoch (`core.auth`) is read for every authenticated request, so that a revocation committed before the
request came is seen by it. Fifty terminals at once made that fifty reads, each a thread hop, a pool checkout
with its ping, a query and a rollback. A `FreshRead` makes them a few: a caller joins the next read, the one that
has not started yet, and every caller that arrives while a read runs joins the one after it. A read therefore
always starts after its callers arrived, and answers each of them as a read of its own would have (a read that
was already running might predate what a caller must see, so nobody joins it).

Per event loop: the futures belong to the loop that waits on them (a test client may run an app under several).
Written by hand: the pattern is a dozen lines of asyncio, and the libraries that coalesce calls (aiocache's
`cached` with a lock, for one) answer from an earlier read, which is the one thing this must not do.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class FreshRead(Generic[T]):
    """`await fresh.read()`: the value of `load()` (run on a worker thread) as read after this call began."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reads[T]] = weakref.WeakKeyDictionary()
        self.reads = 0  # how many times `load` ran (the tests and the bench read it)

    async def read(self) -> T:
        loop = asyncio.get_running_loop()
        reads = self._loops.get(loop)
        if reads is None:
            reads = self._loops[loop] = _Reads()
        if reads.next is None:
            reads.next = loop.create_future()
        waiting = reads.next
        if not reads.running:
            reads.running = True
            loop.create_task(self._run(reads))
        return await asyncio.shield(waiting)  # one caller cancelled does not cancel the others' read

    async def _run(self, reads: _Reads[T]) -> None:
        try:
            while reads.next is not None:
                answer, reads.next = reads.next, None  # from here on, newcomers wait for the next read
                try:
                    self.reads += 1
                    value = await run_in_threadpool(self._load)
                except Exception as exc:  # noqa: BLE001  (each caller gets the failure, as its own read would)
                    answer.set_exception(exc)
                else:
                    answer.set_result(value)
        finally:
            reads.running = False


class _Reads(Generic[T]):
    def __init__(self) -> None:
        self.next: asyncio.Future[T] | None = None
        self.running = False
