"""The catalogue as an admin-edited, versioned table per carrier, on both engines: versions, the shipped
fallback, the per-process cache, refusals that write nothing, concurrent saves, and the audit log."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from parcelguard.audit import export, log
from parcelguard.audit.models import AuditEntry
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import Forbidden
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments import catalogue, catalogue_store
from parcelguard.shipments.catalogue import Catalogue, CatalogueInvalid
from parcelguard.shipments.models import CatalogueVersion
from tests.tenants import Tenant, writing

SHIPPED = catalogue.default_data()
DURIAN = {"id": "durian", "level": "prohibited", "label_zh": "榴莲", "label_en": "Durian",
          "keywords_zh": ["榴莲"], "keywords_en": ["durian"],
          "reason": "Its smell taints the other parcels; this carrier does not take it."}


def with_durian() -> dict[str, Any]:
    data = copy.deepcopy(SHIPPED)
    data["rules"].append(DURIAN)
    return data


def save(engine: Engine, keyring: Keyring, actor: Actor, data: object, **kwargs: Any) -> catalogue_store.Version:
    with writing(engine) as s:
        return catalogue_store.save(db_session=s, keyring=keyring, actor=actor, data=data, **kwargs)


def reset(engine: Engine, keyring: Keyring, actor: Actor) -> catalogue_store.Version:
    with writing(engine) as s:
        return catalogue_store.reset(db_session=s, keyring=keyring, actor=actor)


def current(engine: Engine, tenant: Tenant) -> catalogue_store.Current:
    with db.make_sessionmaker(engine)() as s:
        return catalogue_store.current_version(db_session=s, carrier_id=tenant.carrier_id)


def versions(engine: Engine, tenant: Tenant) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(CatalogueVersion)
                           .where(CatalogueVersion.carrier_id == tenant.carrier_id)) or 0


def log_entries(engine: Engine, tenant: Tenant) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        raw = conn.execute(select(AuditEntry.entry).where(AuditEntry.carrier_id == tenant.carrier_id)
                           .order_by(AuditEntry.idx)).scalars()
        return [json.loads(r) for r in raw]


def test_a_carrier_that_never_saved_one_gets_the_shipped_catalogue(engine: Engine, tenant: Tenant) -> None:
    found = current(engine, tenant)
    assert (found.version, found.shipped) == (0, True)
    assert found.catalogue is Catalogue.default()


def test_an_admins_save_is_the_current_catalogue_of_that_carrier_only(
    engine: Engine, keyring: Keyring, tenant: Tenant, other_tenant: Tenant
) -> None:
    saved = save(engine, keyring, tenant.actor(Role.ADMIN), with_durian())
    assert (saved.version, saved.shipped) == (1, False)
    found = current(engine, tenant)
    assert (found.version, found.shipped) == (1, False)
    hit = found.catalogue.match("fresh_food", "泰国金枕榴莲 2个")
    assert hit is not None and (hit.rule_id, hit.level, hit.term) == ("durian", "prohibited", "榴莲")
    assert current(engine, other_tenant).catalogue.match("fresh_food", "泰国金枕榴莲 2个") is None


def test_a_compiled_catalogue_is_reused_until_a_new_version_is_saved(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    admin = tenant.actor(Role.ADMIN)
    save(engine, keyring, admin, with_durian())
    first = current(engine, tenant).catalogue
    assert current(engine, tenant).catalogue is first
    save(engine, keyring, admin, SHIPPED)
    second = current(engine, tenant)
    assert second.version == 2 and second.catalogue is not first
    assert second.catalogue.match("fresh_food", "榴莲") is None


def test_a_save_read_back_and_rolled_back_leaves_nothing_behind_in_the_cache(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    admin = tenant.actor(Role.ADMIN)
    with db.make_sessionmaker(engine)() as s:
        db.begin_write(s)
        assert catalogue_store.save(db_session=s, keyring=keyring, actor=admin, data=with_durian()).version == 1
        assert catalogue_store.current(db_session=s, carrier_id=tenant.carrier_id).match("food", "榴莲") is not None
        s.rollback()
    assert versions(engine, tenant) == 0 and log_entries(engine, tenant) == []
    # Version 1 again, now without the rule: the catalogue compiled for the rolled-back one is not served.
    assert save(engine, keyring, admin, SHIPPED).version == 1
    assert current(engine, tenant).catalogue.match("food", "榴莲") is None


def test_an_invalid_catalogue_is_refused_with_every_pointer_and_writes_nothing(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    bad = with_durian()
    bad["rules"][-1] = {**DURIAN, "level": "forbidden", "keywords_zh": ["榴"]}
    bad["categories"].append({"code": "Fresh Food", "label_zh": "生鲜", "label_en": "Fresh"})
    with pytest.raises(CatalogueInvalid) as caught:
        save(engine, keyring, tenant.actor(Role.ADMIN), bad)
    n, c = len(SHIPPED["rules"]), len(SHIPPED["categories"])
    assert (caught.value.status, caught.value.code) == (422, "catalogue_invalid")
    assert {(e.pointer, e.code) for e in caught.value.errors} == {
        (f"/rules/{n}/level", "level_unknown"), (f"/rules/{n}/keywords_zh/0", "keyword_too_short"),
        (f"/categories/{c}/code", "category_code_format")}
    assert versions(engine, tenant) == 0 and log_entries(engine, tenant) == []


@pytest.mark.parametrize("role", [Role.COURIER, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.AUDITOR])
def test_only_the_carriers_admin_saves_or_resets_it(engine: Engine, keyring: Keyring, tenant: Tenant,
                                                    role: Role) -> None:
    for attempt in (lambda: save(engine, keyring, tenant.actor(role), with_durian()),
                    lambda: reset(engine, keyring, tenant.actor(role))):
        with pytest.raises(Forbidden) as caught:
            attempt()
        assert caught.value.code == "role_not_allowed"
    assert versions(engine, tenant) == 0


def test_a_reset_is_a_new_version_that_brings_back_the_shipped_catalogue(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    admin = tenant.actor(Role.ADMIN)
    save(engine, keyring, admin, with_durian())
    back = reset(engine, keyring, admin)
    assert (back.version, back.shipped, back.sha256) == (2, True, None)
    found = current(engine, tenant)
    assert (found.version, found.shipped) == (2, True) and found.catalogue is Catalogue.default()
    with db.make_sessionmaker(engine)() as s:
        assert catalogue_store.current_data(db_session=s, actor=admin) == (2, SHIPPED)
        history = catalogue_store.history(db_session=s, actor=tenant.actor(Role.HQ_SECURITY))
        with pytest.raises(Forbidden):
            catalogue_store.history(db_session=s, actor=tenant.actor(Role.STATION_MANAGER))
    assert [(v.version, v.shipped, v.saved_by) for v in history] == [(2, True, admin.user_id),
                                                                     (1, False, admin.user_id)]


def test_every_save_and_reset_is_in_the_audit_log_with_the_digest_of_what_was_stored(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    admin = tenant.actor(Role.ADMIN)
    saved = save(engine, keyring, admin, with_durian())
    reset(engine, keyring, admin)
    entries = log_entries(engine, tenant)
    with engine.connect() as conn:
        stored = conn.scalar(select(CatalogueVersion.data).where(CatalogueVersion.carrier_id == tenant.carrier_id,
                                                                 CatalogueVersion.version == 1))
    digest = hashlib.sha256(stored.encode()).hexdigest()
    assert saved.sha256 == digest
    assert [(e["subject"], e["purpose"], e["actor"], e["role"], e["decision"]) for e in entries] == [
        (f"catalogue:1:sha256:{digest}", "catalogue_save", str(admin.user_id), "admin", "allow"),
        ("catalogue:2:shipped", "catalogue_reset", str(admin.user_id), "admin", "allow")]
    assert "榴莲" not in json.dumps(entries, ensure_ascii=False)  # the digest, never the catalogue
    assert json.loads(stored) == with_durian()
    with writing(engine) as s:
        log.sign_tree_head(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
    with db.make_sessionmaker(engine)() as s, s.begin():
        export.snapshot(s)
        assert export.verify_database(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id).ok


def test_an_edit_of_a_version_that_is_no_longer_the_newest_is_a_conflict(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    admin = tenant.actor(Role.ADMIN)
    assert save(engine, keyring, admin, SHIPPED, base_version=0).version == 1
    with pytest.raises(catalogue_store.CatalogueConflict) as caught:
        save(engine, keyring, admin, with_durian(), base_version=0)
    assert (caught.value.status, caught.value.code, caught.value.extensions) == (
        409, "catalogue_conflict", {"current_version": 1})
    assert save(engine, keyring, admin, with_durian(), base_version=1).version == 2


def test_two_saves_at_once_never_get_the_same_version(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    """The first save holds its transaction open while the second starts. On PostgreSQL the second reads
    the same newest version, waits on the primary key, and gets a conflict; on SQLite it waits for the
    write lock and takes the next number."""
    admin = tenant.actor(Role.ADMIN)
    outcome: list[object] = []
    first = db.make_sessionmaker(engine)()
    try:
        db.begin_write(first)
        catalogue_store.save(db_session=first, keyring=keyring, actor=admin, data=with_durian())

        def second() -> None:
            try:
                outcome.append(save(engine, keyring, admin, SHIPPED).version)
            except catalogue_store.CatalogueConflict as exc:
                outcome.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting on the first save: on the row, or on SQLite's write lock
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
    if engine.dialect.name == "postgresql":
        assert [type(o) for o in outcome] == [catalogue_store.CatalogueConflict]
        assert versions(engine, tenant) == 1
    else:
        assert outcome == [2] and versions(engine, tenant) == 2
    assert len(log_entries(engine, tenant)) == versions(engine, tenant)


# -- round trip -----------------------------------------------------------------------------------

_HAN = "榴莲芒果菠萝蜜椰子山竹荔枝龙眼杨桃番石榴火龙果"
_SHIPPED_KEYWORDS = {k for r in SHIPPED["rules"] for key in ("keywords_zh", "keywords_en") for k in r.get(key, [])}


@st.composite
def edited_catalogues(draw: st.DrawFn) -> dict[str, Any]:
    """The shipped catalogue with some rules dropped and a few new carrier rules added."""
    data = copy.deepcopy(SHIPPED)
    keep = draw(st.lists(st.sampled_from(range(len(data["rules"]))), unique=True, min_size=1, max_size=12))
    data["rules"] = [data["rules"][i] for i in sorted(keep)]
    used = {k for r in data["rules"] for key in ("keywords_zh", "keywords_en") for k in r.get(key, [])}
    for n in range(draw(st.integers(0, 3))):
        words = draw(st.lists(st.text(_HAN, min_size=2, max_size=4), min_size=1, max_size=3, unique=True))
        words = [w for w in words if w not in used and w not in _SHIPPED_KEYWORDS]
        categories = draw(st.lists(st.sampled_from([c["code"] for c in data["categories"]]), unique=True,
                                   max_size=2))
        if not words and not categories:
            continue
        used.update(words)
        data["rules"].append({"id": f"carrier_rule_{n}", "level": draw(st.sampled_from(catalogue.LEVELS)),
                              "label_zh": "自定", "label_en": "Carrier's own", "reason": "Carrier policy.",
                              "keywords_zh": words, "categories": categories})
    return data


def rules_of(found: Catalogue) -> list[tuple[Any, ...]]:
    return [(r.id, r.level, r.categories, r.keywords_zh, r.keywords_en, r.allow_zh, r.allow_en, r.reason)
            for r in found.rules]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=edited_catalogues())
def test_what_an_admin_saves_is_what_intake_checks_against(
    engine: Engine, keyring: Keyring, tenant: Tenant, data: dict[str, Any]
) -> None:
    admin = tenant.actor(Role.ADMIN)
    saved = save(engine, keyring, admin, data)
    found = current(engine, tenant)
    assert (found.version, found.shipped) == (saved.version, False)
    assert rules_of(found.catalogue) == rules_of(Catalogue.from_data(data))
    assert found.catalogue.categories() == Catalogue.from_data(data).categories()
    with db.make_sessionmaker(engine)() as s:
        assert catalogue_store.current_data(db_session=s, actor=admin) == (saved.version, data)


def test_the_cache_of_compiled_catalogues_is_bounded_and_keeps_the_most_recently_used() -> None:
    cache = catalogue_store._CompiledCache(2)
    keys = [(uuid.uuid4(), 1, datetime.now(UTC)) for _ in range(3)]
    shipped = Catalogue.default()
    cache.put(keys[0], shipped)
    cache.put(keys[1], shipped)
    assert cache.get(keys[0]) is shipped  # now the most recently used
    cache.put(keys[2], shipped)
    assert (cache.get(keys[0]), cache.get(keys[1]), cache.get(keys[2])) == (shipped, None, shipped)
