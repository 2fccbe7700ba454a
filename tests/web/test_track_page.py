"""The public tracking page (/track), as a person uses it in headless Chromium: type the waybill number and
see the journey newest first with its cities, in Beijing time; add the recipient's phone tail and see the
masked recipient line; a wrong tail reads exactly as an unknown number; a mistyped number is refused next to
its field and counts as no lookup; the page shares the API route's rate limit and shows no personal data."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from parcelguard.core.auth import Role
from parcelguard.shipments.progress import STATUSES
from parcelguard.tracking.service import REASONS, Event
from parcelguard.web import i18n
from parcelguard.web.templating import CONTENT_SECURITY_POLICY
from tests.servers import LiveServer, platform_process
from tests.tenants import Tenant
from tests.tracking.test_network import hub, unissued
from tests.tracking.test_public_track import lookup_counts
from tests.waybills.test_label_api import (
    CANARY_DIGITS,
    CANARY_TEXT,
    RECIPIENT_PHONE,
    intake_body,
    take_in,
    terminal_login,
)
from tests.web.browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    assert_no_personal_data,
    browser,
    record_console_errors,
    record_hosts,
    screenshots_dir,
)

RECIPIENT = intake_body()["recipient"]
ADDRESS_DETAIL = str(RECIPIENT["address"]["detail"])  # type: ignore[index]
# What the page must never show: the full names, the phones (whole and in part), the address detail.
FORBIDDEN = [*CANARY_DIGITS, *CANARY_TEXT, str(RECIPIENT["name"]), RECIPIENT_PHONE, ADDRESS_DETAIL, "收件大道", "寄件路"]
TAIL = RECIPIENT_PHONE[-4:]
WRONG_TAIL = f"{(int(TAIL) + 1) % 10000:04d}"
BEIJING = timezone(timedelta(hours=8))
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}")


@dataclass(frozen=True)
class Parcel:
    number: str
    events: list[dict[str, Any]]  # as the API route answers them, oldest first


@pytest.fixture
def parcel(http: httpx.Client, engine: Engine, tenant: Tenant) -> Parcel:
    """A parcel taken in at a Beijing station, then scanned in, held by the weather and out again at a
    Shenzhen hub by its sorter."""
    courier = terminal_login(http, tenant)
    number = str(take_in(http, courier, destination_station_id=str(tenant.stations[1]))["waybill_no"])
    sorter = tenant.login(http, Role.SORTER, station=hub(engine, tenant))
    for scan in ({"event": "arrived"}, {"event": "exception", "reason": "weather"}, {"event": "departed"}):
        r = http.post("/api/v1/scans", json={"waybill_no": number, **scan}, headers=sorter)
        assert r.status_code == 201, r.text
    events = http.get(f"/api/v1/public/track/{number}").json()["events"]
    assert [e["event"] for e in events] == ["accepted", "arrived", "exception", "departed"]
    return Parcel(number, events)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _track(page: Any, number: str, tail: str = "") -> Any:
    """Fill in the form and send it; answers the navigation's response."""
    page.locator("#no").fill(number)
    page.locator("#tail").fill(tail)
    with page.expect_navigation() as navigation:
        page.locator("#track-form button[type=submit]").click()
    return navigation.value


def _in_beijing(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _timeline(page: Any) -> list[tuple[str, str, str, str]]:
    """(time, city, event, reason) of each step, top to bottom."""
    return [tuple(step) for step in page.locator("#timeline > li").evaluate_all("""steps => steps.map(s => [
        s.querySelector('time').textContent.trim(),
        (s.querySelector('.timeline-city') || {textContent: ''}).textContent.trim(),
        s.querySelector('.timeline-event').textContent.trim(),
        (s.querySelector('.timeline-reason') || {textContent: ''}).textContent.trim()])""")]


def _no_inline_code(html: str) -> bool:
    return "<style" not in html and " style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


# -- in the browser -----------------------------------------------------------------------------------

def test_the_journey_shows_newest_first_with_cities_in_beijing_time(
    page: Any, server: LiveServer, parcel: Parcel, tmp_path: Path
) -> None:
    hosts, console = record_hosts(page), record_console_errors(page)
    first = page.goto(server.url + "/track")
    assert first.status == 200
    assert first.all_headers()["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == i18n.ZH["track.title"]
    assert page.locator("#tail").get_attribute("inputmode") == "numeric"
    assert page.locator("#result").count() == 0

    answer = _track(page, parcel.number)
    assert answer.status == 200
    assert page.url == server.url + "/track"  # posted: nothing typed sits in the URL
    assert page.locator("#result-title").inner_text() == i18n.ZH["track.status.in_transit"]
    assert page.locator(".waybill-no").inner_text() == parcel.number
    ZH = i18n.ZH
    expected = [(_in_beijing(e["at"]), e["city"], ZH[f"track.event.{e['event']}"],
                 ZH["track.reason_line"].format(reason=ZH[f"track.reason.{e['reason']}"]) if e["reason"] else "")
                for e in reversed(parcel.events)]
    steps = _timeline(page)
    assert steps == expected
    assert [s[1:3] for s in steps] == [("深圳市", "快件已发出"), ("深圳市", "快件异常"), ("深圳市", "快件已到达"),
                                       ("北京市", "快递员已揽收")]
    assert steps[1][3] == "原因：天气原因"
    assert all(TIME.fullmatch(s[0]) for s in steps)
    assert [s[0] for s in steps] == sorted((s[0] for s in steps), reverse=True)
    assert page.locator("#recipient").count() == 0  # no tail, no recipient line
    assert page.locator("#tail").input_value() == ""
    page.locator("#result").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir(tmp_path) / "page-track.png"))

    html = answer.text()
    for text in (html, page.content()):
        assert_no_personal_data(text, answer.all_headers(), forbidden=FORBIDDEN)
    assert _no_inline_code(html)
    assert hosts == {"127.0.0.1"}, hosts
    assert console == []  # among others: no Content-Security-Policy violation


