"""Structured JSON logs with personal data redacted from every event, exception text included.

Every log line in the process (structlog's and the standard library's: uvicorn, alembic, ...) goes
through one stdlib handler whose formatter runs `redact` last before rendering, so no path into
the log skips it.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog

# Mainland resident ID numbers: 18 characters (17 digits + digit or X) or legacy 15 digits, also
# written in 6-8-4 groups. Mobile numbers: 11 digits starting with 1, optionally +86 and 3-4-4 groups.
_ID_18 = r"\d{6}[ -]?\d{8}[ -]?\d{3}[\dXx]"
_ID_15 = r"\d{15}"
_MOBILE = r"(?:\+?86[ -]?)?1\d{2}[ -]?\d{4}[ -]?\d{4}"
_PATTERNS = (
    (re.compile(rf"(?<![0-9])(?:{_ID_18})(?![0-9])"), "[REDACTED-ID]"),
    (re.compile(rf"(?<![0-9])(?:{_ID_15})(?![0-9])"), "[REDACTED-ID]"),
    (re.compile(rf"(?<![0-9])(?:{_MOBILE})(?![0-9])"), "[REDACTED-PHONE]"),
)


# Identifiers the platform makes (UUIDs, and request ids: 32 hex digits) are random: left whole, since a
# run of their digits can look like a mobile number by chance (about 1 in 3,000 UUIDs), and a redacted id
# names nothing any more.
_IDENTIFIER = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                         r"|[0-9a-f]{32})(?![0-9A-Za-z])")


def redact_text(text: str) -> str:
    """`text` with anything shaped like an ID number or a mobile number replaced (identifiers aside)."""
    kept = _IDENTIFIER.findall(text)
    parts = _IDENTIFIER.split(text)
    for i, part in enumerate(parts):
        for pattern, replacement in _PATTERNS:
            part = pattern.sub(replacement, part)
        parts[i] = part
    return "".join(p + (kept[i] if i < len(kept) else "") for i, p in enumerate(parts))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_redact_value(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact_text(repr(value) if isinstance(value, BaseException) else str(value))


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact every value of the event, after exceptions were rendered to text."""
    return {k: _redact_value(v) for k, v in event_dict.items()}


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log line of the process, as JSON, through the redacting formatter to `stream`."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.lower(), logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # Our request log replaces uvicorn's access log, which prints raw paths and query strings.
    logging.getLogger("uvicorn.access").disabled = True
    # Client libraries log full URLs, which may carry user information; alembic is chatty at info.
    for name in ("sqlalchemy", "httpx", "httpcore", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def get_logger(name: str = "parcelguard") -> Any:
    return structlog.get_logger(name)
