"""Carriers' incident reports on the regulator's platform: the wire format round-trips and any changed byte
fails its signature (hypothesis); a malformed report names the member; over real HTTP on both engines a
signed report is stored once and answered with a receipt the platform's published key verifies; a forged,
unknown-key or revoked-key report is refused with its code and stores nothing; the same report again is
answered alike, another one under its id is 409; officials list and read them, verified again."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.crypto import signing
from parcelguard.regulator import incident_protocol as wire_format
from parcelguard.regulator.platform import service
from parcelguard.regulator.platform.models import ReceivedIncidentReport
from parcelguard.regulator.protocol import ProtocolError, canonical
from tests.regulator.conftest import Carrier
from tests.regulator.officials import problem, signed_in

URL = "/api/v1/incident-reports"


def make_report(sender: Carrier, **changes: Any) -> wire_format.Report:
    """A report as a carrier's honeytoken incident would send it: counts only."""
    opened = now() - timedelta(hours=3)
    fields = {"report_id": uuid.uuid4(), "carrier": sender.code, "incident": "INC-20261206-0001",
              "reported_at": now(), "key_id": sender.key_id, "kind": "honeytoken", "opened_at": opened,
              "contained_at": opened + timedelta(minutes=40), "since": opened - timedelta(days=7), "until": opened,
              "accounts": 2, "accounts_contained": 2, "stations": ("DE-BJ-CY01",), "reveals": 137, "subjects": 120,
              "fields": {"recipient_phone": 120, "recipient_address": 17}, "denied": 4,
              "actions": ("accounts_disabled", "tokens_revoked", "police_informed"),
              "note": "两名网点员工账号已停用，已报案。", "summary": "诱饵件被查看后发现批量查看收件人信息。"}
    return wire_format.Report(**{**fields, **changes})


def signed(carrier: Carrier, report: wire_format.Report, seed: bytes | None = None) -> dict[str, Any]:
    return report.signed(lambda message: signing.sign(seed or carrier.seed, message))


def post(platform: str, wire: Any) -> httpx.Response:
    return httpx.post(platform + URL, json=wire, timeout=60)


def receipt_of(platform: str, answer: httpx.Response) -> wire_format.Receipt:
    """The receipt in `answer`, checked against the keys the platform publishes."""
    assert answer.status_code == 200, answer.text
    published = httpx.get(platform + "/api/v1/receipt-keys").json()["keys"]
    receipt, signature = wire_format.parse_receipt(answer.json())
    wire_format.verify_receipt(receipt, signature, {k: base64.b64decode(v) for k, v in published.items()})
    return receipt


def stored(engine: Engine, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ReceivedIncidentReport).where(*where)) or 0)


def of_carrier(carrier: Carrier) -> Any:
    return ReceivedIncidentReport.carrier_id == carrier.id


# -- the wire format (pure) -----------------------------------------------------------------------------

SEED, PUBLIC = signing.generate()
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC))
counts = st.integers(min_value=0, max_value=2**53 - 1)
words = st.from_regex(r"\A[a-z][a-z0-9_]{0,20}\Z")
reports = st.builds(
    lambda carrier, report_id, incident, reported_at, kind, opened_at, contained_at, window, numbers, stations,
    fields, actions, note, summary: wire_format.Report(
        carrier=carrier, report_id=report_id, incident=incident, reported_at=reported_at,
        key_id=signing.key_id(PUBLIC), kind=kind, opened_at=opened_at, contained_at=contained_at,
        since=min(window), until=max(window), accounts=numbers[0], accounts_contained=numbers[1],
        stations=tuple(stations), reveals=numbers[2], subjects=numbers[3], fields=fields, denied=numbers[4],
        actions=tuple(actions), note=note, summary=summary),
    st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,31}\Z"), st.uuids(), st.from_regex(r"\A[A-Za-z0-9-]{1,40}\Z"), times,
    words, times, st.none() | times, st.tuples(times, times), st.tuples(*[counts] * 5),
    st.lists(st.from_regex(r"\A[A-Za-z0-9_-]{1,32}\Z"), max_size=5), st.dictionaries(words, counts, max_size=5),
    st.lists(st.sampled_from(wire_format.REMEDY_ACTIONS), unique=True), st.text(max_size=200),
    st.text(max_size=200))


