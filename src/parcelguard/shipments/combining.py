"""Single intakes that arrive together, written together (group commit, issue 17).

At a busy station many terminals send `POST /api/v1/shipments` at once. Alone, each pays a transaction of its
own: the carrier's, catalogue's and label settings' reads, the waybill numbers, five COPYs, a sealing session,
some 28 round trips to the database. The combiner queues a carrier's single intakes and writes whatever is
waiting as one `flows.take_in_many`, in one transaction, while the batch before it is written. There is no
timer: a lone intake goes at once, and a crowd goes in batches as large as the crowd (at most `MAX_BATCH`).

Each request gets its own answer: its `Intake`, or its own `Invalid` (a bad parcel does not sink the others, as
in `take_in_batch`). A failure of the whole transaction (a full number pool, a terminal signed out meanwhile, a
field too long for the table, the database itself) would answer every request of the batch with it; the batch is
then taken in again one request at a time, each in a transaction of its own, so each request gets the answer it
would have got alone and a good parcel is not lost to another's fault.

Knows nothing of HTTP: the route hands over the actor, the parsed request and the request's id. One combiner per
process; several worker processes each combine their own requests.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from dataclasses import dataclass, field

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from parcelguard.core.auth import Actor
from parcelguard.core.db import begin_write
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import flows

MAX_BATCH = 200  # at 50 terminals a batch holds what came in while the one before was written


@dataclass
class _Waiting:
    taker: flows.Taker
    request: flows.IntakeRequest
    answer: asyncio.Future[flows.Intake] = field(repr=False)


class Combiner:
    """Group commit of single intakes: `await combiner.take_in(...)` answers as `flows.take_in` would."""

    def __init__(self, make_session: sessionmaker[Session], keyring: Keyring, *, max_batch: int = MAX_BATCH,
                 in_flight: int = 1) -> None:
        self._make_session = make_session
        self._keyring = keyring
        self._max_batch = max_batch
        self._in_flight = in_flight  # batches of one carrier written at once
        self._queues: dict[tuple[uuid.UUID, bytes], list[_Waiting]] = {}
        self._writers: dict[tuple[uuid.UUID, bytes], int] = {}
        self.batches = 0  # how many transactions wrote the intakes (for the bench and the tests)

    async def take_in(self, *, actor: Actor, request: flows.IntakeRequest, regulator_public_key: bytes,
                      request_id: str | None = None) -> flows.Intake:
        """Take one parcel in with whatever else is waiting; raises its `DomainError` as `flows.take_in` does."""
        assert actor.carrier_id is not None
        key = (actor.carrier_id, regulator_public_key)
        answer: asyncio.Future[flows.Intake] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, []).append(_Waiting(flows.Taker(actor, request_id), request, answer))
        if self._writers.get(key, 0) < self._in_flight:
            self._writers[key] = self._writers.get(key, 0) + 1
            # A context of its own: the writer outlives the request that started it, and its log lines must not
            # carry that request's id.
            asyncio.get_running_loop().create_task(self._write_while_waiting(key), context=contextvars.Context())
        return await answer

    async def _write_while_waiting(self, key: tuple[uuid.UUID, bytes]) -> None:
        try:
            queue = self._queues[key]
            while queue:
                batch, queue[:] = queue[:self._max_batch], queue[self._max_batch:]
                try:
                    results = await anyio.to_thread.run_sync(self._write, batch, key[1])
                except asyncio.CancelledError:  # the server stops: nobody is left waiting for ever
                    for waiting in batch + queue:
                        waiting.answer.cancel()
                    raise
                for waiting, result in zip(batch, results, strict=True):
                    if waiting.answer.done():  # the client went away; the parcel is taken in all the same
                        continue
                    if isinstance(result, BaseException):
                        waiting.answer.set_exception(result)
                    else:
                        waiting.answer.set_result(result)
        finally:
            self._writers[key] -= 1

    def _write(self, batch: list[_Waiting], regulator_public_key: bytes) -> list[flows.Intake | BaseException]:
        try:
            return self._transaction(batch, regulator_public_key)
        except Exception as exc:  # noqa: BLE001  (any failure: each request is answered as it would be alone)
            if len(batch) == 1:
                return [exc]
            return [self._write([waiting], regulator_public_key)[0] for waiting in batch]

    def _transaction(self, batch: list[_Waiting], regulator_public_key: bytes) -> list[flows.Intake | BaseException]:
        with self._make_session() as session:
            begin_write(session)
            results = flows.take_in_many(db_session=session, keyring=self._keyring,
                                         takers=[w.taker for w in batch], requests=[w.request for w in batch],
                                         regulator_public_key=regulator_public_key)
            session.commit()  # refusals' alerts too: an own document refused is reported (`flows.take_in`)
        self.batches += 1
        return list(results)
