"""Settings: where the root key comes from, and what a production start refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from parcelguard.core.config import (
    DEV_KEY_MARKER,
    ConfigError,
    RegulatorSettings,
    Settings,
    decode_root_key,
    encode_root_key,
)

KEY = encode_root_key(bytes(range(32)))


@given(st.binary(min_size=32, max_size=32))
def test_a_root_key_survives_encoding(key: bytes) -> None:
    assert decode_root_key(encode_root_key(key), source="test") == key


@pytest.mark.parametrize(("text", "message"), [("not base64!!", "not base64"), (encode_root_key(b"short"), "32 bytes")])
def test_a_malformed_root_key_is_a_one_line_error_that_does_not_echo_it(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode_root_key(text, source="PARCELGUARD_ROOT_KEY")
    assert message in str(info.value) and text not in str(info.value)


def test_the_root_key_file_may_carry_comment_lines(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.write_text(f"{DEV_KEY_MARKER}\n{KEY}\n")
    assert Settings(root_key_file=path).load_root_key() == bytes(range(32))


def test_development_defaults_to_the_key_file_under_var(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert settings.resolved_root_key_file == tmp_path / "root.key"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'parcelguard.db'}"
    assert settings.production_problems() == []


def test_production_lists_what_it_refuses(tmp_path: Path) -> None:
    dev_key = tmp_path / "elsewhere.key"
    dev_key.write_text(f"{DEV_KEY_MARKER}\n{KEY}\n")
    pg = "postgresql+psycopg://app@db/parcelguard"
    assert "no root key" in Settings(env="prod", database_url=pg).production_problems()[0]
    assert "development key" in Settings(env="prod", database_url=pg, root_key_file=dev_key).production_problems()[0]
    assert "no regulator public key" in Settings(env="prod", root_key=SecretStr(KEY),
                                                 database_url=pg).production_problems()[0]
    keyed = {"root_key": SecretStr(KEY), "regulator_public_key": KEY, "sms_sender": "http",
             "sms_http_url": "https://sms.example/send", "sms_http_secret": SecretStr(KEY)}
    assert "SQLite" in Settings(env="prod", **keyed).production_problems()[0]
    assert Settings(env="prod", allow_sqlite_in_prod=True, **keyed).production_problems() == []
    assert Settings(env="prod", database_url=pg, **keyed).production_problems() == []
    assert Settings(env="prod", database_url=pg, **keyed).load_regulator_public_key() == bytes(range(32))


def test_the_root_key_never_shows_in_the_settings_repr() -> None:
    assert KEY not in repr(Settings(root_key=SecretStr(KEY)))


@pytest.mark.parametrize("text", ["0", "6", "three", "1.5", ""])
def test_a_bad_nats_replicas_is_refused_at_start_naming_the_setting(text: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELGUARD_NATS_REPLICAS", text)
    for settings in (Settings, RegulatorSettings):
        with pytest.raises(ValidationError, match="PARCELGUARD_NATS_REPLICAS .* 1 to 5"):
            settings()


def test_the_nats_replicas_default_to_one_and_the_platform_takes_its_own_name_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().nats_replicas == RegulatorSettings().nats_replicas == 1
    monkeypatch.setenv("PARCELGUARD_NATS_REPLICAS", "3")
    assert Settings().nats_replicas == RegulatorSettings().nats_replicas == 3
    monkeypatch.setenv("PARCELGUARD_REGULATOR_NATS_REPLICAS", "5")
    assert (Settings().nats_replicas, RegulatorSettings().nats_replicas) == (3, 5)


def test_the_feed_settings_keep_their_names_after_the_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELGUARD_FEED", "jetstream")
    monkeypatch.setenv("PARCELGUARD_UPLOAD_BATCH_RECORDS", "250")
    monkeypatch.setenv("PARCELGUARD_UPLOAD_IN_FLIGHT", "4")
    monkeypatch.setenv("PARCELGUARD_REGULATOR_FEED_WORKERS", "3")
    settings, platform = Settings(), RegulatorSettings()
    assert (settings.feed, settings.upload_batch_records, settings.upload_in_flight) == ("jetstream", 250, 4)
    assert (platform.feed, platform.feed_workers) == ("jetstream", 3)
