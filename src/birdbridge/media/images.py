"""Fitting a picture into a target's limits with Pillow: convert, downscale, re-encode.

Keeps orientation (EXIF rotation is applied) and transparency where the output format
allows it (PNG); everything else becomes JPEG.

Memory is bounded before a pixel is decoded (issue 10: a 1.2 MB PNG can say 20000x20000,
1.6 GB once decoded). ``Image.open`` reads only the header, so the size is known first: a
JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers what the target takes, and
a picture that would still need more than MAX_DECODE_PIXELS is refused with the reason.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import Image, ImageFile, ImageOps

from birdbridge.media.rules import ImageLimits

# Decoded pixels take 4 bytes each: Pillow keeps RGB, RGBA, CMYK, LA, I and F in 4 bytes a
# pixel, and a fit converts to RGB or RGBA before encoding anyway. 128 MiB of pixels is
# 33.5 megapixels: above Mastodon's largest picture (Attachmentable::MAX_MATRIX_LIMIT,
# 7680x4320 = 33,177,600), so any picture Mastodon takes can be decoded whole.
DECODE_BUDGET_BYTES = 128 * 1024 * 1024
MAX_DECODE_PIXELS = DECODE_BUDGET_BYTES // 4

# Pillow refuses to open a picture of more than twice MAX_IMAGE_PIXELS (and only warns
# between once and twice). What it allocates while opening the formats birdbridge reads (a
# GIF first frame's disposal area, 1 byte a pixel) then stays within the same 128 MiB.
# Twice the budget is X's 8192x8192: X's largest picture opens (and passes as it is when
# small enough in bytes), and any JPEG that opens decodes within the budget at 1/2 scale.
Image.MAX_IMAGE_PIXELS = 2 * MAX_DECODE_PIXELS
OPEN_LIMIT_PIXELS = 2 * Image.MAX_IMAGE_PIXELS

# The daemon delivers on up to 8 threads (daemon.py): one decode at a time keeps the budget
# a bound on the process rather than on each thread.
_DECODING = threading.Lock()

T = TypeVar("T")


class ImageError(Exception):
    """The picture cannot be made to fit; the message says why."""


class ImageTooLarge(ImageError):
    """The picture has more pixels than birdbridge decodes (or opens at all)."""


def megapixels(pixels: int) -> str:
    return f"{pixels // 1_000_000} megapixels"


def check_decodable(width: int, height: int) -> None:
    """Raise ImageTooLarge when decoding a width x height picture would exceed the budget."""
    if width * height > MAX_DECODE_PIXELS:
        raise ImageTooLarge(
            f"{width}x{height} pixels is over the {megapixels(MAX_DECODE_PIXELS)} "
            "birdbridge decodes"
        )


def read_header(path: Path, read: Callable[[ImageFile.ImageFile], T]) -> T:
    """``read`` applied to the opened picture; it must only look at headers (size, frame
    count). Whatever Pillow raises on hostile bytes becomes an ImageError with the reason."""
    with _open(path) as image:
        try:
            return read(image)
        except Exception as exc:
            raise _image_error(exc) from None


def fits(path: Path, mime: str, limits: ImageLimits) -> bool:
    """The picture can travel as it is; only its header is read. False when it cannot be
    read at all (fit_image then says why)."""
    if mime not in limits.types or path.stat().st_size > limits.max_bytes:
        return False
    if limits.max_pixels is None:
        return True
    try:
        width, height = read_header(path, lambda image: image.size)
    except ImageError:
        return False
    return width * height <= limits.max_pixels


def is_animated(path: Path) -> bool:
    """More than one frame, read from the headers (no frame is decoded); False when Pillow
    cannot open it (fit_image then says why)."""
    try:
        return read_header(path, lambda image: bool(getattr(image, "is_animated", False)))
    except ImageError:
        return False


def fit_image(path: Path, mime: str, limits: ImageLimits, out_dir: Path) -> tuple[Path, str]:
    """``path`` itself when it already fits, else a converted copy; (file, MIME type)."""
    if fits(path, mime, limits):
        return path, mime
    with _DECODING, _open(path) as original:
        image = _decoded(original, limits.max_pixels)
        return _encode_to_fit(image, limits, out_dir / f"{path.stem}-fitted")


def _open(path: Path) -> ImageFile.ImageFile:
    """Image.open, which reads the header only; its failures as ImageError."""
    try:
        return Image.open(path)
    except Exception as exc:
        raise _image_error(exc) from None


def _image_error(exc: Exception) -> ImageError:
    """What Pillow raised on a picture's bytes, as the picture's problem. Crafted files
    raise more than OSError: ValueError, EOFError, SyntaxError, struct.error, ..."""
    if isinstance(exc, Image.DecompressionBombError):
        return ImageTooLarge(f"over the {megapixels(OPEN_LIMIT_PIXELS)} birdbridge opens ({exc})")
    return ImageError(f"cannot read the picture: {type(exc).__name__}: {exc}")


def _decoded(original: ImageFile.ImageFile, max_pixels: int | None) -> Image.Image:
    """The picture's pixels, upright and at most ``max_pixels``, never decoding more than
    MAX_DECODE_PIXELS."""
    width, height = original.size
    scale = _jpeg_scale(width, height, max_pixels)
    if scale > 1:  # only a JPEG can be decoded smaller; for the others this does nothing
        original.draft(None, (max(1, width // scale), max(1, height // scale)))
    check_decodable(*original.size)
    try:
        original.load()
        image = _downscale(original, max_pixels)
        ImageOps.exif_transpose(image, in_place=True)  # keep what the camera meant as "up"
    except Exception as exc:
        raise _image_error(exc) from None
    return image


def _jpeg_scale(width: int, height: int, max_pixels: int | None) -> int:
    """By how much (1, 2, 4 or 8) libjpeg should shrink a JPEG while decoding it: the most
    that still leaves the pixels the target takes, then more while over the budget."""
    wanted = min(width * height, max_pixels or width * height, MAX_DECODE_PIXELS)
    scale = 1
    while scale < 8 and _scaled(width, height, scale * 2) >= wanted:
        scale *= 2
    while scale < 8 and _scaled(width, height, scale) > MAX_DECODE_PIXELS:
        scale *= 2
    return scale


def _scaled(width: int, height: int, scale: int) -> int:
    return -(-width // scale) * -(-height // scale)  # libjpeg rounds each side up


def _encode_to_fit(image: Image.Image, limits: ImageLimits, stem: Path) -> tuple[Path, str]:
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    use_png = transparent and "image/png" in limits.types
    if not use_png and "image/jpeg" not in limits.types:
        raise ImageError(f"the target accepts none of JPEG or PNG ({sorted(limits.types)})")
    flat = _flattened(image, use_png)  # converted once, not once per try
    for scale in (1.0, 0.85, 0.7, 0.55, 0.4, 0.3, 0.2):
        candidate = (
            flat
            if scale == 1.0
            else flat.resize(
                (max(1, int(flat.width * scale)), max(1, int(flat.height * scale))),
                Image.Resampling.LANCZOS,
            )
        )
        out, mime = _save(candidate, stem, use_png)
        if out.stat().st_size <= limits.max_bytes:
            return out, mime
    raise ImageError(f"still over {limits.max_bytes} bytes after shrinking to 20%")


def _downscale(image: Image.Image, max_pixels: int | None) -> Image.Image:
    if max_pixels is None or image.width * image.height <= max_pixels:
        return image
    ratio = math.sqrt(max_pixels / (image.width * image.height))
    size = (max(1, int(image.width * ratio)), max(1, int(image.height * ratio)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _flattened(image: Image.Image, png: bool) -> Image.Image:
    """RGBA for a PNG; RGB for a JPEG, which has no alpha: flattened onto white, not black."""
    if png:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    if image.mode in ("P", "LA", "PA"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _save(image: Image.Image, stem: Path, png: bool) -> tuple[Path, str]:
    if png:
        out = stem.with_suffix(".png")
        image.save(out, "PNG", optimize=True)
        return out, "image/png"
    out = stem.with_suffix(".jpg")
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out, "image/jpeg"
