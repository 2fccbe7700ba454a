"""Settings from the environment (prefix PARCELGUARD_), and the checks a production start must pass."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from parcelguard.core.feed_config import CarrierFeedSettings, PlatformFeedSettings
from parcelguard.crypto import signing

# A key file written by `parcelguard init` in development starts with this line, so a
# production start can recognise it and refuse it wherever it was copied to.
DEV_KEY_MARKER = "# parcelguard development root key: never use in production"
ROOT_KEY_BYTES = 32


class ConfigError(Exception):
    """The configuration cannot run: the message is one line for an operator."""


_UNITS = {**dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
          **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
          **dict.fromkeys(("h", "hour", "hours"), 3600), **dict.fromkeys(("d", "day", "days"), 86400)}
_RATE = re.compile(r"(\d+)\s*/\s*(\d*)\s*([a-z]+)")
MAX_RATE_WINDOW_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Rate:
    """A request limit: at most `limit` requests in each fixed window of `window_seconds`.
    Written `10/hour`, `30/day`, `120/minute`, `5/10min` in the environment; `off` turns a limit off."""

    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a rate limit allows at least 1 request (write `off` to turn it off)")
        if not 1 <= self.window_seconds <= MAX_RATE_WINDOW_SECONDS:
            raise ValueError("a rate limit's window is between 1 second and 7 days")

    def __str__(self) -> str:
        for name, unit, seconds in (("day", "d", 86400), ("hour", "h", 3600), ("minute", "min", 60)):
            if self.window_seconds == seconds:
                return f"{self.limit}/{name}"
            if self.window_seconds % seconds == 0:
                return f"{self.limit}/{self.window_seconds // seconds}{unit}"
        return f"{self.limit}/{'second' if self.window_seconds == 1 else f'{self.window_seconds}s'}"


def parse_rate(value: Any) -> Rate | None:
    """`10/hour` → Rate(10, 3600); `off` → None (no limit). Rates and None pass through."""
    if value is None or isinstance(value, Rate):
        return value
    text = str(value).strip().lower()
    if text in ("off", "none", "unlimited"):
        return None
    match = _RATE.fullmatch(text)
    if match is None or match.group(3) not in _UNITS:
        raise ValueError("write a rate limit as COUNT/UNIT (`10/hour`, `30/day`, `120/minute`, `5/10min`) "
                         "or `off`")
    return Rate(int(match.group(1)), int(match.group(2) or 1) * _UNITS[match.group(3)])


def parse_networks(value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or networks (`10.0.0.5, 10.1.0.0/16, fd00::/8`); empty means none."""
    if isinstance(value, str):
        value = [item for item in (part.strip() for part in value.split(",")) if item]
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in value or ())
    except ValueError:
        raise ValueError("trusted proxies are IP addresses or networks, separated by commas") from None


RateSetting = Annotated[Rate | None, NoDecode, BeforeValidator(parse_rate)]
Networks = Annotated[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode,
                     BeforeValidator(parse_networks)]


