"""How a one-time code reaches a sender's phone (短信): a pluggable sender chosen by the setting `sms_sender`.

- `log` (`LogSender`, the development default): writes the message to the server log, with the carrier
  and the registration the caller bound to the log context, never the phone number. Production refuses
  it (`Settings.production_problems`).
- `http` (`HttpSender`): POSTs one JSON request per message to `sms_http_url`, an SMS provider's API or,
  more often, a small relay in front of one (each provider has its own API and message templates), as

      POST <sms_http_url>
      Content-Type: application/json
      X-Parcelguard-Signature: t=<POSIX seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

      {"message_id": "<a UUID per message>", "to": "+8613912345678", "text": "【…】…验证码：123456…"}

  The signature is `crypto.request_signing`'s, the one the telephony provider signs its requests to us
  with (RFC 2104; the key is the UTF-8 bytes of `sms_http_secret`): the receiver recomputes it over the
  raw body and refuses a `t` more than 300 s from its clock. Any 2xx answer means sent; anything else, or no answer within
  `sms_http_timeout_seconds`, is `sms_unavailable` (503) and the request that wanted the code writes
  nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Protocol

import httpx

from parcelguard.core.config import ConfigError, Settings
from parcelguard.core.errors import ServiceUnavailable
from parcelguard.core.logging import get_logger
from parcelguard.crypto import request_signing

log = get_logger("parcelguard.sms")


class SmsSender(Protocol):
    def send(self, phone_e164: str, text: str) -> None:
        """Deliver `text` to `phone_e164` or raise `SmsUnavailable`. Never logs the number."""
        ...


class SmsUnavailable(ServiceUnavailable):
    code = "sms_unavailable"

    def __init__(self) -> None:
        super().__init__("The code could not be sent by SMS; try again in a minute.")


class LogSender:
    """Development: the message goes to the log (the caller's log context names the carrier and the
    registration); the phone number does not."""

    def __repr__(self) -> str:
        return "LogSender()"

    def send(self, phone_e164: str, text: str) -> None:
        log.info("sms_sent", sender="log", text=text)


class HttpSender:
    """Production: a signed JSON POST per message to a provider or a relay (the module docstring has the
    shape)."""

    def __init__(self, url: str, secret: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self._secret = secret
        self.timeout = timeout

    def __repr__(self) -> str:
        return "HttpSender(<url and secret hidden>)"

    def send(self, phone_e164: str, text: str) -> None:
        body = json.dumps({"message_id": str(uuid.uuid4()), "to": phone_e164, "text": text},
                          ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   request_signing.SIGNATURE_HEADER: request_signing.signature_header(self._secret, body)}
        try:
            answer = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:  # its text may name the URL; the number is only in the body
            log.warning("sms_failed", sender="http", error=type(exc).__name__)
            raise SmsUnavailable() from None
        if not answer.is_success:
            log.warning("sms_failed", sender="http", status=answer.status_code)
            raise SmsUnavailable()
        log.info("sms_sent", sender="http", status=answer.status_code)


def sender_from(settings: Settings) -> SmsSender:
    """The sender the settings name (`sms_sender`); `http` needs `sms_http_url` and `sms_http_secret`."""
    if settings.sms_sender == "log":
        return LogSender()
    if not settings.sms_http_url or settings.sms_http_secret is None:
        raise ConfigError("PARCELGUARD_SMS_SENDER=http needs PARCELGUARD_SMS_HTTP_URL and "
                          "PARCELGUARD_SMS_HTTP_SECRET")
    return HttpSender(settings.sms_http_url, settings.sms_http_secret.get_secret_value(),
                      timeout=settings.sms_http_timeout_seconds)
