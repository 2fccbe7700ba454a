"""Per-actor baselines (issue 14): an actor is judged against their own history and against their peers, with
robust statistics (`stats`), and flagged only when far outside both. Also the shift an actor keeps, learned
from the hours of day of their history. Pure logic over the counts `queries.activity` made; no I/O.

Why both baselines: a peak day (双十一) lifts everyone's volume above their own history, but not above their
peers'; a busy district's courier reads more than their peers every day, but not more than their own history.
An insider who starts selling data leaves both. When one baseline is missing (a new account has no history; an
HQ officer has no peers), the other alone must pass the stricter `alone_z`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from parcelguard.core.auth import Role
from parcelguard.detection import stats
from parcelguard.detection.queries import ActorCounts, Periods, Staff
from parcelguard.detection.thresholds import Thresholds

# Staff whose reveals the baselines and the shift rule watch. Enterprise accounts read their own shipments, and
# the telephony provider's service account routes every call: neither has a shift or station peers.
WATCHED_ROLES = frozenset({Role.COURIER.value, Role.STATION_MANAGER.value, Role.HQ_SECURITY.value})
VOLUME_OUTLIER = "reveal_volume_outlier"


@dataclass(frozen=True)
class Finding:
    """Something a run found: an alert of `kind` about `actor_id` (None: about no account), for the Beijing day
    `day` of the window's end. `detail` holds counts, statistics and thresholds only."""

    kind: str
    actor_id: uuid.UUID | None
    day: str
    detail: dict[str, Any]
    audit_index: int | None = None
    subject: str | None = None  # what the finding is about when it is no account (a digest, never an address)

    @property
    def dedupe_key(self) -> str:
        """One alert per rule, actor (or subject) and Beijing day."""
        return f"{self.kind}:{self.actor_id or self.subject}:{self.day}"


@dataclass(frozen=True)
class Context:
    periods: Periods
    thresholds: Thresholds
    counts: dict[uuid.UUID, ActorCounts]
    staff: dict[uuid.UUID, Staff]
    # Couriers whose history of districts was read (`district_candidates`); None: every one's was.
    district_history: frozenset[uuid.UUID] | None = None

    @property
    def day(self) -> str:
        """The Beijing day of the window's last second: the period of a finding's dedupe key."""
        return (self.periods.until - timedelta(seconds=1) + timedelta(hours=8)).date().isoformat()

    def window(self) -> dict[str, str]:
        return {"start": self.periods.since.isoformat(), "end": self.periods.until.isoformat()}

    @cached_property
    def _groups(self) -> dict[tuple[str, uuid.UUID | None] | str, list[uuid.UUID]]:
        """Accounts with entries, by (role, station) and by role."""
        groups: dict[tuple[str, uuid.UUID | None] | str, list[uuid.UUID]] = {}
        for actor_id in self.counts:
            who = self.staff.get(actor_id)
            if who is not None:
                groups.setdefault((who.role, who.station_id), []).append(actor_id)
                groups.setdefault(who.role, []).append(actor_id)
        return groups

    @cached_property
    def _peers(self) -> dict[tuple[uuid.UUID, Callable[[ActorCounts], bool]], list[uuid.UUID]]:
        return {}

    def peers(self, actor_id: uuid.UUID, active: Callable[[ActorCounts], bool]) -> list[uuid.UUID]:
        """Accounts of the actor's role at their station that are `active` (`revealing`, `present`; the actor
        left out); when fewer than `min_peers`, those of the role in the whole carrier. Kept: every rule asks."""
        known = self._peers.get((actor_id, active))
        if known is not None:
            return known
        me = self.staff[actor_id]
        for key in ((me.role, me.station_id), me.role):
            group = [other for other in self._groups.get(key, ()) if other != actor_id and active(self.counts[other])]
            if len(group) >= self.thresholds.min_peers:
                break
        self._peers[(actor_id, active)] = group
        return group

    def station_members(self, actor_id: uuid.UUID) -> list[uuid.UUID]:
        """Accounts of the actor's role and station with entries, the actor included."""
        me = self.staff[actor_id]
        return list(self._groups.get((me.role, me.station_id), ()))


def revealing(counts: ActorCounts) -> bool:
    """Revealed anything in the window: a peer for what is revealed."""
    return counts.reveals.get(0, 0) > 0


def present(counts: ActorCounts) -> bool:
    """Has any entry in the window, a refusal included: a peer for refusals."""
    return 0 in counts.reveals


@dataclass(frozen=True)
class Judgement:
    value: float
    own: stats.Baseline | None
    peer: stats.Baseline | None
    flagged: bool

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": round(self.value, 3)}
        for name, base in (("own", self.own), ("peers", self.peer)):
            if base is not None:
                out[name] = {"median": round(base.median, 3), "scale": round(base.scale, 3), "size": base.size,
                             "z": round(base.z(self.value), 2)}
        return out


def judge(value: float, history: list[float], peers: list[float], th: Thresholds, *, floor: float,
          relative_floor: float = 0.1) -> Judgement:
    """Flag `value` when its robust z is at least `self_z` against `history` and at least `peer_z` against
    `peers`; with only one of the two (too little history, too few peers), at least `alone_z` against that one.
    Neither: never flagged."""
    own = (stats.baseline(history, floor=floor, relative_floor=relative_floor)
           if len(history) >= th.min_history_periods else None)
    peer = stats.baseline(peers, floor=floor, relative_floor=relative_floor) if len(peers) >= th.min_peers else None
    if own is not None and peer is not None:
        flagged = own.z(value) >= th.self_z and peer.z(value) >= th.peer_z
    elif own is not None or peer is not None:
        flagged = (own or peer).z(value) >= th.alone_z  # type: ignore[union-attr]
    else:
        flagged = False
    return Judgement(value=value, own=own, peer=peer, flagged=flagged)


