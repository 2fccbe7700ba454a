"""Role walls (issue 13), on both engines. Every page of the carrier platform's consoles (the courier's app on a
terminal, the station's console, HQ's console) is found from the app's own routes and tried with a session of
every role that signs in: each console's sign-in takes its own roles only, and each console sends every other
role's session to its sign-in page with nothing of the page. Where a page shows what an API route shows, the same
session (a page session is the API's own token in a cookie) is never shown on the page what the route refuses,
and among the console's own roles the page and the route refuse the same roles.

The enterprise console and the regulator's platform are apps of their own, with account stores of their own
(carrier staff have no account there): none of their pages is served here, so they are not tried here."""

from __future__ import annotations

import typing
import uuid
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import httpx
import pytest
from pydantic import SecretStr

from parcelguard.core.auth import SERVICE_ROLES, Role
from parcelguard.core.config import Settings, encode_root_key
from parcelguard.web.app import create_app
from parcelguard.web.session import SESSION_COOKIE, TERMINAL_COOKIE
from tests.conftest import TEST_ROOT_KEY
from tests.servers import LiveServer
from tests.tenants import Tenant
from tests.waybills.test_label_api import terminal_login

# Each console by its path prefix: its sign-in page and the roles that sign-in takes.
CONSOLES = {
    "/courier": ("/courier/login", frozenset({Role.COURIER})),
    "/station": ("/station/login", frozenset({Role.STATION_MANAGER})),
    "/hq": ("/hq/login", frozenset({Role.HQ_SECURITY, Role.AUDITOR})),
}
MAIN_PAGES = {"/courier", "/courier/pickup", "/courier/scan", "/courier/qr", "/station", "/station/staff",
              "/station/customers", "/hq", "/hq/audit", "/hq/keys", "/hq/staff", "/hq/incidents", "/hq/retention"}
SIGNING_IN = [role for role in Role if role not in SERVICE_ROLES]
# Where a page shows what an API route answers: (page route, the part of the page, or None for all of it, route).
SAME_AS_API = [
    ("/courier", None, "/api/v1/assignments"),
    ("/station", None, "/api/v1/station/board"),
    ("/station", 'id="alerts"', "/api/v1/alerts"),
    ("/station/staff", None, "/api/v1/station/staff"),
    ("/station/customers", None, "/api/v1/agreements"),
    ("/hq", 'id="alerts"', "/api/v1/alerts"),
    ("/hq", 'id="cases"', "/api/v1/audit/cases"),
    ("/hq/cases/{case_id}", None, "/api/v1/audit/cases"),
    ("/hq/audit", None, "/api/v1/audit/entries"),
    ("/hq/keys", None, "/api/v1/keys"),
    ("/hq/staff", None, "/api/v1/staff/obligations/due"),
    ("/hq/incidents", None, "/api/v1/incidents"),
    ("/hq/retention", None, "/api/v1/retention/plan"),
]


def console_of(path: str) -> str | None:
    return next((prefix for prefix in CONSOLES if path == prefix or path.startswith(prefix + "/")), None)


@pytest.fixture(scope="module")
def console_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every GET page of the consoles by route, with its path parameters filled (a random id, log index 0) so
    that the wall answers, not the parser; sign-in and sign-out left out."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('routes')}/c.db",
                              root_key=SecretStr(encode_root_key(TEST_ROOT_KEY))))
    # FastAPI 0.16x keeps an included router as a branch of the tree, walked by iter_route_contexts; older
    # versions list every route flat in app.routes.
    walk: Any = getattr(fastapi.routing, "iter_route_contexts", iter)
    pages = {}
    for route in walk(app.routes):
        path = getattr(route, "path", None) or ""
        if ("GET" not in (getattr(route, "methods", None) or ()) or console_of(path) is None
                or path.endswith(("/login", "/logout"))):
            continue
        hints = typing.get_type_hints(route.endpoint)
        assert all(hints[name] in (int, uuid.UUID) for name in route.param_convertors), path
        pages[path] = path.format(**{name: "0" if hints[name] is int else str(uuid.uuid4())
                                     for name in route.param_convertors})
    assert MAIN_PAGES <= pages.keys() and {page for page, _, _ in SAME_AS_API} <= pages.keys(), sorted(pages)
    return pages


@dataclass
class PageSession:
    cookie: str  # the Cookie header the browser sends
    api: dict[str, str]  # the same token as the API's bearer (and the terminal, on a handheld)


