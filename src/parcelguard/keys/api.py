"""Routes for a carrier's keys (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["keys"])