def history(counts: ActorCounts, metric: Callable[[ActorCounts, int], float], active: Iterable[int]) -> list[float]:
    return [metric(counts, period) for period in active if period >= 1]


def _reveals(c: ActorCounts, period: int) -> float:
    return c.reveals.get(period, 0)


def _per_task(c: ActorCounts, period: int) -> float:
    return c.reveals.get(period, 0) / max(c.tasks.get(period, 0), 1)


def _districts(c: ActorCounts, period: int) -> float:
    return c.districts.get(period, 0)


# (metric, its value in a period, abs floor of the scale, relative floor, roles it applies to)
METRICS: tuple[tuple[str, Callable[[ActorCounts, int], float], float, float, frozenset[str]], ...] = (
    ("reveals", _reveals, 1.0, 0.1, WATCHED_ROLES),
    ("reveals_per_task", _per_task, 0.1, 0.1, frozenset({Role.COURIER.value})),
    ("districts", _districts, 1.0, 0.0, frozenset({Role.COURIER.value})),
)


def volume_outliers(ctx: Context) -> list[Finding]:
    """`reveal_volume_outlier`: in the window, an actor's reveals, reveals per task held, or districts read far
    outside their own working periods and their peers' window (any one metric)."""
    th, found = ctx.thresholds, []

    for actor_id, counts in ctx.counts.items():
        who = ctx.staff.get(actor_id)
        if who is None or who.role not in WATCHED_ROLES or counts.reveals.get(0, 0) < th.volume_min_reveals:
            continue
        active = [p for p, n in counts.reveals.items() if n > 0]
        peers: list[uuid.UUID] | None = None
        flagged: dict[str, Any] = {}
        for name, metric, floor, relative, roles in METRICS:
            if who.role not in roles or (name == "districts" and ctx.district_history is not None
                                         and actor_id not in ctx.district_history):
                continue
            peers = peers if peers is not None else ctx.peers(actor_id, revealing)
            verdict = judge(metric(counts, 0), history(counts, metric, active),
                            [metric(ctx.counts[p], 0) for p in peers], th, floor=floor, relative_floor=relative)
            if verdict.flagged:
                flagged[name] = verdict.detail()
        if flagged:
            found.append(Finding(
                kind=VOLUME_OUTLIER, actor_id=actor_id, day=ctx.day, audit_index=counts.last_index.get(0),
                detail={"rule": VOLUME_OUTLIER, "role": who.role, "window": ctx.window(), "metrics": flagged,
                        "reveals": counts.reveals.get(0, 0), "tasks": counts.tasks.get(0, 0),
                        "thresholds": picked(th, "self_z", "peer_z", "alone_z", "min_history_periods",
                                              "min_peers", "volume_min_reveals")}))
    return found


def district_candidates(ctx: Context) -> list[uuid.UUID]:
    """Couriers whose districts in the window stand out from their peers' (`peer_z`), or who have too few peers
    to tell: only their history of districts can make a finding, so only theirs is read (`queries.add_districts`)."""
    th, found = ctx.thresholds, []
    for actor_id, counts in ctx.counts.items():
        who = ctx.staff.get(actor_id)
        if who is None or who.role != Role.COURIER.value or counts.reveals.get(0, 0) < th.volume_min_reveals:
            continue
        value = _districts(counts, 0)
        peers = [_districts(ctx.counts[p], 0) for p in ctx.peers(actor_id, revealing)]
        peer = judge(value, [], peers, th, floor=1.0, relative_floor=0.0).peer
        if peer is None or peer.z(value) >= min(th.peer_z, th.alone_z):
            found.append(actor_id)
    return found


# -- shifts -------------------------------------------------------------------------------------------

def shift_hours(hours: list[int], th: Thresholds) -> frozenset[int] | None:
    """The Beijing hours of day of a shift: those holding at least `shift_min_share` of the reveals, widened by
    `shift_margin_hours` on each side. None when there are fewer than `shift_min_history_reveals` to learn from."""
    total = sum(hours)
    if total < th.shift_min_history_reveals:
        return None
    core = [h for h in range(24) if hours[h] >= th.shift_min_share * total]
    return frozenset((h + d) % 24 for h in core for d in range(-th.shift_margin_hours, th.shift_margin_hours + 1))


def shift_of(ctx: Context, actor_id: uuid.UUID) -> tuple[frozenset[int] | None, str]:
    """The actor's own shift, else the pooled shift of their station's peers of the same role ("station")."""
    own = shift_hours(ctx.counts[actor_id].hours_history, ctx.thresholds)
    if own is not None:
        return own, "own"
    pooled = [0] * 24
    for other in ctx.station_members(actor_id):
        for h, n in enumerate(ctx.counts[other].hours_history):
            pooled[h] += n
    return shift_hours(pooled, ctx.thresholds), "station"


def picked(th: Thresholds, *names: str) -> dict[str, Any]:
    """The thresholds a finding was judged by, for its detail."""
    return {name: getattr(th, name) for name in names}
