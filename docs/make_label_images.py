"""Render the label pictures in docs/labels.md: the demo label in both layouts, as the printer's 203-dpi
raster (`render_png`). Run: .venv/bin/python docs/make_label_images.py"""

from __future__ import annotations

from pathlib import Path

from parcelguard.waybills import labels

HERE = Path(__file__).parent / "img"

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for layout in labels.Layout:
        path = HERE / f"label-{layout.value.replace('_', '-')}.png"
        path.write_bytes(labels.render_png(labels.sample_label(), layout))
        print(path)
