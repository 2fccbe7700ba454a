"""Settings from the environment (prefix PARCELGUARD_), and the checks a production start must pass."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# A key file written by `parcelguard init` in development starts with this line, so a
# production start can recognise it and refuse it wherever it was copied to.
DEV_KEY_MARKER = "# parcelguard development root key: never use in production"
ROOT_KEY_BYTES = 32


class ConfigError(Exception):
    """The configuration cannot run: the message is one line for an operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCELGUARD_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    var_dir: Path = Path("var")
    database_url: str | None = None
    allow_sqlite_in_prod: bool = False
    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
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
    # The audit log signs a tree head whenever it passes a multiple of this many entries ...
    audit_head_every: int = Field(default=1000, ge=1)
    # ... and the server signs one for any log with unsigned entries at least this often.
    audit_head_seconds: float = Field(default=60.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'parcelguard.db'}"

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
        if self.regulator_public_key is not None:
            return decode_root_key(self.regulator_public_key, source="PARCELGUARD_REGULATOR_PUBLIC_KEY",
                                   what="regulator public key")
        path = self.regulator_public_key_file
        if path is None and self.env == "dev":
            path = self.dev_regulator_key_files[1]
        if path is None:
            raise ConfigError("no regulator public key: set PARCELGUARD_REGULATOR_PUBLIC_KEY")
        try:
            lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        except OSError as exc:
            raise ConfigError(f"cannot read the regulator public key file {path}: {exc.strerror}") from None
        if len(lines) != 1:
            raise ConfigError(f"the regulator public key file {path} must hold one base64 line")
        return decode_root_key(lines[0], source=str(path), what="regulator public key")


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
    try:
        return path.read_text().startswith(DEV_KEY_MARKER)
    except OSError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
