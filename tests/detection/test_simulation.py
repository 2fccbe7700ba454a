"""The must-show simulation (issue 14), on both engines: 200 couriers and 10 station managers at 10 stations doing
two weeks of ordinary work, and insiders whose last day is not:

- the bulk reader: a station manager who reads 600 of the station's parcels without a task;
- the bulk reader by tasks: a courier who got 400 tasks across every district of the station and read them all;
- the off-shift reader: a courier who reads his day's parcels again at home at night;
- the honeytoken insider: a station manager whose day looks like any other, who also reveals, through the gate
  as any reveal goes, a decoy parcel the admin planted with the real service (a slow leak no statistic sees);
- the prober: a courier who tries 80 parcels that are not his (refused; only the log shows it).

Detection over the last day flags the four by their rules and at most one of the 210 ordinary accounts; the gate
raises the alert `honeytoken` for the decoy's reveal at once, with the log index of the reveal; a second run
raises nothing new. The thresholds are the defaults (docs/detection.md).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import Engine, func, select

from parcelguard.audit import service as gate
from parcelguard.audit.models import Alert
from parcelguard.core.auth import Actor, Role
from parcelguard.crypto.keyring import Keyring
from parcelguard.detection import service
from parcelguard.shipments import honeytokens
from tests.detection.world import DELIVERY_FIELDS, SERVICE_FIELDS, World
from tests.tenants import in_force, writing

SEED = 20261206
HONEYTOKEN = honeytokens.ALERT


def test_every_insider_is_flagged_and_at_most_one_of_two_hundred_ordinary_couriers(
    engine: Engine, keyring: Keyring
) -> None:
    started = time.monotonic()
    world = World.create(engine, keyring, seed=SEED, stations=10, days=14)
    couriers = world.add_people("courier", 200, prefix="c")
    managers = world.add_people("station_manager", 10, prefix="m")
    [bulk] = world.add_people("station_manager", 1, prefix="bulk", station=4)
    [hoarder] = world.add_people("courier", 1, prefix="hoarder", station=3)
    [night] = world.add_people("courier", 1, prefix="night", station=5)
    [honey] = world.add_people("station_manager", 1, prefix="honey", station=6)
    [prober] = world.add_people("courier", 1, prefix="prober", station=7)
    world.people[night].start, world.people[night].length = 8, 9  # works 8:00 to 17:00
    insiders = {bulk: "untasked_bulk_reads", hoarder: "reveal_volume_outlier", night: "off_shift_reveals",
                honey: HONEYTOKEN, prober: "denied_reveals"}
    ordinary = couriers + managers

    world.ordinary(ordinary + list(insiders), days=range(world.days, 0, -1))  # two weeks of history
    world.ordinary(ordinary, days=range(1))  # the window's day
    world.manager_day(bulk, 0, reads=600)
    world.courier_day(hoarder, 0, tasks=400, districts=6)
    rng = world.rng
    for parcel in world.courier_day(night, 0):  # and again after work, from 21:00
        world.reveal(world.people[night], parcel, world.at(0, rng.uniform(21, 23.9)), "delivery", DELIVERY_FIELDS)
    world.manager_day(honey, 0)  # an ordinary day's volume: nothing for the statistics to see
    world.courier_day(prober, 0)
    others = world.station_parcels[2] + world.station_parcels[8]
    for parcel in rng.sample(others, 80):
        world.reveal(world.people[prober], parcel, world.at(0, rng.uniform(9, 17)), "delivery", DELIVERY_FIELDS,
                     reason="not_assigned")
    world.write()

    # The admin plants decoys through the station of the honeytoken insider, as `POST /api/v1/honeytokens` does
    # (the real service, the planting logged with its count); the insider, with a confidentiality agreement and
    # a training in force, reveals one for "customer service" through the gate: allowed (nothing tells them it
    # is a decoy) and alerted at once.
    admin = world.tenant.actor(Role.ADMIN)
    with writing(engine) as s:
        decoys = honeytokens.plant(db_session=s, keyring=keyring, actor=admin, count=3,
                                   origin_station_id=world.stations[6], destination_station_id=world.stations[1])
        gate.log_event(db_session=s, keyring=keyring, carrier_id=world.tenant.carrier_id, actor=admin,
                       subject=f"honeytokens:{len(decoys)}", purpose="honeytoken_plant")
        in_force(s, world.tenant.carrier_id, world.people[honey].user_id)
    insider = Actor(user_id=world.people[honey].user_id, username=f"{world.tenant.slug}-{honey}",
                    role=Role.STATION_MANAGER, carrier_id=world.tenant.carrier_id, station_id=world.stations[6],
                    token_id=uuid.uuid4())
    with writing(engine) as s:
        touched = gate.reveal(s, insider, f"shipment:{decoys[1]}", SERVICE_FIELDS, "customer_service",
                              keyring=keyring)
    assert set(touched.fields) == set(SERVICE_FIELDS)  # made-up parties, revealed as a real parcel's would be
    built = time.monotonic()

    with writing(engine) as s:
        result = service.run(db_session=s, carrier_id=world.tenant.carrier_id, until=world.until,
                             window=timedelta(hours=24))
    detected = time.monotonic()

    by_actor: dict[str, set[str]] = {}
    ids = {p.user_id: name for name, p in world.people.items()}
    for finding in result.findings:
        if finding.actor_id is not None:
            by_actor.setdefault(ids[finding.actor_id], set()).add(finding.kind)
    for name, kind in insiders.items():
        if kind != HONEYTOKEN:
            assert kind in by_actor.get(name, set()), (name, by_actor.get(name))
    false_alerts = {name: kinds for name, kinds in by_actor.items() if name in ordinary}
    assert len(false_alerts) <= 1, false_alerts
    assert result.run.actors == len(ordinary) + len(insiders) - _resting(world, ordinary)
    assert {f.dedupe_key for f in result.raised} == {f.dedupe_key for f in result.findings}

    # The alerts are the gate's: detection's, one per finding, each about its account, with counts and thresholds
    # only; the honeytoken's, one for the decoy's reveal, naming the decoy, the way and the log entry, nothing else.
    with engine.connect() as conn:
        alerts = conn.execute(select(Alert.kind, Alert.actor_id, Alert.detail, Alert.audit_index).where(
            Alert.carrier_id == world.tenant.carrier_id, Alert.actor_id.is_not(None))).all()
    flagged = {(kind, ids[actor]) for kind, actor, _, _ in alerts}
    assert flagged >= {(k, n) for n, k in insiders.items()}, flagged
    [decoy_alert] = [a for a in alerts if a.kind == HONEYTOKEN]
    assert decoy_alert.actor_id == insider.user_id and decoy_alert.audit_index == touched.log_index
    assert decoy_alert.detail == {"shipment_id": str(decoys[1]), "how": "reveal:customer_service"}
    for kind, _, detail, _ in alerts:
        if kind != HONEYTOKEN:
            assert set(detail) >= {"rule", "window", "thresholds"}
            assert "shipment:" not in str(detail)

    # Idempotent: the same window again finds the same and raises nothing new.
    with writing(engine) as s:
        again = service.run(db_session=s, carrier_id=world.tenant.carrier_id, until=world.until,
                            window=timedelta(hours=24))
    assert again.raised == [] and again.run.alerts_raised == 0
    assert {f.dedupe_key for f in again.findings} == {f.dedupe_key for f in result.findings}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Alert).where(
            Alert.carrier_id == world.tenant.carrier_id, Alert.actor_id.is_not(None))) == len(alerts)
    print(f"\nsimulation on {engine.dialect.name}: built in {built - started:.1f} s, detected in "
          f"{detected - built:.2f} s ({result.run.duration_ms} ms in the run), flagged "
          f"{ {n: sorted(k) for n, k in by_actor.items()} }, {HONEYTOKEN} alert for {ids[decoy_alert.actor_id]}")


def _resting(world: World, names: list[str]) -> int:
    """Ordinary accounts with nothing in the window (a day off)."""
    with world.engine.connect() as conn:
        from parcelguard.audit.models import AuditEntry

        active = set(conn.scalars(select(AuditEntry.actor_id).where(
            AuditEntry.carrier_id == world.tenant.carrier_id, AuditEntry.logged_at >= world.until - timedelta(days=1),
            AuditEntry.logged_at < world.until).distinct()))
    return sum(1 for name in names if world.people[name].user_id not in active)