class Settings(CarrierFeedSettings):
    model_config = SettingsConfigDict(env_prefix="PARCELGUARD_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    var_dir: Path = Path("var")
    database_url: str | None = None
    # Where the shredding keys live (crypto.keystore): a database of their own, kept out of the main database's
    # backups, so that shredding a month also reaches a backup taken before. Unset: the main database itself
    # (shredding then reaches the live database only).
    keystore_url: str | None = None
    allow_sqlite_in_prod: bool = False
    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # A JSON body: a batch of 1,000 parcels fits in 4 MiB. A multipart/form-data body (inspection photos)
    # may reach `max_upload_bytes`; its parser checks each photo's own limit.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    # How long a process may trust a token it has checked before checking it again (0: always check).
    auth_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)
    log_level: str = "info"
    # The regulator's X25519 public key that real-name records are sealed to (base64url of 32 bytes),
    # or a file holding it. `parcelguard init` makes a development pair in var/ (issue 6 moves the
    # private half to the regulator platform).
    regulator_public_key: str | None = None
    regulator_public_key_file: Path | None = None
    # The regulator's platform the uploader feeds (`parcelguard uploader run`), and the regulator's
    # Ed25519 public key that signs its receipts (base64url of 32 bytes, or a file; in development the
    # pair `parcelguard init` makes). A receipt this key did not sign deletes nothing.
    regulator_url: str = "http://127.0.0.1:8001"
    # The feed's own settings (feed, nats_url, nats_replicas, upload_*) are in `core.feed_config`.
    regulator_receipt_key: str | None = None
    regulator_receipt_key_file: Path | None = None
    # The audit log signs a tree head whenever it passes a multiple of this many entries ...
    audit_head_every: int = Field(default=1000, ge=1)
    # ... and the server signs one for any log with unsigned entries at least this often.
    audit_head_seconds: float = Field(default=60.0, gt=0)
    # Proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated). Without one, a
    # client is the address that connected, whatever headers it sends: anyone can write that header.
    trusted_proxies: Networks = ()
    # Limits of the public (unauthenticated) routes, counted in the database per fixed window, so they
    # hold across processes; a limit counts every request, refused or failed. `off` turns one off.
    # Registration checks and seals a document and writes a row: costly, and a way to probe numbers.
    # A sender registers once and reuses the QR, so a household or a shop counter needs a few an hour.
    rate_limit_register_per_address: RateSetting = Rate(10, 3600)
    # ... and a slow drip from one address into one carrier's registry stops at 30 a day.
    rate_limit_register_per_carrier_address: RateSetting = Rate(30, 86400)
    # A real-name token lives 10 minutes, so a sender's app asks at most 6 times an hour; 30 leaves room
    # for retries and holds guesses at one registration's refresh secret to 30 an hour.
    rate_limit_refresh_per_registration: RateSetting = Rate(30, 3600)
    # ... and one address cannot spread guesses over many registration ids.
    rate_limit_refresh_per_address: RateSetting = Rate(120, 3600)
    # Checking a courier's QR is cheap and people do it a few times at a door; 2 a second from one
    # address still serves a shared network and stops a scraper.
    rate_limit_verify_per_address: RateSetting = Rate(120, 60)
    # The public tracking lookup: a person looks a parcel up a few times a day; a shop's customer service
    # more, from one address. 60 a minute and 600 an hour serve both and stop an enumeration in minutes.
    rate_limit_track_per_address: RateSetting = Rate(60, 60)
    rate_limit_track_per_address_hourly: RateSetting = Rate(600, 3600)
    # A sender proves the phone of a registration with a one-time code sent by SMS (identity/otp.py). Its
    # own guards hold the code (5 tries, 5 minutes, a resend a minute, `otp_sends_per_hour`); these bound
    # what one address can do across registrations: ask for codes (each an SMS someone pays for) ...
    rate_limit_otp_send_per_address: RateSetting = Rate(20, 3600)
    # ... and try codes, per registration (with the default code settings at most 25 can be wrong in an
    # hour) and per address.
    rate_limit_otp_verify_per_registration: RateSetting = Rate(30, 3600)
    rate_limit_otp_verify_per_address: RateSetting = Rate(120, 3600)
    # A station's open task is late after this long (the station console marks it; GET /station/board).
    task_late_hours: float = Field(default=12, gt=0, le=24 * 14)
    # Webhooks of enterprise shippers (webhooks/): how often the sender looks for due notices, how long it
    # waits for an endpoint, how many attempts a notice gets (backoff with full jitter, capped at 6 hours:
    # 12 attempts span about a day), and whether an endpoint may be a private or loopback address
    # (development and tests only: in production it would let a customer aim the server at the carrier's
    # own network).
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=12, ge=1, le=30)
    webhook_backoff_base_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    webhook_allow_private_addresses: bool = False
    # A virtual number (隐私号) keeps routing calls to the recipient this long after delivery, then is
    # released and its (number, extension) pair reused (`privacy_numbers.service.start_grace`).
    binding_grace_hours: int = Field(default=48, ge=1, le=720)
    # Detection over the audit log (detection/, docs/detection.md): every server process runs it over every carrier
    # this often (seconds; 0: never, e.g. in tests); the window and thresholds are each carrier's own settings.
    detection_interval_seconds: float = Field(default=3600, ge=0, le=7 * 86400)
    # Retention (retention/, docs/retention.md): every server process destroys the months past their retention
    # this often (seconds; 0: never, e.g. in tests; `parcelguard retention run` does the same by hand).
    retention_interval_seconds: float = Field(default=86400, ge=0, le=31 * 86400)
    # The one-time code that proves a registration's phone: how long it lives, how many wrong tries kill
    # it, how soon another may be sent, and how many one registration may be sent in an hour.
    otp_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    otp_max_attempts: int = Field(default=5, ge=1, le=10)
    otp_resend_seconds: int = Field(default=60, ge=0, le=3600)
    otp_sends_per_hour: int = Field(default=5, ge=1, le=20)
    # How the code reaches the phone (identity/sms.py): `log` writes it to the server log, without the
    # number (development only: production refuses it); `http` POSTs a signed JSON request to an SMS
    # provider or a relay in front of one.
    sms_sender: Literal["log", "http"] = "log"
    sms_http_url: str | None = None
    sms_http_secret: SecretStr | None = None
    sms_http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # The industry blacklist (blacklist/, docs/blacklist.md): off without a URL. The industry key is what all
    # carriers share to hash a document number for it (base64url of 32 bytes, or a file; in development the
    # one `parcelguard blacklist init` makes); the blacklist's own platform never holds it.
    blacklist_url: str | None = None
    blacklist_industry_key: SecretStr | None = None
    blacklist_industry_key_file: Path | None = None
    blacklist_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'parcelguard.db'}"

    def load_blacklist_industry_key(self) -> bytes:
        """The industry key carriers hash document numbers under for the blacklist (32 bytes)."""
        return load_key(_secret(self.blacklist_industry_key), self.blacklist_industry_key_file,
                        self.var_dir / DEV_INDUSTRY_KEY_FILE if self.env == "dev" else None,
                        env="PARCELGUARD_BLACKLIST_INDUSTRY_KEY", what="blacklist industry key")

    @property
    def rate_limits(self) -> dict[str, Rate]:
        """Every rate limit that is on, by setting name (without the `rate_limit_` prefix)."""
        return {name.removeprefix("rate_limit_"): rate for name in type(self).model_fields
                if name.startswith("rate_limit_") and (rate := getattr(self, name)) is not None}

    @property
    def dev_key_file(self) -> Path:
        return self.var_dir / "root.key"

    @property
    def resolved_root_key_file(self) -> Path | None:
        if self.root_key is not None:
            return None
        if self.root_key_file is not None:
            return self.root_key_file
        return self.dev_key_file if self.env == "dev" else None

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def production_problems(self) -> list[str]:
        """What stops this configuration from running in production; empty when it may run."""
        if self.env != "prod":
            return []
        problems = []
        key_file = self.resolved_root_key_file
        if self.root_key is None and key_file is None:
            problems.append("no root key: set PARCELGUARD_ROOT_KEY or PARCELGUARD_ROOT_KEY_FILE")
        elif key_file is not None and (
            key_file.resolve() == self.dev_key_file.resolve() or _is_dev_key_file(key_file)
        ):
            problems.append(f"the root key file {key_file} is a development key")
        if self.regulator_public_key is None and self.regulator_public_key_file is None:
            problems.append("no regulator public key: set PARCELGUARD_REGULATOR_PUBLIC_KEY "
                            "(the State Post Bureau's real-name platform key)")
        if self.is_sqlite and not self.allow_sqlite_in_prod:
            problems.append(
                "SQLite is the development store: set PARCELGUARD_DATABASE_URL to PostgreSQL "
                "or PARCELGUARD_ALLOW_SQLITE_IN_PROD=true"
            )
        if self.sms_sender == "log":
            problems.append("the SMS sender `log` writes one-time codes to the log: set PARCELGUARD_SMS_SENDER=http "
                            "with PARCELGUARD_SMS_HTTP_URL and PARCELGUARD_SMS_HTTP_SECRET")
        elif not self.sms_http_url or self.sms_http_secret is None:
            problems.append("no SMS provider: set PARCELGUARD_SMS_HTTP_URL and PARCELGUARD_SMS_HTTP_SECRET")
        if self.blacklist_url and self.blacklist_industry_key is None and self.blacklist_industry_key_file is None:
            problems.append("the blacklist is on without its industry key: set PARCELGUARD_BLACKLIST_INDUSTRY_KEY")
        return problems

    def load_root_key(self) -> bytes:
        """The 32-byte root key, from the environment or the key file."""
        if self.root_key is not None:
            return decode_root_key(self.root_key.get_secret_value(), source="PARCELGUARD_ROOT_KEY")
        path = self.resolved_root_key_file
        if path is None:
            raise ConfigError("no root key: set PARCELGUARD_ROOT_KEY or PARCELGUARD_ROOT_KEY_FILE")
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read the root key file {path}: {exc.strerror}") from None
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        if len(lines) != 1:
            raise ConfigError(f"the root key file {path} must hold one base64 line")
        return decode_root_key(lines[0], source=str(path))


    @property
    def dev_regulator_key_files(self) -> tuple[Path, Path]:
        """(private, public) of the development regulator key pair that `parcelguard init` makes."""
        return self.var_dir / "regulator.key", self.var_dir / "regulator.pub"

    def load_regulator_public_key(self) -> bytes:
        """The regulator's 32-byte X25519 public key: from the environment, the file, or in dev the
        pair `parcelguard init` made."""
        return load_key(self.regulator_public_key, self.regulator_public_key_file,
                        self.dev_regulator_key_files[1] if self.env == "dev" else None,
                        env="PARCELGUARD_REGULATOR_PUBLIC_KEY", what="regulator public key")

    def load_regulator_receipt_keys(self) -> dict[str, bytes]:
        """The regulator's Ed25519 receipt key(s) by key id, as the receipts name them."""
        key = load_key(self.regulator_receipt_key, self.regulator_receipt_key_file,
                       self.var_dir / "regulator-signing.pub" if self.env == "dev" else None,
                       env="PARCELGUARD_REGULATOR_RECEIPT_KEY", what="regulator receipt key")
        return {signing.key_id(key): key}


