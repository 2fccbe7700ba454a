"""Routes for the prohibited and restricted items catalogue. Thin: parse, call, shape."""

from __future__ import annotations

from fastapi import APIRouter

from parcelguard.shipments.catalogue import Catalogue

router = APIRouter(tags=["catalogue"])


@router.get("/catalogue", summary="Item categories and the prohibited and restricted items rules")
async def catalogue() -> dict[str, object]:
    """Public data: what a terminal offers as categories, and what intake refuses (`item_prohibited`) or
    takes only after an inspection (`inspection_required`)."""
    data = Catalogue.default()
    return {
        "categories": [{"code": c.code, "label_zh": c.label_zh, "label_en": c.label_en} for c in data.categories()],
        "rules": [{"id": r.id, "level": r.level, "label_zh": r.label_zh, "label_en": r.label_en}
                  for r in data.rules],
    }
