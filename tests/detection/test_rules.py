"""The rules on counts made by hand (no database): an actor is flagged only far outside both their own history
and their peers; a peak day for everyone and a courier who is always busy are not insiders; shifts are learned
from the hours worked; the public lookup's enumerators are told from busy clients."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from parcelguard.detection import patterns
from parcelguard.detection.baselines import Context, judge, shift_hours, volume_outliers
from parcelguard.detection.queries import ActorCounts, Periods, Staff
from parcelguard.detection.thresholds import DEFAULTS, Thresholds

UNTIL = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)  # a Beijing midnight
STATION = uuid.uuid4()


def courier(history: list[int], today: int, *, tasks: int | None = None, denied: int = 0,
            hours_history: list[int] | None = None, hours_today: list[int] | None = None) -> ActorCounts:
    counts = ActorCounts()
    for period, n in enumerate([today, *history]):
        counts.reveals[period] = n
        counts.tasks[period] = tasks if tasks is not None and period == 0 else n
        counts.denied[period] = denied if period == 0 else 0
        counts.districts[period] = 2
        counts.last_index[period] = 1000 - period
    counts.hours_history = hours_history or [0] * 24
    counts.hours_window = hours_today or [0] * 24
    return counts


def context(counts: dict[uuid.UUID, ActorCounts], *, role: str = "courier", th: Thresholds = DEFAULTS) -> Context:
    return Context(periods=Periods.of(UNTIL, timedelta(hours=24), th.history_days), thresholds=th, counts=counts,
                   staff={actor: Staff(role, STATION) for actor in counts})


def flagged(ctx: Context) -> set[uuid.UUID | None]:
    return {f.actor_id for f in volume_outliers(ctx)}


def ordinary(n: int = 20) -> dict[uuid.UUID, ActorCounts]:
    """n couriers who each read 30 to 49 parcels a day, a little more or less from day to day."""
    return {uuid.uuid4(): courier([30 + i + (d % 3) for d in range(14)], 30 + i + 1) for i in range(n)}


def test_an_actor_far_above_their_history_and_their_peers_is_flagged_and_nobody_else() -> None:
    counts = ordinary()
    insider = uuid.uuid4()
    counts[insider] = courier([35 + d % 3 for d in range(14)], 400, tasks=400)
    [finding] = volume_outliers(context(counts))
    assert finding.actor_id == insider and finding.kind == "reveal_volume_outlier"
    assert finding.dedupe_key == f"reveal_volume_outlier:{insider}:2026-12-06"
    assert finding.audit_index == 1000
    metric = finding.detail["metrics"]["reveals"]
    assert metric["value"] == 400 and metric["own"]["z"] >= 5 and metric["peers"]["z"] >= 5
    assert finding.detail["thresholds"]["self_z"] == DEFAULTS.self_z


def test_a_peak_day_for_everyone_is_no_insider() -> None:
    """双十一: every courier reads twice their usual; far above their history, not above their peers."""
    counts = {actor: courier(history=[c.reveals[p] for p in range(1, 15)], today=c.reveals[0] * 2)
              for actor, c in ordinary().items()}
    assert flagged(context(counts)) == set()


def test_a_courier_who_is_always_busier_than_the_peers_is_no_insider() -> None:
    counts = ordinary()
    counts[uuid.uuid4()] = courier([150 + d % 5 for d in range(14)], 155)
    assert flagged(context(counts)) == set()


def test_reading_each_parcel_many_times_is_flagged_by_reveals_per_task() -> None:
    counts = ordinary()
    rereader = uuid.uuid4()
    counts[rereader] = courier([40] * 14, 120, tasks=35)
    [finding] = volume_outliers(context(counts))
    assert finding.actor_id == rereader and "reveals_per_task" in finding.detail["metrics"]


def test_with_one_baseline_missing_the_other_must_pass_the_stricter_threshold() -> None:
    th = DEFAULTS
    history = [40.0 + d % 3 for d in range(14)]
    # median 41; the scale is the relative floor, 10 % of it: 4.1
    assert judge(41 + 6 * 4.1, history, [], th, floor=1).flagged is False  # own z 6: enough with peers, not alone
    assert judge(41 + 9 * 4.1, history, [], th, floor=1).flagged is True
    assert judge(10_000, [], [], th, floor=1).flagged is False  # no baseline at all: no verdict
    new_hire = judge(400, history[:2], [40.0] * 20, th, floor=1)
    assert new_hire.own is None and new_hire.flagged is True


def test_an_hq_officer_without_peers_is_judged_on_their_own_history() -> None:
    counts = {uuid.uuid4(): courier([20 + d % 4 for d in range(14)], 500)}
    ctx = context(counts, role="hq_security")
    [finding] = patterns.untasked_bulk_reads(ctx)
    assert "peers" not in finding.detail["untasked"] and finding.detail["untasked"]["own"]["z"] >= DEFAULTS.alone_z


def test_a_shift_is_the_hours_worked_with_a_margin_and_wraps_at_midnight() -> None:
    hours = [0] * 24
    for h in range(8, 17):
        hours[h] = 40
    hours[7] = 2  # an early start now and then: under the share, covered by the margin
    assert shift_hours(hours, DEFAULTS) == frozenset(range(7, 18))
    night = [0] * 24
    for h in (22, 23, 0, 1, 2, 3):
        night[h] = 30
    assert shift_hours(night, DEFAULTS) == frozenset({21, 22, 23, 0, 1, 2, 3, 4})
    assert shift_hours([1] * 24, DEFAULTS.model_copy(update={"shift_min_history_reveals": 100})) is None


def test_reading_at_night_off_shift_is_flagged_and_a_whole_station_working_late_is_not() -> None:
    weeks, day = [0] * 24, [0] * 24
    for h in range(8, 17):
        weeks[h], day[h] = 60, 5
    late = list(day)
    for h in (21, 22, 23):
        late[h] = 15
    counts = {uuid.uuid4(): courier([45] * 14, 45, hours_history=weeks, hours_today=day) for _ in range(10)}
    reader = uuid.uuid4()
    counts[reader] = courier([45] * 14, 90, hours_history=weeks, hours_today=late)
    [finding] = patterns.off_shift_reveals(context(counts))
    assert finding.actor_id == reader and finding.detail["off_shift"]["value"] == 45
    assert finding.detail["shift_hours"] == list(range(7, 18)) and finding.detail["shift_from"] == "own"
    everyone_late = {actor: courier([45] * 14, 90, hours_history=weeks, hours_today=late) for actor in counts}
    assert patterns.off_shift_reveals(context(everyone_late)) == []


def test_many_refusals_are_flagged_above_the_minimum_only() -> None:
    counts = ordinary()
    prober, clumsy = uuid.uuid4(), uuid.uuid4()
    counts[prober] = courier([40] * 14, 40, denied=80)
    counts[clumsy] = courier([40] * 14, 40, denied=DEFAULTS.denied_min - 1)
    assert [f.actor_id for f in patterns.denied_reveals(context(counts))] == [prober]


def test_the_lookup_enumerator_is_told_from_a_busy_shop_and_named_by_a_digest() -> None:
    window = {"start": "s", "end": "e"}
    rows = [("enumerator-key", 500, 400), ("enumerator-key", 400, 300),  # two hours of guessing
            ("shop-key", 550, 20), ("person-key", 3, 0)]
    [finding] = patterns.tracking_enumeration(rows, DEFAULTS, day="2026-12-06", window=window)
    assert finding.detail["lookups"] == 900 and finding.detail["misses"] == 700 and finding.detail["hours"] == 2
    assert finding.actor_id is None and "enumerator-key" not in repr(finding)
    flood = [("scraper-key", 600, 0)] * 6  # at the hourly ceiling all day, finding every number
    assert [f.detail["lookups"] for f in patterns.tracking_enumeration(flood, DEFAULTS, day="d", window=window)] \
        == [3600]