def test_the_right_phone_tail_adds_the_masked_recipient_line_and_stays_out_of_url_and_page(
    page: Any, server: LiveServer, parcel: Parcel
) -> None:
    hosts = record_hosts(page)
    page.goto(server.url + "/track")
    answer = _track(page, parcel.number, TAIL)
    assert answer.status == 200
    recipient = page.locator("#recipient")
    assert recipient.locator(".track-recipient-label").inner_text() == i18n.ZH["track.recipient"]
    name = recipient.locator(".track-recipient-name").inner_text()
    assert name.startswith("司马") and "*" in name and name != RECIPIENT["name"]
    assert recipient.locator(".track-recipient-place").inner_text() == "上海市 浦东新区"
    assert len(_timeline(page)) == 4
    # The tail went in the body of a POST: not in the URL, not written back into the form or the page.
    assert page.url == server.url + "/track" and TAIL not in page.url
    assert page.locator("#tail").input_value() == ""
    assert f'value="{TAIL}"' not in answer.text()
    # The shared link holds the number alone.
    share = page.locator(".track-share a").get_attribute("href")
    assert share == f"/track?no={parcel.number}"
    for text in (answer.text(), page.content()):
        assert_no_personal_data(text, answer.all_headers(), forbidden=FORBIDDEN)
    assert hosts == {"127.0.0.1"}, hosts


def test_a_wrong_tail_reads_exactly_as_an_unknown_number(
    page: Any, server: LiveServer, tenant: Tenant, parcel: Parcel
) -> None:
    page.goto(server.url + "/track")
    unknown = unissued(tenant)
    pages = {}
    for name, number, tail in (("wrong tail", parcel.number, WRONG_TAIL),
                               ("unknown with a tail", unknown, WRONG_TAIL),
                               ("unknown", unknown, "")):
        answer = _track(page, number, tail)
        assert answer.status == 200, name
        assert page.locator("#result-title").inner_text() == i18n.ZH["track.status.no_record"], name
        assert page.locator("#result .result-text").inner_text() == i18n.ZH["track.no_record_text"], name
        assert page.locator("#timeline").count() == 0 and page.locator("#recipient").count() == 0, name
        assert_no_personal_data(answer.text(), answer.all_headers(), forbidden=FORBIDDEN)
        pages[name] = (answer.text().replace(number, "NUMBER"), set(answer.all_headers()))
    # One page, byte for byte, once the number is taken out; the same headers.
    assert pages["wrong tail"] == pages["unknown with a tail"] == pages["unknown"]


def test_a_mistyped_check_digit_is_refused_next_to_the_field_and_counts_no_lookup(
    page: Any, server: LiveServer, engine: Engine, parcel: Parcel
) -> None:
    wrong = parcel.number[:-1] + str((int(parcel.number[-1]) + 1) % 10)
    page.goto(server.url + "/track?lang=en")
    before = lookup_counts(engine)
    answer = _track(page, wrong.lower())
    assert answer.status == 422
    assert page.locator("#result").count() == 0
    error = page.locator("#no-error")
    assert error.is_visible() and error.inner_text() == i18n.EN["error.waybill_check_digit"]
    assert page.locator("#no + .field-error").count() == 1  # right under its input
    field = page.locator("#no")
    assert field.get_attribute("aria-invalid") == "true"
    assert "no-error" in (field.get_attribute("aria-describedby") or "").split()
    assert field.input_value() == wrong  # written back, normalised, to be corrected

    for number, tail, field_id, key in (("12345", "", "no", "error.waybill_format"),
                                        ("", "", "no", "error.waybill_missing"),
                                        (parcel.number, "12a", "tail", "error.phone_tail_format"),
                                        (parcel.number, "123", "tail", "error.phone_tail_format")):
        answer = _track(page, number, tail)
        assert answer.status == 422, (number, tail)
        assert page.locator(f"#{field_id}-error").inner_text() == i18n.EN[key]
        assert page.locator("#result").count() == 0
    # A malformed number is not written back: it may be a phone number typed in the wrong field.
    _track(page, RECIPIENT_PHONE)
    assert page.locator("#no").input_value() == ""
    assert_no_personal_data(page.content(), forbidden=FORBIDDEN)
    assert lookup_counts(engine) == before


