"""A QR code read from a photo on the server: the fallback when the browser has no BarcodeDetector.

Pages that take a QR code (checking a courier; next, pickup scanning a sender's real-name QR and delivery
scanning a label) accept a photo and call `decode_qr`. The photo is read in memory and never stored or
logged: it may show a person or a label.
"""

from __future__ import annotations

import io
import warnings

import zxingcpp
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 8 * 1024 * 1024  # a phone's full-resolution JPEG is 2-5 MB
# A 108-megapixel phone camera makes 12000 x 9000. Past this the photo is refused before it is decoded,
# so a small file that inflates to a huge bitmap (a "decompression bomb") costs nothing.
MAX_IMAGE_PIXELS = 120_000_000


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can open (or the image is absurdly large)."""


def decode_qr(image_bytes: bytes) -> str | None:
    """The text of the first QR code in the photo; None when the photo holds no readable QR code.

    Raises NotAnImage when the bytes are no image. zxing-cpp itself tries rotations, inverted codes and
    downscaled copies, so a phone photo taken at an angle or of a screen is read as it is."""
    image = _open(image_bytes)
    try:
        gray = image.convert("L")
    except (OSError, ValueError) as exc:  # a truncated or corrupt image fails only when its pixels load
        raise NotAnImage("the image's data cannot be read") from exc
    finally:
        image.close()
    for barcode in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode):
        if barcode.valid and barcode.text:
            return str(barcode.text)
    return None


def _open(data: bytes) -> Image.Image:
    if not data:
        raise NotAnImage("no bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit follows
            image = Image.open(io.BytesIO(data))
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage("not an image") from exc
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise NotAnImage("too many pixels")
    return image