def session_of(server: LiveServer, http: httpx.Client, tenant: Tenant, role: Role, terminal: str) -> PageSession:
    """A page session as the user gets one: through their console's sign-in form; for a role no console signs
    in, their own API token in the session cookie (a page session is nothing else)."""
    account = tenant.account(role)
    prefix = next((p for p, (_, members) in CONSOLES.items() if role in members), None)
    if prefix is None:
        api = tenant.login(http, role)
        return PageSession(f"{SESSION_COOKIE}={api['Authorization'].removeprefix('Bearer ')}", api)
    form = {"username": account.username, "password": account.password}
    if prefix == "/courier":
        form["terminal"] = terminal
    with httpx.Client(base_url=server.url) as browser:
        signed = browser.post(CONSOLES[prefix][0], data=form)
    assert (signed.status_code, signed.headers["location"]) == (303, prefix), signed.text
    token = signed.cookies[SESSION_COOKIE]
    if prefix != "/courier":
        return PageSession(f"{SESSION_COOKIE}={token}", {"Authorization": f"Bearer {token}"})
    assert signed.cookies[TERMINAL_COOKIE] == terminal
    return PageSession(f"{SESSION_COOKIE}={token}; {TERMINAL_COOKIE}={terminal}",
                       {"Authorization": f"Bearer {token}", "X-Terminal-Id": terminal})


def visit(browser: httpx.Client, url: str, session: PageSession) -> httpx.Response:
    browser.cookies.clear()  # the session goes in the header only: a refusal's Set-Cookie must not end it
    return browser.get(url, headers={"Cookie": session.cookie})


def test_each_consoles_sign_in_takes_its_own_roles_and_refuses_every_other(
    server: LiveServer, http: httpx.Client, tenant: Tenant
) -> None:
    terminal = terminal_login(http, tenant)["X-Terminal-Id"]
    with httpx.Client(base_url=server.url) as browser:
        for role in Role:
            account = tenant.account(role)
            for prefix, (login, members) in CONSOLES.items():
                browser.cookies.clear()
                form = {"username": account.username, "password": account.password}
                if prefix == "/courier":
                    form["terminal"] = terminal
                signed = browser.post(login, data=form)
                if role in members:
                    assert (signed.status_code, signed.headers["location"]) == (303, prefix), (role, login)
                    assert SESSION_COOKIE in signed.cookies
                else:
                    assert signed.status_code == 422 and SESSION_COOKIE not in signed.cookies, (role, login)
                    assert 'class="field-error"' in signed.text, (role, login)  # said next to a field


@pytest.mark.parametrize("role", SIGNING_IN)
def test_each_console_refuses_every_other_roles_session_on_every_page(
    role: Role, server: LiveServer, http: httpx.Client, tenant: Tenant, console_pages: dict[str, str]
) -> None:
    session = session_of(server, http, tenant, role, terminal_login(http, tenant)["X-Terminal-Id"])
    opened = []
    with httpx.Client(base_url=server.url) as browser:
        for route, url in console_pages.items():
            prefix = console_of(route)
            assert prefix is not None
            login, members = CONSOLES[prefix]
            page = visit(browser, url, session)
            if role in members:
                assert page.status_code in (200, 303, 404), (route, page.status_code)  # its own: no 5xx
                if route == prefix:
                    assert page.status_code == 200 and f'action="{login}"' not in page.text
                    opened.append(route)
            elif (page.status_code, page.headers.get("location"), page.content) != (303, login, b""):
                opened.append(route)
    assert opened == [p for p, (_, members) in CONSOLES.items() if role in members], (role, opened)


def test_a_page_never_shows_what_the_same_roles_api_refuses(
    server: LiveServer, http: httpx.Client, tenant: Tenant, console_pages: dict[str, str]
) -> None:
    terminal = terminal_login(http, tenant)["X-Terminal-Id"]
    shown_to: dict[tuple[str, str | None], set[Role]] = {(page, part): set() for page, part, _ in SAME_AS_API}
    refused_to: dict[tuple[str, str | None], set[Role]] = {(page, part): set() for page, part, _ in SAME_AS_API}
    with httpx.Client(base_url=server.url) as browser:
        for role in SIGNING_IN:
            session = session_of(server, http, tenant, role, terminal)
            for page, part, route in SAME_AS_API:
                answer = visit(browser, console_pages[page], session)
                shown = answer.status_code != 303 and (part is None or part in answer.text)
                api = http.get(route, headers=session.api)
                refused = api.status_code == 403 and api.json()["code"] == "role_not_allowed"
                assert not (shown and refused), (role, page, part, route)
                prefix = console_of(page)
                assert prefix is not None
                if role in CONSOLES[prefix][1]:  # among the console's roles, refused by both or by neither
                    assert shown != refused, (role, page, part, route, api.status_code)
                (shown_to if shown else refused_to)[(page, part)].add(role)
    # Not vacuous: each page (or part) is shown to some role and refused to another.
    assert all(shown_to.values()) and all(refused_to.values()), (shown_to, refused_to)
