"""What a newcomer meets first: the Makefile's interpreter probe and the settings the docs name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from parcelguard.core.config import BlacklistSettings, RegulatorSettings, Settings
from parcelguard.enterprise.platform.settings import EnterpriseSettings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_makefile_picks_a_python_without_a_word_about_the_missing_ones(tmp_path: Path) -> None:
    # pyenv puts a shim on PATH for every version it knows; one not selected complains on stderr.
    shims = tmp_path / "shims"
    shims.mkdir()
    for name in ("python3.13", "python3.12"):
        shim = shims / name
        shim.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
    (shims / "python3.11").symlink_to(sys.executable)
    work = tmp_path / "clone"
    work.mkdir()
    shutil.copy(ROOT / "Makefile", work)
    shutil.copy(ROOT / "pyproject.toml", work)
    done = subprocess.run(["make", "-n", ".venv/.installed"], check=False, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{shims}:/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "python3.11 -m venv .venv" in done.stdout


def _documented() -> str:
    return (ROOT / "README.md").read_text() + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


@pytest.mark.parametrize("settings", [Settings, RegulatorSettings], ids=["carrier", "regulator"])
def test_every_setting_is_named_in_the_docs_in_full(settings: type) -> None:
    docs = _documented()
    prefix = settings.model_config["env_prefix"]
    missing = []
    for name, field in settings.model_fields.items():
        variable = field.validation_alias if isinstance(field.validation_alias, str) else prefix + name.upper()
        if f"`{variable}`" not in docs and f"`{variable}_" not in docs:  # a family: `PARCELGUARD_UPLOAD_*`
            missing.append(variable)
    assert missing == []


def test_the_readme_says_where_every_server_of_make_run_listens() -> None:
    readme = (ROOT / "README.md").read_text()
    for variable in ("PARCELGUARD_HOST", "PARCELGUARD_PORT", "PARCELGUARD_REGULATOR_HOST",
                     "PARCELGUARD_REGULATOR_PORT", "PARCELGUARD_BLACKLIST_HOST", "PARCELGUARD_BLACKLIST_PORT",
                     "PARCELGUARD_ENTERPRISE_HOST", "PARCELGUARD_ENTERPRISE_PORT"):
        assert f"`{variable}`" in readme
    for server in (Settings, RegulatorSettings, BlacklistSettings, EnterpriseSettings):
        assert f":{server.model_fields['port'].default}" in readme
