"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os

import pytest


def require_all() -> bool:
    return os.environ.get("GOEX_REQUIRE_ALL") == "1"


def require(available: bool, reason: str) -> None:
    """Skip when a capability is missing — or fail, when GOEX_REQUIRE_ALL=1 (as in CI)."""
    if available:
        return
    if require_all():
        pytest.fail(f"GOEX_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)
