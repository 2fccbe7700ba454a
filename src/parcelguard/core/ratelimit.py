"""Fixed-window request counters kept in the database, so a limit holds across processes.

A hit adds one to the counter of (key, window) in a short transaction of its own, committed before the
request's own transaction begins: a refused or failing request still counts, and the count never waits
on locks the request holds (on SQLite a writing request holds the database's write lock from its
first statement, so a count taken inside it from another connection would wait on itself). Keys are
HMACs: the table never holds a client's address or an identifier. A window that rolls over deletes its
key's older windows, and each process sweeps windows past the longest limit every few minutes.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, FastAPI, Request
from sqlalchemy import BigInteger, Engine, String, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from parcelguard.core import clock
from parcelguard.core.config import Rate, Settings
from parcelguard.core.db import Base, begin_write
from parcelguard.core.errors import TooManyRequests
from parcelguard.core.logging import get_logger

log = get_logger("parcelguard.ratelimit")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
KEY_DIGEST_HEX = 32  # 128 bits of HMAC-SHA256: collisions between clients are negligible
SWEEP_EVERY_SECONDS = 300


class RateCounter(Base):
    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)  # never a raw address or identifier
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # POSIX seconds
    count: Mapped[int] = mapped_column(default=0)


@dataclass(frozen=True)
class Decision:
    """One counted hit: whether it is within the limit, the whole seconds until its window ends (when
    to try again if refused), and how many more requests the window allows."""

    allowed: bool
    retry_after: int
    remaining: int


def window_start(moment: float, window_seconds: int) -> int:
    """The start (POSIX seconds) of the fixed window holding `moment`: windows align to the epoch."""
    return int(moment // window_seconds) * window_seconds


def hit(engine: Engine, key: str, limit: int, window_seconds: int, *, now: float | None = None) -> Decision:
    """Count one request against `key` (at most `limit` per window of `window_seconds`)."""
    return count(engine, [(key, Rate(limit, window_seconds))], now=now)[0]


def count(engine: Engine, hits: Sequence[tuple[str, Rate]], *, now: float | None = None) -> list[Decision]:
    """Count one request against each key, in one short transaction of its own on `engine`.

    Call it before the request's session begins (see the module docstring). Every key is counted, even
    when an earlier one refuses, so each limit sees every request."""
    if not hits:
        return []
    moment = clock.now().timestamp() if now is None else now
    table = RateCounter.__table__
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    decisions = []
    with Session(bind=engine) as session:
        begin_write(session)  # SQLite: BEGIN IMMEDIATE, so the read-modify-write cannot fail half way
        for key, rate in hits:
            start = window_start(moment, rate.window_seconds)
            stmt = insert(table).values(key=key, window_start=start, count=1)
            stmt = stmt.on_conflict_do_update(index_elements=[table.c.key, table.c.window_start],
                                              set_={"count": table.c["count"] + 1})
            n = session.execute(stmt.returning(table.c["count"])).scalar_one()
            if n == 1:  # a new window: the key's older ones are over
                session.execute(delete(table).where(table.c.key == key, table.c.window_start < start))
            decisions.append(Decision(
                allowed=n <= rate.limit,
                retry_after=max(1, math.ceil(start + rate.window_seconds - moment)),
                remaining=max(0, rate.limit - n),
            ))
        session.commit()
    return decisions


def sweep(engine: Engine, *, before: float) -> int:
    """Delete every window that started before `before` (give it now minus the longest window in use)."""
    with Session(bind=engine) as session:
        begin_write(session)
        deleted = session.execute(delete(RateCounter).where(RateCounter.window_start < int(before))).rowcount
        session.commit()
    return int(deleted or 0)


# -- keys: never a raw address or identifier ---------------------------------------------------------

def derive_key(root_key: bytes) -> bytes:
    """The install's key for counter names: HKDF-SHA256 of the root key with a label of its own, so it
    opens nothing else, needs no database, and is the same in every process of the installation."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"parcelguard/rate-limit/v1").derive(root_key)


def counter_key(secret: bytes, scope: str, *parts: str) -> str:
    """`scope:` + HMAC-SHA256(secret, scope and parts), in hex: the scope stays readable for an operator;
    what is counted (an address, a registration id) cannot be read back or guessed without the key."""
    if ":" in scope or len(scope) + 1 + KEY_DIGEST_HEX > 96:
        raise ValueError("a counter scope has no ':' and at most 63 characters")
    message = "\x1f".join((scope, *parts)).encode()
    return f"{scope}:{hmac.new(secret, message, 'sha256').hexdigest()[:KEY_DIGEST_HEX]}"