class RegulatorSettings(PlatformFeedSettings):
    """The regulator's real-name platform (`parcelguard regulator run`): its own database and keys.
    Environment prefix PARCELGUARD_REGULATOR_ (PARCELGUARD_ENV and PARCELGUARD_VAR_DIR are shared)."""

    model_config = SettingsConfigDict(env_prefix="PARCELGUARD_REGULATOR_", extra="ignore", populate_by_name=True)

    env: Literal["dev", "prod"] = Field(default="dev", validation_alias="PARCELGUARD_ENV")
    var_dir: Path = Field(default=Path("var"), validation_alias="PARCELGUARD_VAR_DIR")
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    database_url: str | None = None
    # X25519 private key that opens sealed records; Ed25519 private key that signs receipts; the key
    # records are encrypted under at rest. Each base64url of 32 bytes, or a file holding it.
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    signing_key: SecretStr | None = None
    signing_key_file: Path | None = None
    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)  # 1,000 sealed records are about 1 MiB
    log_level: str = "info"
    allow_sqlite_in_prod: bool = False
    # The platform's own records (regulator/platform/retention.py): kept this many months after the month they
    # were taken in (at least the electronic waybill's 24), destroyed by the server this often (0: never).
    retention_months: int = Field(default=24, ge=24, le=120)
    retention_interval_seconds: float = Field(default=86400, ge=0, le=31 * 86400)
    # A database of its own for the month keys (`crypto.keystore.Separate`), kept out of the platform database's
    # backups, so that destroying a month reaches those backups too; None: the platform database.
    keystore_url: str | None = None
    # Officials' sign-in: a token lasts a working day; 5 failures lock a username for 15 minutes.
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)
    # The feed's settings (feed, nats_url, nats_replicas, feed_workers) are in `core.feed_config`.

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'regulator.db'}"

    def production_problems(self) -> list[str]:
        """What stops the platform from running in production; empty when it may run (or in dev)."""
        if self.env != "prod":
            return []
        problems = []
        dev_files = {(self.var_dir / name).resolve() for name in _DEV_REGULATOR_KEY_FILES}
        for what, value, file in (("private key", self.private_key, self.private_key_file),
                                  ("signing key", self.signing_key, self.signing_key_file),
                                  ("root key", self.root_key, self.root_key_file)):
            env = f"PARCELGUARD_REGULATOR_{what.split()[0].upper()}_KEY"
            if value is None and file is None:
                problems.append(f"no regulator {what}: set {env} or {env}_FILE")
            elif value is None and file is not None and (file.resolve() in dev_files or _is_dev_key_file(file)):
                problems.append(f"the regulator {what} file {file} is a development key")
        if self.resolved_database_url.startswith("sqlite") and not self.allow_sqlite_in_prod:
            problems.append("SQLite is the development store: set PARCELGUARD_REGULATOR_DATABASE_URL to PostgreSQL "
                            "or PARCELGUARD_REGULATOR_ALLOW_SQLITE_IN_PROD=true")
        return problems

    def _dev(self, name: str) -> Path | None:
        return self.var_dir / name if self.env == "dev" else None

    def load_private_key(self) -> bytes:
        return load_key(_secret(self.private_key), self.private_key_file, self._dev("regulator.key"),
                        env="PARCELGUARD_REGULATOR_PRIVATE_KEY", what="regulator private key")

    def load_signing_key(self) -> bytes:
        return load_key(_secret(self.signing_key), self.signing_key_file, self._dev("regulator-signing.key"),
                        env="PARCELGUARD_REGULATOR_SIGNING_KEY", what="regulator signing key")

    def load_root_key(self) -> bytes:
        return load_key(_secret(self.root_key), self.root_key_file, self._dev("regulator-root.key"),
                        env="PARCELGUARD_REGULATOR_ROOT_KEY", what="regulator root key")


