"""The blacklist as an outside OpenAPI fuzzer sees it: no server error, no undocumented status or content type,
no body off its schema (its requests are signed, so the fuzzer's are all refused: the refusals must be right)."""

from __future__ import annotations

import pytest

from tests.support import fuzz_openapi


@pytest.mark.e2e
def test_the_fuzzer_finds_nothing_on_the_blacklist(blacklist: str) -> None:
    fuzz_openapi(blacklist, {})