def client_address(request: Request, trusted_proxies: Sequence[Network] = ()) -> str:
    """The address a client is counted by.

    The peer that connected, unless it is a trusted proxy: then X-Forwarded-For is read from the right
    (each trusted hop appended the address it saw) to the first address that is not a trusted proxy;
    what lies further left was written by the client and is ignored. IPv6 clients are counted by their
    /64, which one subscriber holds whole; IPv4-mapped IPv6 addresses count as the IPv4 address."""
    peer = request.client.host if request.client else ""
    address = _parse_address(peer)
    if address is None:
        return peer or "unknown"
    if trusted_proxies and _within(address, trusted_proxies):
        hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
        for hop in reversed([h for h in hops if h]):
            parsed = _parse_address(hop)
            if parsed is None:  # a trusted proxy wrote something else: count by the proxy
                break
            address = parsed
            if not _within(parsed, trusted_proxies):
                break
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:443
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


# -- the limiter an app uses ------------------------------------------------------------------------------

class RateLimiter:
    """Counts on `engine` under keys made with `secret`; sweeps windows older than `horizon_seconds`
    (the longest window in use) at most every `sweep_every` seconds in this process."""

    def __init__(self, engine: Engine, secret: bytes, *, horizon_seconds: int,
                 sweep_every: float = SWEEP_EVERY_SECONDS) -> None:
        self.engine = engine
        self._secret = secret
        self.horizon_seconds = horizon_seconds
        self.sweep_every = sweep_every
        self._last_sweep = -math.inf
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "RateLimiter(<key hidden>)"

    def key(self, scope: str, *parts: str) -> str:
        return counter_key(self._secret, scope, *parts)

    def count(self, hits: Sequence[tuple[str, Rate]]) -> list[Decision]:
        moment = clock.now().timestamp()
        decisions = count(self.engine, hits, now=moment)
        if hits and self.horizon_seconds > 0 and self._sweep_due(moment):
            try:
                sweep(self.engine, before=moment - self.horizon_seconds)
            except Exception:  # a missed clean-up must not fail the request; a later sweep retries
                log.warning("rate counter sweep failed", exc_info=True)
        return decisions

    def _sweep_due(self, moment: float) -> bool:
        with self._lock:
            if moment - self._last_sweep < self.sweep_every:
                return False
            self._last_sweep = moment
            return True


_BUILDING = threading.Lock()


def limiter_of(app: FastAPI) -> RateLimiter:
    """The app's limiter (`app.state.rate_limiter`), made on first use from its settings and engine."""
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        with _BUILDING:
            limiter = getattr(app.state, "rate_limiter", None)
            if limiter is None:
                settings: Settings = app.state.settings
                horizon = max((rate.window_seconds for rate in settings.rate_limits.values()), default=0)
                limiter = RateLimiter(app.state.engine, derive_key(settings.load_root_key()),
                                      horizon_seconds=horizon)
                app.state.rate_limiter = limiter
    return limiter


# -- routes ---------------------------------------------------------------------------------------------

Subject = Callable[[Request, str], Sequence[str] | None]


@dataclass(frozen=True)
class Rule:
    """One limit of a route: the counter's `scope` (stable: it is part of the key), the Settings field
    that holds its rate, and what is counted, from the request and the client's address (None: the
    rule does not apply to this request)."""

    scope: str
    setting: str
    subject: Subject

    def __post_init__(self) -> None:
        if self.setting not in Settings.model_fields or not self.setting.startswith("rate_limit_"):
            raise ValueError(f"no rate limit setting {self.setting}")


def per_address(_request: Request, address: str) -> Sequence[str]:
    return (address,)


def rate_limit(*rules: Rule) -> Any:
    """A route dependency that counts the request under each rule and answers 429 `rate_limited`, with
    Retry-After, when any is over its limit. Give it in the route's `dependencies=[...]`: FastAPI solves
    those before the parameters, so the count is committed before the request's session begins."""

    def limited(request: Request) -> None:
        settings: Settings = request.app.state.settings
        limiter = limiter_of(request.app)
        address = client_address(request, settings.trusted_proxies)
        hits = []
        for rule in rules:
            rate: Rate | None = getattr(settings, rule.setting)
            parts = rule.subject(request, address) if rate is not None else None
            if rate is not None and parts is not None:
                hits.append((limiter.key(rule.scope, *parts), rate))
        refused = [d for d in limiter.count(hits) if not d.allowed]
        if refused:
            wait = max(d.retry_after for d in refused)
            raise TooManyRequests(f"Too many requests; try again in {wait} seconds.", code="rate_limited",
                                  headers={"Retry-After": str(wait)}, extensions={"retry_after": wait})

    return Depends(limited)