class BlacklistSettings(BaseSettings):
    """The industry blacklist (`parcelguard blacklist run`): its own database and root key, which its entries'
    and query log's keyed hashes are made under. Environment prefix PARCELGUARD_BLACKLIST_ (PARCELGUARD_ENV and
    PARCELGUARD_VAR_DIR are shared). It never holds the carriers' industry key."""

    model_config = SettingsConfigDict(env_prefix="PARCELGUARD_BLACKLIST_", extra="ignore", populate_by_name=True)

    env: Literal["dev", "prod"] = Field(default="dev", validation_alias="PARCELGUARD_ENV")
    var_dir: Path = Field(default=Path("var"), validation_alias="PARCELGUARD_VAR_DIR")
    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=1, le=65535)
    database_url: str | None = None
    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)  # a report or a query is under 1 KiB
    # A signed report's or query's time may be this far from the platform's clock (replays are refused).
    request_tolerance_seconds: int = Field(default=300, ge=10, le=3600)
    log_level: str = "info"
    allow_sqlite_in_prod: bool = False

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'blacklist.db'}"

    @property
    def dev_root_key_file(self) -> Path:
        return self.var_dir / "blacklist-root.key"

    def production_problems(self) -> list[str]:
        """What stops the blacklist from running in production; empty when it may run (or in dev)."""
        if self.env != "prod":
            return []
        problems = []
        file = self.root_key_file
        if self.root_key is None and file is None:
            problems.append("no blacklist root key: set PARCELGUARD_BLACKLIST_ROOT_KEY or "
                            "PARCELGUARD_BLACKLIST_ROOT_KEY_FILE")
        elif self.root_key is None and file is not None and (
                file.resolve() == self.dev_root_key_file.resolve() or _is_dev_key_file(file)):
            problems.append(f"the blacklist root key file {file} is a development key")
        if self.resolved_database_url.startswith("sqlite") and not self.allow_sqlite_in_prod:
            problems.append("SQLite is the development store: set PARCELGUARD_BLACKLIST_DATABASE_URL to PostgreSQL "
                            "or PARCELGUARD_BLACKLIST_ALLOW_SQLITE_IN_PROD=true")
        return problems

    def load_root_key(self) -> bytes:
        return load_key(_secret(self.root_key), self.root_key_file,
                        self.dev_root_key_file if self.env == "dev" else None,
                        env="PARCELGUARD_BLACKLIST_ROOT_KEY", what="blacklist root key")