def test_english_is_chosen_with_lang(page: Any, server: LiveServer, tenant: Tenant, parcel: Parcel) -> None:
    page.goto(server.url + "/track?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Track a parcel"
    _track(page, parcel.number)
    assert page.locator("#result-title").inner_text() == "In transit"
    assert [s[2:] for s in _timeline(page)] == [("Departed", ""), ("Exception", "Reason: weather"), ("Arrived", ""),
                                                ("Picked up by the courier", "")]
    _track(page, unissued(tenant))
    assert page.locator("#result-title").inner_text() == "No tracking information"


def test_a_shared_link_takes_the_number_only(page: Any, server: LiveServer, parcel: Parcel) -> None:
    answer = page.goto(f"{server.url}/track?no={parcel.number}&tail={TAIL}")
    assert answer.status == 200
    assert page.locator("#result-title").inner_text() == i18n.ZH["track.status.in_transit"]
    assert len(_timeline(page)) == 4
    assert page.locator("#recipient").count() == 0  # a tail in a URL unlocks nothing
    assert page.locator("#no").input_value() == parcel.number


def test_the_home_page_links_to_tracking(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/?lang=zh")
    page.get_by_role("link", name=i18n.ZH["home.track_link"]).click()
    page.wait_for_url("**/track")
    assert page.locator("h1").inner_text() == i18n.ZH["track.title"]


# -- over HTTP ----------------------------------------------------------------------------------------

def test_a_lookup_is_counted_as_the_api_counts_it(http: httpx.Client, engine: Engine, tenant: Tenant,
                                                 parcel: Parcel) -> None:
    before = lookup_counts(engine)
    assert http.get("/track", params={"no": parcel.number}).status_code == 200
    assert lookup_counts(engine) == (before[0] + 1, before[1])
    assert http.post("/track", data={"no": unissued(tenant), "tail": ""}).status_code == 200
    assert http.post("/track", data={"no": parcel.number, "tail": WRONG_TAIL}).status_code == 200
    assert lookup_counts(engine) == (before[0] + 3, before[1] + 2)
    assert http.get("/track").status_code == 200  # the empty form is no lookup
    assert lookup_counts(engine) == (before[0] + 3, before[1] + 2)


def test_the_page_and_the_api_share_one_rate_limit(database_url: str, tmp_path: Path, parcel: Parcel) -> None:
    # A root key of its own gives this server counters of its own (their keys are HMACs under it).
    limits = {"PARCELGUARD_RATE_LIMIT_TRACK_PER_ADDRESS": "2/day"}
    with platform_process(database_url=database_url, root_key=secrets.token_bytes(32),
                          log_path=tmp_path / "server.log", **limits) as live, httpx.Client(base_url=live.url) as c:
        assert c.get(f"/api/v1/public/track/{parcel.number}").status_code == 200
        assert c.post("/track", data={"no": parcel.number, "tail": TAIL}).status_code == 200
        refused = c.post("/track?lang=en", data={"no": parcel.number, "tail": TAIL})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "Too many look-ups" in refused.text and 'id="result"' not in refused.text
        assert refused.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert c.get("/track", params={"no": parcel.number}).status_code == 429
        assert c.get(f"/api/v1/public/track/{parcel.number}").status_code == 429
        assert c.get("/track").status_code == 200  # the form itself is not limited
        log = live.log_text()
    for canary in FORBIDDEN:
        assert canary not in log


# -- without a server ---------------------------------------------------------------------------------

def test_every_status_event_and_reason_has_words_in_both_languages() -> None:
    wanted = {f"track.status.{s}" for s in (*STATUSES, "no_record")}
    wanted |= {f"track.event.{e}" for e in ("accepted", *(e.value for e in Event if e != Event.DELIVERY))}
    wanted |= {f"track.reason.{r}" for reasons in REASONS.values() for r in reasons}
    assert wanted <= set(i18n.ZH) and wanted <= set(i18n.EN), wanted - (set(i18n.ZH) & set(i18n.EN))
    assert set(i18n.ZH) == set(i18n.EN)


def test_every_message_the_tracking_page_asks_for_exists() -> None:
    source = (Path(i18n.__file__).with_name("track_pages.py").read_text()
              + (Path(i18n.__file__).parent / "templates" / "track.html").read_text())
    wanted = set(re.findall(r"""["']((?:track|error)\.[a-z_]+(?:\.[a-z_]+)?)["']""", source)) - {"track.html"}
    assert wanted and wanted <= set(i18n.ZH), wanted - set(i18n.ZH)
