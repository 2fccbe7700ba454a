"""The parcelguard adapter: a parcelguard carrier platform over its HTTP API, signed in as the company's
enterprise account there (a contract customer, 协议客户, under an agreement in force at the carrier).

How the interface maps onto the carrier's API (docs/api.md):
- `create_shipments`: `POST /api/v1/shipments:batch` with up to 1,000 parcels, each answered on its own;
  `create_shipment` is its one-parcel case. Each parcel's `reference` is the console's order id, so a retry after
  a lost answer gets the parcel taken in then (status 200 in the batch's results), never a second one.
- `label`: `GET /api/v1/shipments/{id}/label?format=`; `track`: `GET /api/v1/public/track/{waybill_no}`;
  `cancel`: `POST /api/v1/shipments/{id}:cancel`. `quote` answers None: the carrier has no quote API, and the
  agreed price is the company's imported rate table.

Nothing personal leaves this module except in the one request body that carries it: messages are written here
from the carrier's stable codes and JSON pointers, never from its `detail` texts or from what was sent.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self
from urllib.parse import quote as quote_path

import httpx

from parcelguard.core.clock import now
from parcelguard.enterprise.adapters.base import (
    MAX_BATCH,
    CarrierError,
    CarrierQuote,
    Created,
    NewShipment,
    TrackEvent,
    Tracking,
)

# The carrier's codes and pointers are copied into our errors only when they look like codes and pointers;
# anything else is dropped rather than risk carrying a value the carrier echoed.
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_POINTER = re.compile(r"^[#A-Za-z0-9_/-]{0,128}$")
# A token is signed for anew this long before the carrier says it expires, so a call does not race the expiry.
_TOKEN_MARGIN = timedelta(seconds=60)
# What a 401 on a call may mean besides a wrong account: the token went stale. Signed in again, once.
_STALE_TOKEN = frozenset({"token_expired", "token_invalid", "token_revoked", "unauthenticated"})
# A label is a page or two; an answer larger than this is not one.
_MAX_BODY_BYTES = 32 * 2**20
# A district (区, 县, 旗, or a county-level 市) at the head of what is left of the address line.
_DISTRICT = re.compile(r"^([^\s\d]{1,15}?(?:区|县|旗|市))")


class CarrierRefused(CarrierError):
    """`carrier_refused`: the carrier refused the parcel. `errors` are its field errors, `{pointer, code}`
    only (e.g. `{"pointer": "/recipient/phone", "code": "phone_format"}`); never the values sent."""

    def __init__(self, problem_code: str, errors: list[dict[str, str]]) -> None:
        fields = ", ".join(f"{e['pointer']} {e['code']}" for e in errors)
        super().__init__("carrier_refused", f"The carrier refused the parcel ({problem_code})"
                         + (f": {fields}." if fields else "."), status=422)
        self.problem_code, self.errors = problem_code, errors


class ParcelguardAdapter:
    """A parcelguard carrier platform, as one enterprise account there. One `httpx.Client` per instance; safe
    to share between threads (the bearer token is taken and renewed under a lock)."""

    kind = "parcelguard"

    def __init__(self, base_url: str, username: str, password: str, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._username, self._password, self._timeout = username, password, float(timeout)
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=self._timeout, follow_redirects=False,
                                    headers={"Accept": "application/json"})
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires: datetime | None = None

    def __repr__(self) -> str:  # never the password; the username is the company's own account name
        return f"ParcelguardAdapter({str(self._client.base_url)!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the interface ----------------------------------------------------------------------------

    def quote(self, *, origin_province: str, destination_province: str, destination_city: str | None,
              weight_g: int) -> CarrierQuote | None:
        """None: the carrier has no quote API; the console prices with the imported (agreed) rate table."""
        return None

    def create_shipment(self, shipment: NewShipment) -> Created:
        """The parcel at the carrier, or the one taken in before under the same reference."""
        [result] = self.create_shipments([shipment])
        if isinstance(result, CarrierError):
            raise result
        return result

    def create_shipments(self, shipments: Sequence[NewShipment]) -> list[Created | CarrierError]:
        """Up to `MAX_BATCH` parcels in one `POST /api/v1/shipments:batch`, each answered on its own (a parcel taken
        in before under its reference is answered as it was then)."""
        if not 0 < len(shipments) <= MAX_BATCH:
            raise ValueError(f"1 to {MAX_BATCH} shipments per call")
        response = self._call("POST", "/api/v1/shipments:batch",
                              json={"shipments": [parcel_body(s) for s in shipments]}, refused_is_parcel=True)
        answer = _json(response)
        out: list[Created | CarrierError] = []
        try:
            results = sorted(answer["results"], key=lambda r: int(r["index"]))
            if [int(r["index"]) for r in results] != list(range(len(shipments))):
                raise ValueError("not one result per parcel")
            for result in results:
                status = int(result["status"])
                if status in (200, 201):
                    found = result["shipment"]
                    out.append(Created(carrier_shipment_id=str(uuid.UUID(str(found["id"]))),
                                       waybill_no=str(found["waybill_no"])))
                else:
                    out.append(_problem_error(status, result.get("problem") or {}, refused_is_parcel=True))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _not_understood() from None  # a parse error's text can quote the answer
        return out

    def label(self, *, carrier_shipment_id: str, format: Literal["pdf", "zpl"] = "pdf") -> bytes:
        """The carrier's masked label (the carrier's gate decides and logs the print)."""
        if format not in ("pdf", "zpl"):
            raise ValueError("format must be pdf or zpl")
        path = f"/api/v1/shipments/{_shipment_id(carrier_shipment_id)}/label"
        return self._call("GET", path, params={"format": format}).content

    def track(self, *, waybill_no: str, phone_tail: str | None = None) -> Tracking:
        """The carrier's public tracking: status and events (time, what happened, city), nothing personal. A
        number the carrier does not know, and a wrong `phone_tail`, are `carrier_shipment_unknown`."""
        params = {"phone_tail": phone_tail} if phone_tail else None
        response = self._call("GET", f"/api/v1/public/track/{quote_path(waybill_no, safe='')}", params=params,
                              signed_in=False)
        answer = _json(response)
        try:
            status = str(answer["status"])
            events = tuple(TrackEvent(at=_aware(datetime.fromisoformat(str(e["at"]))), event=str(e["event"]),
                                      city=None if e.get("city") is None else str(e["city"]))
                           for e in answer["events"])
            number = str(answer["waybill_no"])
        except (KeyError, TypeError, ValueError):
            raise _not_understood() from None  # a parse error's text can quote the answer
        if status == "no_record":
            raise CarrierError("carrier_shipment_unknown", "The carrier has no parcel of this number.", status=404)
        return Tracking(waybill_no=number, status=status, events=events)

    def cancel(self, *, carrier_shipment_id: str) -> None:
        """Cancel a parcel no courier has touched: 409 `shipment_not_cancellable`, `already_cancelled`."""
        self._call("POST", f"/api/v1/shipments/{_shipment_id(carrier_shipment_id)}:cancel")

    # -- the wire ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
              signed_in: bool = True, refused_is_parcel: bool = False) -> httpx.Response:
        """One call, bounded as a whole by the timeout (sign-in and one renewal included); a 2xx answer or a
        `CarrierError`."""
        deadline = time.monotonic() + self._timeout
        token = self._bearer(deadline, stale=None) if signed_in else None
        response = self._send(method, path, deadline, json=json, params=params, token=token)
        problem = {} if response.is_success else _problem(response)
        if token is not None and response.status_code == 401 and problem.get("code") in _STALE_TOKEN:
            token = self._bearer(deadline, stale=token)
            response = self._send(method, path, deadline, json=json, params=params, token=token)
            problem = {} if response.is_success else _problem(response)
        if response.is_success:
            return response
        raise _problem_error(response.status_code, problem, refused_is_parcel=refused_is_parcel)

    def _bearer(self, deadline: float, *, stale: str | None) -> str:
        """The current token; signs in when there is none, it is about to expire, or `stale` is it."""
        with self._lock:
            fresh = (self._token is not None and self._token != stale and self._token_expires is not None
                     and now() + _TOKEN_MARGIN < self._token_expires)
            if fresh:
                assert self._token is not None
                return self._token
            self._token = self._token_expires = None
            response = self._send("POST", "/api/v1/auth/token", deadline,
                                  data={"username": self._username, "password": self._password})
            if not response.is_success:
                problem = _problem(response)
                if response.status_code in (400, 401, 403, 422):
                    raise CarrierError("carrier_auth_failed", "The carrier refused the account's sign-in ("
                                       f"{_safe_code(problem.get('code')) or response.status_code}).",
                                       status=response.status_code)
                raise _problem_error(response.status_code, problem, refused_is_parcel=False)
            answer = _json(response)
            try:
                token, expires = str(answer["access_token"]), _aware(datetime.fromisoformat(answer["expires_at"]))
            except (KeyError, TypeError, ValueError):
                raise _not_understood() from None
            self._token, self._token_expires = token, expires
            return token

    def _send(self, method: str, path: str, deadline: float, *, token: str | None = None,
              **kwargs: Any) -> httpx.Response:
        """The request with what is left of the call's time; its body read in full, up to the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _unreachable("timed out")
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        try:
            with self._client.stream(method, path, timeout=left, headers=headers, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_BODY_BYTES:
                        raise CarrierError("carrier_failed", "The carrier's answer is too large.",
                                           status=response.status_code)
                    if time.monotonic() > deadline:
                        raise _unreachable("timed out")
                # Decoded already: the copy keeps no Content-Encoding, or it would be decoded twice.
                headers = [(k, v) for k, v in response.headers.multi_items()
                           if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
                return httpx.Response(response.status_code, headers=headers, content=bytes(body),
                                      request=response.request)
        except httpx.TimeoutException:
            raise _unreachable("timed out") from None
        except httpx.TransportError as exc:
            # The exception's text may hold the URL (a query's phone tail): only its type goes on.
            raise _unreachable(type(exc).__name__) from None


def parcel_body(shipment: NewShipment) -> dict[str, Any]:
    """The parcel in the shape a contract customer sends (`IntakeIn`). The carrier takes no weight (it weighs at
    pickup). The recipient's district and detail go as given; without them, the address line is split
    (`split_address`)."""
    p = shipment.parties
    district, detail = shipment.recipient_district.strip(), shipment.recipient_detail.strip()
    if not (district and detail):
        district, detail = split_address(p.recipient_address, province=shipment.recipient_province,
                                         city=shipment.recipient_city)
    return {
        "sender": {"name": p.sender_name, "phone": p.sender_phone, "address": p.sender_address},
        "recipient": {"name": p.recipient_name, "phone": p.recipient_phone,
                      "address": {"province": shipment.recipient_province, "city": shipment.recipient_city,
                                  "district": district, "detail": detail}},
        "items": [{"description": i.description, "category": i.category, "quantity": i.quantity,
                   "declared_value_cents": i.declared_value_fen} for i in shipment.items],
        "reference": shipment.reference,
    }


def split_address(line: str, *, province: str, city: str) -> tuple[str, str]:
    """(district, detail) of an address line that may begin with the province and the city: the district is
    the 区/县/旗/市 that heads what is left; a city without districts (东莞市, 中山市) gives the city itself."""
    text = line.strip()
    for part in (province, city):
        if part and text.startswith(part):
            text = text[len(part):].lstrip()
    found = _DISTRICT.match(text)
    if found and len(text) > found.end():
        return found.group(1), text[found.end():].strip()
    return city, text


# -- errors -------------------------------------------------------------------------------------------


def _unreachable(why: str) -> CarrierError:
    return CarrierError("carrier_unreachable", f"The carrier did not answer ({why}).", retryable=True)


def _not_understood() -> CarrierError:
    return CarrierError("carrier_failed", "The carrier's answer was not understood.", retryable=True)


def _safe_code(value: object) -> str | None:
    return value if isinstance(value, str) and _CODE.match(value) else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise _not_understood() from None


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field_errors(problem: dict[str, Any]) -> list[dict[str, str]]:
    """The problem's `errors`, pointer and code only; entries that are not plainly both are dropped."""
    out = []
    for e in problem.get("errors") or []:
        if isinstance(e, dict):
            pointer, code = e.get("pointer"), _safe_code(e.get("code"))
            if isinstance(pointer, str) and _POINTER.match(pointer) and code:
                out.append({"pointer": pointer, "code": code})
    return out


def _problem_error(status: int, problem: dict[str, Any], *, refused_is_parcel: bool) -> CarrierError:
    """A carrier's non-2xx answer (or a refused parcel in a batch) as a `CarrierError` with a stable code."""
    code = _safe_code(problem.get("code"))
    if status >= 500:
        return CarrierError("carrier_failed", f"The carrier failed ({status} {code or 'no code'}).", retryable=True,
                            status=status)
    if status == 429:
        return CarrierError("carrier_rate_limited", "The carrier asks to slow down.", retryable=True, status=status)
    if status == 401:
        return CarrierError("carrier_auth_failed", f"The carrier refused the account ({code or status}).",
                            status=status)
    if status == 404:
        return CarrierError("carrier_shipment_unknown", "The carrier has no such parcel of this account.",
                            status=status)
    if status == 422 and refused_is_parcel:
        return CarrierRefused(code or "validation_failed", _field_errors(problem))
    if code:
        return CarrierError(code, f"The carrier answered {status} {code}.", status=status)
    return CarrierError("carrier_failed", f"The carrier answered {status}.", status=status)


def _shipment_id(value: str) -> str:
    """A carrier shipment id is a UUID; anything else names no parcel (and never goes into a path)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise CarrierError("carrier_shipment_unknown", "Not a shipment id of this carrier.", status=404) from None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