# The development industry key in var/ (`parcelguard blacklist init` writes it for the carriers on this machine).
DEV_INDUSTRY_KEY_FILE = "blacklist-industry.key"


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def load_key(value: str | None, file: Path | None, dev_file: Path | None, *, env: str, what: str) -> bytes:
    """A 32-byte key: from its environment variable, else its file (one base64 line, `#` comments
    allowed), else in development the file `parcelguard init` made."""
    if value is not None:
        return decode_root_key(value, source=env, what=what)
    path = file or dev_file
    if path is None:
        raise ConfigError(f"no {what}: set {env} or {env}_FILE")
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if len(lines) != 1:
        raise ConfigError(f"the {what} file {path} must hold one base64 line")
    return decode_root_key(lines[0], source=str(path), what=what)


def decode_root_key(text: str, *, source: str, what: str = "root key") -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError(f"the {what} in {source} is not base64") from None
    if len(key) != ROOT_KEY_BYTES:
        raise ConfigError(f"the {what} in {source} must be {ROOT_KEY_BYTES} bytes, not {len(key)}")
    return key


def encode_root_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _is_dev_key_file(path: Path) -> bool:
    """A key file `parcelguard init` or `parcelguard regulator init` wrote in development: each starts with
    a `# parcelguard development ...` line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return text.startswith(DEV_KEY_PREFIX)  # DEV_KEY_MARKER's start too


# The development regulator's private keys in var/ (`ensure_dev_regulator_keys` in cli.py writes them).
_DEV_REGULATOR_KEY_FILES = ("regulator.key", "regulator-signing.key", "regulator-root.key")
DEV_KEY_PREFIX = "# parcelguard development "


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