@settings(max_examples=60, deadline=None)
@given(report=reports, position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_a_report_signed_sent_as_json_and_parsed_verifies_and_any_changed_byte_does_not(
    report: wire_format.Report, position: int, flip: int,
) -> None:
    wire = json.loads(json.dumps(report.signed(lambda message: signing.sign(SEED, message))))
    parsed, signature = wire_format.parse_report(wire)
    assert parsed == report
    wire_format.verify_report(parsed, signature, PUBLIC)

    body = bytearray(canonical(report.body()))
    body[position % len(body)] ^= flip
    with pytest.raises(signing.BadSignature):
        signing.verify(PUBLIC, wire_format.REPORT_DOMAIN + bytes(body), signature)


@settings(max_examples=30, deadline=None)
@given(report=reports, member=st.sampled_from(["accounts", "reveals", "subjects", "denied", "accounts_contained"]))
def test_a_count_changed_after_signing_fails_the_signature(report: wire_format.Report, member: str) -> None:
    wire = report.signed(lambda message: signing.sign(SEED, message))
    wire[member] = wire[member] + 1 if wire[member] < 2**53 - 1 else 0
    parsed, signature = wire_format.parse_report(wire)
    with pytest.raises(ProtocolError) as caught:
        wire_format.verify_report(parsed, signature, PUBLIC)
    assert (caught.value.code, caught.value.pointer) == ("report_signature", "/signature")


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        target = wire
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return change


def _drop(member: str) -> Callable[[dict[str, Any]], None]:
    return lambda wire: wire.pop(member)


MALFORMED = [
    (_set(("protocol",), "parcelguard-incident/0"), "protocol_version", "/protocol"),
    (_drop("summary"), "member_missing", "/summary"),
    (_set(("extra",), 1), "member_unknown", "/extra"),
    (_set(("carrier",), "Not A Code"), "carrier_format", "/carrier"),
    (_set(("report_id",), "not-a-uuid"), "uuid_format", "/report_id"),
    (_set(("incident",), "INC 0001"), "report_format", "/incident"),
    (_set(("key_id",), "XYZ"), "report_format", "/key_id"),
    (_set(("kind",), "Honeytoken"), "report_format", "/kind"),
    (_set(("reported_at",), "2026-12-06 10:00:00"), "time_format", "/reported_at"),
    (_set(("window", "since"), "yesterday"), "time_format", "/window/since"),
    (_set(("window", "since"), "2099-01-01T00:00:00.000000Z"), "window_order", "/window/until"),
    (_set(("window", "extra"), 1), "member_unknown", "/window/extra"),
    (_set(("accounts",), -1), "count_format", "/accounts"),
    (_set(("denied",), True), "count_format", "/denied"),
    (_set(("stations",), ["DE BJ"]), "stations_format", "/stations"),
    (_set(("fields",), {"Recipient": 1}), "fields_format", "/fields"),
    (_set(("remedy", "actions"), ["burned_the_servers"]), "remedy_actions", "/remedy/actions"),
    (_set(("remedy", "actions"), ["retrained", "retrained"]), "remedy_actions", "/remedy/actions"),
    (_set(("remedy", "note"), "x" * (wire_format.MAX_TEXT + 1)), "report_format", "/remedy/note"),
    (_set(("summary",), 7), "report_format", "/summary"),
    (_set(("signature",), "***"), "base64_format", "/signature"),
]
MALFORMED_IDS = [f"{c}:{p}" for _, c, p in MALFORMED]
EXAMPLE = Carrier(code="demo", id=uuid.uuid4(), seed=SEED, key_id=signing.key_id(PUBLIC))


@pytest.mark.parametrize(("change", "code", "pointer"), MALFORMED, ids=MALFORMED_IDS)
def test_a_malformed_report_names_the_member_that_is_wrong(
    change: Callable[[dict[str, Any]], None], code: str, pointer: str,
) -> None:
    wire = signed(EXAMPLE, make_report(EXAMPLE))
    change(wire)
    with pytest.raises(ProtocolError) as caught:
        wire_format.parse_report(wire)
    assert (caught.value.code, caught.value.pointer) == (code, pointer)
    assert "两名" not in str(caught.value)


def documented() -> tuple[str, list[dict[str, Any]]]:
    """The section "Incident reports" of docs/regulator.md, and its JSON examples (the report, the receipt)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "regulator.md").read_text(encoding="utf-8")
    section = page[page.index("## Incident reports"):page.index("## The uploader")]
    return section, [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", section, flags=re.DOTALL)]


def documented_key(section: str, label: str) -> bytes:
    row = next(line for line in section.splitlines() if line.startswith(f"| {label}"))
    return base64.b64decode(re.findall(r"`([A-Za-z0-9+/=]{44})`", row)[0])


def test_the_documented_report_and_receipt_verify_and_a_changed_count_does_not() -> None:
    section, (report_wire, receipt_wire) = documented()
    report, signature = wire_format.parse_report(report_wire)
    carrier_key = documented_key(section, "the carrier's Ed25519 upload key")
    assert report.key_id == signing.key_id(carrier_key)
    wire_format.verify_report(report, signature, carrier_key)
    signed_bytes = wire_format.REPORT_DOMAIN + canonical(report.body())
    assert len(signed_bytes) == int(re.search(r"over (\d+) bytes", section).group(1))  # type: ignore[union-attr]
    assert signed_bytes.decode() in section
    receipt, receipt_signature = wire_format.parse_receipt(receipt_wire)
    receipt_key = documented_key(section, "the regulator's Ed25519 receipt key")
    wire_format.verify_receipt(receipt, receipt_signature, {signing.key_id(receipt_key): receipt_key})
    assert (receipt.carrier, receipt.report_id) == (report.carrier, report.report_id)

    report_wire["reveals"] = 136
    with pytest.raises(ProtocolError):
        wire_format.verify_report(*wire_format.parse_report(report_wire), carrier_key)


# -- the platform over HTTP ---------------------------------------------------------------------------------

def test_a_signed_report_is_stored_once_and_answered_with_a_receipt_the_published_key_verifies(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    report = make_report(carrier)
    wire = signed(carrier, report)
    receipt = receipt_of(platform, post(platform, wire))
    assert (receipt.carrier, receipt.report_id) == (carrier.code, report.report_id)
    assert abs((receipt.received_at - now()).total_seconds()) < 60
    with Session(platform_engine) as session:
        row = session.get_one(ReceivedIncidentReport, report.report_id)
    assert row.carrier_id == carrier.id and row.key_id == carrier.key_id
    assert row.body == canonical(report.body()) and base64.b64encode(row.signature).decode() == wire["signature"]
    assert (row.accounts, row.reveals, row.subjects, row.denied, row.fields) == (
        2, 137, 120, 4, {"recipient_address": 17, "recipient_phone": 120})
    assert row.actions == ["accounts_disabled", "tokens_revoked", "police_informed"]
    # Anyone with the carrier's public key checks the stored bytes alone.
    signing.verify(signing.public_of(carrier.seed), wire_format.REPORT_DOMAIN + row.body, row.signature)


def test_the_same_report_again_is_answered_with_the_same_receipt_and_stored_once(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    wire = signed(carrier, make_report(carrier))
    first = post(platform, wire)
    receipt_of(platform, first)
    again = post(platform, copy.deepcopy(wire))
    assert again.status_code == 200 and again.json() == first.json()
    assert stored(platform_engine, of_carrier(carrier)) == 1


def test_the_same_report_sent_four_times_at_once_is_stored_once_and_answered_alike(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    wire = signed(carrier, make_report(carrier))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(platform, wire), range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert stored(platform_engine, of_carrier(carrier)) == 1


def test_another_report_under_a_stored_report_id_is_409_and_changes_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    report = make_report(carrier)
    first = post(platform, signed(carrier, report))
    receipt_of(platform, first)
    changed = dataclasses.replace(report, reveals=138)
    body = problem(post(platform, signed(carrier, changed)), 409, "report_conflict")
    assert body["errors"][0]["pointer"] == "/report_id"
    # another carrier's report under the same id too
    theirs = make_report(other_carrier, report_id=report.report_id)
    problem(post(platform, signed(other_carrier, theirs)), 409, "report_conflict")
    assert stored(platform_engine, ReceivedIncidentReport.report_id == report.report_id) == 1
    assert stored(platform_engine, of_carrier(other_carrier)) == 0
    assert post(platform, signed(carrier, report)).json() == first.json()


def test_a_forged_or_altered_report_an_unknown_key_or_carrier_and_a_revoked_key_are_refused_storing_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    forged = signed(carrier, make_report(carrier), seed=signing.generate()[0])
    assert problem(post(platform, forged), 403, "report_signature")["errors"][0]["pointer"] == "/signature"
    altered = signed(carrier, make_report(carrier))
    altered["subjects"] = 1
    problem(post(platform, altered), 403, "report_signature")
    stranger_seed, stranger_public = signing.generate()
    unknown_key = signed(carrier, make_report(carrier, key_id=signing.key_id(stranger_public)), seed=stranger_seed)
    assert problem(post(platform, unknown_key), 403, "carrier_key_unknown")["errors"][0]["pointer"] == "/key_id"
    # the other carrier's key: registered and in force, but not this carrier's
    problem(post(platform, signed(carrier, make_report(carrier, key_id=other_carrier.key_id),
                                  seed=other_carrier.seed)), 403, "carrier_key_unknown")
    problem(post(platform, signed(carrier, make_report(carrier, carrier=f"c-{uuid.uuid4().hex[:10]}"))), 403,
            "carrier_key_unknown")

    signed_before = signed(carrier, make_report(carrier))
    with Session(platform_engine) as session, session.begin():
        assert service.revoke_key(db_session=session, code=carrier.code, key_id=carrier.key_id) is True
    answer = problem(post(platform, signed_before), 403, "carrier_key_unknown")
    assert "两名" not in json.dumps(answer) and "137" not in json.dumps(answer)
    assert stored(platform_engine, of_carrier(carrier)) == 0
    assert stored(platform_engine, of_carrier(other_carrier)) == 0


@pytest.mark.parametrize(("change", "code", "pointer"), MALFORMED[:8], ids=MALFORMED_IDS[:8])
def test_a_malformed_report_is_422_with_the_protocols_code_and_pointer_and_stores_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, change: Callable[[dict[str, Any]], None], code: str,
    pointer: str,
) -> None:
    wire = signed(carrier, make_report(carrier))
    change(wire)
    body = problem(post(platform, wire), 422, code)
    assert body["errors"] == [{"pointer": pointer, "code": code, "detail": body["detail"]}]
    assert stored(platform_engine, of_carrier(carrier)) == 0


@pytest.mark.parametrize(("changes", "code", "pointer"), [
    ({"incident": "I" * 40 + "\n"}, "report_format", "/incident"), ({"kind": "manual\n"}, "report_format", "/kind"),
    ({"stations": ("DE-BJ-CY01\n",)}, "stations_format", "/stations"),
    ({"fields": {"recipient_phone\n": 1}}, "fields_format", "/fields")], ids=["incident", "kind", "station", "field"])
def test_a_signed_report_with_a_line_break_after_a_code_is_422_and_stores_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, changes: dict[str, Any], code: str, pointer: str,
) -> None:
    body = problem(post(platform, signed(carrier, make_report(carrier, **changes))), 422, code)
    assert body["errors"][0]["pointer"] == pointer
    assert stored(platform_engine, of_carrier(carrier)) == 0


def test_a_body_that_is_no_report_at_all_is_refused(platform: str) -> None:
    problem(post(platform, [1, 2, 3]), 422, "not_an_object")
    bad_json = httpx.post(platform + URL, content=b"{not json", headers={"content-type": "application/json"})
    problem(bad_json, 400, "malformed_json")


# -- officials ------------------------------------------------------------------------------------------------

def listed(platform: str, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    answer = httpx.get(platform + URL, params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_officials_list_reports_newest_first_by_carrier_and_page_through_them(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    headers = signed_in(platform, platform_engine)
    ours = [make_report(carrier, incident=f"INC-{n}") for n in range(3)]
    theirs = make_report(other_carrier, kind="manual", contained_at=None, actions=())
    for report in [*ours, theirs]:
        receipt_of(platform, post(platform, signed(carrier if report in ours else other_carrier, report)))

    everyone = [r["report_id"] for r in listed(platform, headers, limit=200)["reports"]]
    assert everyone[:4] == [str(r.report_id) for r in (theirs, *reversed(ours))]
    page = listed(platform, headers, carrier=carrier.code, limit=2)
    assert [r["incident"] for r in page["reports"]] == ["INC-2", "INC-1"]
    assert page["next_before"] == page["reports"][-1]["report_id"]
    rest = listed(platform, headers, carrier=carrier.code, limit=2, before=page["next_before"])
    assert [r["incident"] for r in rest["reports"]] == ["INC-0"] and rest["next_before"] is None

    [one] = listed(platform, headers, carrier=other_carrier.code)["reports"]
    assert (one["kind"], one["contained_at"], one["remedy"], one["verified"]) == (
        "manual", None, {"actions": [], "note": theirs.note}, True)
    assert (one["carrier"], one["carrier_name"], one["window"]["since"][:4]) == (
        other_carrier.code, "测试快递", str(theirs.since.year))

    problem(httpx.get(platform + URL, params={"carrier": "no-such-carrier"}, headers=headers), 422, "carrier_unknown")
    problem(httpx.get(platform + URL, params={"before": str(uuid.uuid4())}, headers=headers), 422, "before_unknown")
    problem(httpx.get(platform + URL, params={"limit": 0}, headers=headers), 422, "validation_failed")


def test_an_official_reads_one_report_with_its_signed_bytes_verified_again(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    headers = signed_in(platform, platform_engine)
    report = make_report(carrier)
    wire = signed(carrier, report)
    first = post(platform, wire)
    receipt_of(platform, first)
    answer = httpx.get(f"{platform}{URL}/{report.report_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["verified"] is True and got["receipt"] == first.json()
    assert got["signature"] == wire["signature"] and json.loads(got["body"]) == report.body()
    assert (got["accounts"], got["accounts_contained"], got["reveals"], got["subjects"], got["denied"]) == (
        2, 2, 137, 120, 4)
    assert got["remedy"]["actions"] == list(report.actions) and got["stations"] == ["DE-BJ-CY01"]
    # the carrier's key revoked since: the report was signed while it was in force and still verifies
    with Session(platform_engine) as session, session.begin():
        service.revoke_key(db_session=session, code=carrier.code, key_id=carrier.key_id)
    assert httpx.get(f"{platform}{URL}/{report.report_id}", headers=headers).json()["verified"] is True

    problem(httpx.get(f"{platform}{URL}/{uuid.uuid4()}", headers=headers), 404, "report_unknown")


def test_a_stored_report_changed_in_the_database_no_longer_verifies(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    headers = signed_in(platform, platform_engine)
    report = make_report(carrier)
    receipt_of(platform, post(platform, signed(carrier, report)))
    where = ReceivedIncidentReport.report_id == report.report_id

    def verified() -> bool:
        return bool(httpx.get(f"{platform}{URL}/{report.report_id}", headers=headers).json()["verified"])

    with Session(platform_engine) as session, session.begin():
        session.execute(update(ReceivedIncidentReport).where(where).values(reveals=3))
    assert verified() is False  # the column no longer says what was signed
    with Session(platform_engine) as session, session.begin():
        session.execute(update(ReceivedIncidentReport).where(where).values(
            reveals=137, body=canonical(dataclasses.replace(report, reveals=3).body())))
    assert verified() is False  # the body no longer is what the carrier signed


def test_only_signed_in_officials_read_the_reports(platform: str, platform_engine: Engine, carrier: Carrier) -> None:
    report = make_report(carrier)
    receipt_of(platform, post(platform, signed(carrier, report)))
    for path in (URL, f"{URL}/{report.report_id}"):
        problem(httpx.get(platform + path), 401, "unauthenticated")
        problem(httpx.get(platform + path, headers={"Authorization": "Bearer not-a-token-of-this-platform"}),
                401, "token_invalid")
