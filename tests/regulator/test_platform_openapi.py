"""The regulator's platform as an outside OpenAPI fuzzer sees it: no server error, no undocumented status or
content type, no body off its schema, as an anonymous caller and as a signed-in official (the carrier
platform's side is tests/web/test_openapi.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.regulator.officials import signed_in
from tests.support import fuzz_openapi


@pytest.mark.e2e
@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "official"])
def test_the_fuzzer_finds_nothing_on_the_regulator_platform(signed: bool, platform: str, platform_engine: Engine) -> None:
    headers = signed_in(platform, platform_engine) if signed else {}
    fuzz_openapi(platform, headers, exclude=("/api/v1/auth/logout",) if signed else ())
