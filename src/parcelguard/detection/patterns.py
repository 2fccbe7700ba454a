"""Patterns of misuse (issue 14), each judged against the actor's own history and their peers as the baselines
are (`baselines.judge`): bulk reads of parcels the actor holds no task for, reveals off shift, many refused
reveals, and one client enumerating the public tracking lookup. Pure logic over counts; no I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Sequence

from parcelguard.core.auth import Role
from parcelguard.detection.baselines import (
    WATCHED_ROLES,
    Context,
    Finding,
    history,
    judge,
    picked,
    present,
    revealing,
    shift_of,
)
from parcelguard.detection.queries import ActorCounts
from parcelguard.detection.thresholds import Thresholds

UNTASKED = "untasked_bulk_reads"
OFF_SHIFT = "off_shift_reveals"
DENIED = "denied_reveals"
ENUMERATION = "tracking_enumeration"
KINDS = ("reveal_volume_outlier", UNTASKED, OFF_SHIFT, DENIED, ENUMERATION)

# The roles that reveal without holding a task (audit.service: station scope, carrier scope). Couriers reveal
# only under a task (scope `assigned`): the gate refuses them anything else and logs the refusal, which the
# denied rule counts; so every reveal of these roles is one without a task, and no courier's is.
WIDE_SCOPE_ROLES = frozenset({Role.STATION_MANAGER.value, Role.HQ_SECURITY.value})
# Refusals of these accounts are not watched: the telephony provider's calls to expired numbers are refused
# by the thousand and say nothing of a person.
UNWATCHED_FOR_DENIALS = frozenset({Role.TELEPHONY.value})


def _reveals(c: ActorCounts, period: int) -> float:
    return c.reveals.get(period, 0)


def _denied(c: ActorCounts, period: int) -> float:
    return c.denied.get(period, 0)


def untasked_bulk_reads(ctx: Context) -> list[Finding]:
    """`untasked_bulk_reads`: a station manager or HQ officer revealing at least `untasked_min` parcels in the
    window (none of which they hold a task for), far above their own history and their peers (the same role
    at other stations: a station has one manager)."""
    th, found = ctx.thresholds, []
    for actor_id, counts in ctx.counts.items():
        who = ctx.staff.get(actor_id)
        value = counts.reveals.get(0, 0)
        if who is None or who.role not in WIDE_SCOPE_ROLES or value < th.untasked_min:
            continue
        peers = ctx.peers(actor_id, revealing)
        verdict = judge(value, history(counts, _reveals, [p for p, n in counts.reveals.items() if n > 0]),
                        [_reveals(ctx.counts[p], 0) for p in peers], th, floor=1.0)
        if verdict.flagged:
            found.append(Finding(
                kind=UNTASKED, actor_id=actor_id, day=ctx.day, audit_index=counts.last_index.get(0),
                detail={"rule": UNTASKED, "role": who.role, "window": ctx.window(), "untasked": verdict.detail(),
                        "thresholds": picked(th, "untasked_min", "self_z", "peer_z", "alone_z",
                                             "min_history_periods", "min_peers")}))
    return found


def off_shift_reveals(ctx: Context) -> list[Finding]:
    """`off_shift_reveals`: at least `off_shift_min` reveals in the window at hours outside the actor's shift
    (learned from their history, else from their station's), at least `off_shift_min_share` of the window's
    reveals, and at least `peer_z` above their peers' off-shift reveals (each off their own shift): a
    station that works a night on a peak day moves together, an insider alone."""
    th, found = ctx.thresholds, []
    shifts: dict[uuid.UUID, tuple[frozenset[int] | None, str]] = {}

    def off(actor_id: uuid.UUID) -> int:
        if actor_id not in shifts:
            shifts[actor_id] = shift_of(ctx, actor_id)
        shift = shifts[actor_id][0]
        hours = ctx.counts[actor_id].hours_window
        return 0 if shift is None else sum(n for h, n in enumerate(hours) if h not in shift)

    for actor_id, counts in ctx.counts.items():
        who = ctx.staff.get(actor_id)
        total = sum(counts.hours_window)
        if who is None or who.role not in WATCHED_ROLES or total < th.off_shift_min:
            continue
        value = off(actor_id)
        if value < th.off_shift_min or value < th.off_shift_min_share * total:
            continue
        peers = [off(p) for p in ctx.peers(actor_id, revealing)]
        verdict = judge(value, [], peers, th, floor=1.0)
        peer_z = verdict.peer.z(value) if verdict.peer is not None else None
        if peer_z is not None and peer_z < th.peer_z:
            continue
        shift, source = shifts[actor_id]
        assert shift is not None  # value > 0
        found.append(Finding(
            kind=OFF_SHIFT, actor_id=actor_id, day=ctx.day, audit_index=counts.last_index.get(0),
            detail={"rule": OFF_SHIFT, "role": who.role, "window": ctx.window(), "off_shift": verdict.detail(),
                    "reveals": total, "shift_hours": sorted(shift), "shift_from": source,
                    "thresholds": picked(th, "off_shift_min", "off_shift_min_share", "shift_min_share",
                                         "shift_margin_hours", "peer_z", "min_peers")}))
    return found


def denied_reveals(ctx: Context) -> list[Finding]:
    """`denied_reveals`: at least `denied_min` refused reveals in the window (parcels not theirs, purposes not
    theirs, ceilings), far above the actor's own history and their peers."""
    th, found = ctx.thresholds, []
    for actor_id, counts in ctx.counts.items():
        who = ctx.staff.get(actor_id)
        value = counts.denied.get(0, 0)
        if who is None or who.role in UNWATCHED_FOR_DENIALS or value < th.denied_min:
            continue
        peers = ctx.peers(actor_id, present)
        verdict = judge(value, history(counts, _denied, counts.reveals.keys()),
                        [_denied(ctx.counts[p], 0) for p in peers], th, floor=1.0)
        if verdict.flagged:
            found.append(Finding(
                kind=DENIED, actor_id=actor_id, day=ctx.day, audit_index=counts.last_index.get(0),
                detail={"rule": DENIED, "role": who.role, "window": ctx.window(), "denied": verdict.detail(),
                        "reveals": counts.reveals.get(0, 0),
                        "thresholds": picked(th, "denied_min", "self_z", "peer_z", "alone_z",
                                             "min_history_periods", "min_peers")}))
    return found


def tracking_enumeration(counts: Sequence[tuple[str, int, int]], th: Thresholds, *, day: str,
                         window: dict[str, str]) -> list[Finding]:
    """`tracking_enumeration`: one client of the public lookup (a keyed hash of its address, as the lookup
    counts it) that in the window looked up at least `enumeration_max_lookups` numbers, or missed at least
    `enumeration_min_misses` times making at least `enumeration_min_miss_share` of its lookups. `counts`:
    (client key, lookups, misses) per hour. Only the dedupe key tells clients apart, by a digest of that keyed
    hash; the detail holds counts."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, lookups, misses in counts:
        total = totals[key]
        total[0] += lookups
        total[1] += misses
        total[2] += 1
    found = []
    for key, (lookups, misses, hours) in totals.items():
        guessing = misses >= th.enumeration_min_misses and misses >= th.enumeration_min_miss_share * lookups
        if not guessing and lookups < th.enumeration_max_lookups:
            continue
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        found.append(Finding(
            kind=ENUMERATION, actor_id=None, day=day, subject=f"client-{digest}",
            detail={"rule": ENUMERATION, "window": window, "lookups": lookups,
                    "misses": misses, "hours": hours,
                    "thresholds": picked(th, "enumeration_min_misses", "enumeration_min_miss_share",
                                         "enumeration_max_lookups")}))
    return found
