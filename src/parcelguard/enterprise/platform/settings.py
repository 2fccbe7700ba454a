"""The enterprise console's settings (`parcelguard enterprise run`): its own database and root key. Environment
prefix PARCELGUARD_ENTERPRISE_ (PARCELGUARD_ENV and PARCELGUARD_VAR_DIR are shared)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from parcelguard.core.config import _is_dev_key_file, _secret, load_key


class EnterpriseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCELGUARD_ENTERPRISE_", extra="ignore", populate_by_name=True)

    env: Literal["dev", "prod"] = Field(default="dev", validation_alias="PARCELGUARD_ENV")
    var_dir: Path = Field(default=Path("var"), validation_alias="PARCELGUARD_VAR_DIR")
    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=1, le=65535)
    database_url: str | None = None
    # The key the carrier credentials are encrypted under at rest (base64url of 32 bytes, or a file holding it).
    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)  # a rate table file is at most 5 MB
    log_level: str = "info"
    allow_sqlite_in_prod: bool = False
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)
    # How long a carrier's API may take to answer one call before the console gives up on it.
    carrier_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'enterprise.db'}"

    @property
    def dev_root_key_file(self) -> Path:
        return self.var_dir / "enterprise-root.key"

    def production_problems(self) -> list[str]:
        """What stops the console from running in production; empty when it may run (or in dev)."""
        if self.env != "prod":
            return []
        problems = []
        file = self.root_key_file
        if self.root_key is None and file is None:
            problems.append("no enterprise root key: set PARCELGUARD_ENTERPRISE_ROOT_KEY or "
                            "PARCELGUARD_ENTERPRISE_ROOT_KEY_FILE")
        elif self.root_key is None and file is not None and (
                file.resolve() == self.dev_root_key_file.resolve() or _is_dev_key_file(file)):
            problems.append(f"the enterprise root key file {file} is a development key")
        if self.resolved_database_url.startswith("sqlite") and not self.allow_sqlite_in_prod:
            problems.append("SQLite is the development store: set PARCELGUARD_ENTERPRISE_DATABASE_URL to PostgreSQL "
                            "or PARCELGUARD_ENTERPRISE_ALLOW_SQLITE_IN_PROD=true")
        return problems

    def load_root_key(self) -> bytes:
        return load_key(_secret(self.root_key), self.root_key_file,
                        self.dev_root_key_file if self.env == "dev" else None,
                        env="PARCELGUARD_ENTERPRISE_ROOT_KEY", what="enterprise root key")
