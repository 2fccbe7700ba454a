"""One process at a time: a background pass (tree heads, webhooks, detection, retention, the upload delay
check) that every worker process runs on its timer is run by one of them at a time, the others skip that round.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection held for the pass, so a pass
of several transactions is covered whole, and a process that dies releases it with its connection. SQLite: an
exclusive `flock` on a file beside the database (`<database>.<pass>.lock`), released likewise; SQLite's write
lock alone serialises each transaction, not a pass of several, nor the reading before the writing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, text

T = TypeVar("T")


def lock_key(name: str) -> int:
    """The advisory lock's key for the pass `name`: 64 bits of SHA-256, as PostgreSQL's signed bigint."""
    return int.from_bytes(hashlib.sha256(b"parcelguard/pass/" + name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def alone(engine: Engine, name: str) -> Iterator[bool]:
    """Whether this caller holds the pass `name` for the block: False when another process (or thread) does."""
    if engine.dialect.name == "postgresql":
        key = lock_key(name)
        with engine.connect() as connection:
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            connection.commit()  # the lock is the session's: no transaction stays open for the pass
            try:
                yield got
            finally:
                if got:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":  # one process's private database: nobody to exclude
        yield True
        return
    fd = os.open(f"{database}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # the lock goes with the descriptor, closed below
    finally:
        os.close(fd)


def run_alone(engine: Engine, name: str, work: Callable[[], T]) -> T | None:
    """`work()` while holding the pass `name`; None, without running it, when another process holds it."""
    with alone(engine, name) as got:
        return work() if got else None
