"""The carrier's HTTP client for the industry blacklist: posts signed reports and queries (`blacklist.protocol`)
and checks the shape of the answers. One attempt with a timeout: a hiring-time check has a person waiting, and
a query cannot be sent twice under one id anyway. Any failure is `service.BlacklistUnavailable` with a code.

`configured(settings)` is the carrier's blacklist as its settings name it (`PARCELGUARD_BLACKLIST_URL` and the
industry key), or None when the blacklist is off; one client per process and configuration, pooled.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from parcelguard.blacklist.service import BlacklistUnavailable, Industry
from parcelguard.core.config import ConfigError, Settings, get_settings
from parcelguard.core.errors import ServiceUnavailable

REPORTS_PATH = "/api/v1/reports"
QUERIES_PATH = "/api/v1/queries"


class BlacklistClient:
    def __init__(self, *, url: str, timeout: float = 5.0, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def query(self, wire: dict[str, Any]) -> bool:
        answer = self._post(QUERIES_PATH, wire, ok=(200,))
        if set(answer) != {"listed"} or not isinstance(answer["listed"], bool):
            raise BlacklistUnavailable("answer_format")
        return answer["listed"]

    def report(self, wire: dict[str, Any]) -> dict[str, Any]:
        """The platform's answer `{entry_id, status, received_at}` for this entry (201, or 200 when sent again)."""
        answer = self._post(REPORTS_PATH, wire, ok=(200, 201))
        if answer.get("entry_id") != wire.get("entry_id") or answer.get("status") not in ("listed", "removed"):
            raise BlacklistUnavailable("answer_format")
        return answer

    def _post(self, path: str, wire: dict[str, Any], *, ok: tuple[int, ...]) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=wire)
        except httpx.TimeoutException:
            raise BlacklistUnavailable("timeout") from None
        except httpx.HTTPError:
            raise BlacklistUnavailable("unreachable") from None
        if response.status_code not in ok:
            raise BlacklistUnavailable(_problem_code(response) or f"http_{response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise BlacklistUnavailable("answer_format") from None
        if not isinstance(answer, dict):
            raise BlacklistUnavailable("answer_format")
        return answer


def _problem_code(response: httpx.Response) -> str | None:
    """The platform's stable problem code (`carrier_key_unknown`, ...), if it answered one."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) and code.isidentifier() and len(code) <= 64 else None


_configured: dict[tuple[str, float, bytes], Industry] = {}
_lock = threading.Lock()


def configured(settings: Settings | None = None) -> Industry | None:
    """The blacklist `settings` (by default the process's) configure, or None when it is off (no URL).
    503 `blacklist_misconfigured` when the URL is set without an industry key."""
    settings = settings or get_settings()
    if not settings.blacklist_url:
        return None
    try:
        key = settings.load_blacklist_industry_key()
    except ConfigError:  # production refuses to start so (`Settings.production_problems`); development answers
        raise ServiceUnavailable("The industry blacklist is configured without its industry key "
                                 "(PARCELGUARD_BLACKLIST_INDUSTRY_KEY).", code="blacklist_misconfigured") from None
    cache_key = (settings.blacklist_url, settings.blacklist_timeout_seconds, key)
    with _lock:
        industry = _configured.get(cache_key)
        if industry is None:
            client = BlacklistClient(url=settings.blacklist_url, timeout=settings.blacklist_timeout_seconds)
            industry = _configured[cache_key] = Industry(key=key, port=client)
    return industry
