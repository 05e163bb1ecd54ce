"""Fitting a picture into a target's limits with Pillow: convert, downscale, re-encode.

Keeps orientation (EXIF rotation is applied) and transparency where the output format
allows it (PNG); everything else becomes JPEG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 200_000_000  # refuse decompression bombs beyond ~200 megapixels


class ImageError(Exception):
    """The picture cannot be made to fit; the message says why."""


@dataclass(frozen=True)
class ImageLimits:
    types: frozenset[str]  # MIME types the target accepts for pictures
    max_bytes: int
    max_pixels: int | None = None  # width * height


def fits(path: Path, mime: str, limits: ImageLimits) -> bool:
    if mime not in limits.types or path.stat().st_size > limits.max_bytes:
        return False
    if limits.max_pixels is None:
        return True
    with Image.open(path) as image:
        return image.width * image.height <= limits.max_pixels


def fit_image(path: Path, mime: str, limits: ImageLimits, out_dir: Path) -> tuple[Path, str]:
    """``path`` itself when it already fits, else a converted copy; (file, MIME type)."""
    if fits(path, mime, limits):
        return path, mime
    try:
        with Image.open(path) as original:
            image = ImageOps.exif_transpose(original)  # keep what the camera meant as "up"
            return _encode_to_fit(image, limits, out_dir / f"{path.stem}-fitted")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot read the picture: {exc}") from None


def _encode_to_fit(image: Image.Image, limits: ImageLimits, stem: Path) -> tuple[Path, str]:
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    use_png = transparent and "image/png" in limits.types
    if not use_png and "image/jpeg" not in limits.types:
        raise ImageError(f"the target accepts none of JPEG or PNG ({sorted(limits.types)})")
    image = _downscale(image, limits.max_pixels)
    for scale in (1.0, 0.85, 0.7, 0.55, 0.4, 0.3, 0.2):
        candidate = (
            image
            if scale == 1.0
            else image.resize(
                (max(1, int(image.width * scale)), max(1, int(image.height * scale))),
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


def _save(image: Image.Image, stem: Path, png: bool) -> tuple[Path, str]:
    if png:
        out = stem.with_suffix(".png")
        image.convert("RGBA").save(out, "PNG", optimize=True)
        return out, "image/png"
    out = stem.with_suffix(".jpg")
    flat = image.convert("RGBA") if image.mode in ("P", "LA", "PA") else image
    if flat.mode == "RGBA":  # JPEG has no alpha: flatten onto white, not black
        background = Image.new("RGB", flat.size, "white")
        background.paste(flat, mask=flat.getchannel("A"))
        flat = background
    flat.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out, "image/jpeg"


def is_animated(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            return bool(getattr(image, "is_animated", False))
    except (UnidentifiedImageError, OSError):
        return False
