"""Fitting pictures into a target's limits with real Pillow-made files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from birdbridge.media.images import ImageError, ImageLimits, fit_image, is_animated
from birdbridge.media.sniff import sniff_file

JPEG_PNG = frozenset({"image/jpeg", "image/png"})


def noisy(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Random pixels: they do not compress, so file sizes are predictable-ish and large."""
    import os

    return Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))


def test_a_picture_that_fits_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "small.jpg"
    noisy((64, 64)).save(path, "JPEG")
    out, mime = fit_image(path, "image/jpeg", ImageLimits(JPEG_PNG, 10_000_000), tmp_path)
    assert out == path and mime == "image/jpeg"


def test_an_oversized_picture_is_shrunk_below_the_byte_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    noisy((1200, 1200)).save(path, "PNG")
    assert path.stat().st_size > 3_000_000
    out, mime = fit_image(path, "image/png", ImageLimits(JPEG_PNG, 300_000), tmp_path)
    assert out.stat().st_size <= 300_000
    assert mime == "image/jpeg" == sniff_file(out)


def test_too_many_pixels_are_scaled_down_keeping_the_aspect(tmp_path: Path) -> None:
    path = tmp_path / "wide.jpg"
    noisy((2000, 500)).save(path, "JPEG")
    out, _ = fit_image(path, "image/jpeg", ImageLimits(JPEG_PNG, 50_000_000, 250_000), tmp_path)
    with Image.open(out) as image:
        assert image.width * image.height <= 250_000
        assert abs(image.width / image.height - 4) < 0.05


def test_webp_becomes_jpeg_where_webp_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.webp"
    noisy((100, 80)).save(path, "WEBP")
    out, mime = fit_image(path, "image/webp", ImageLimits(JPEG_PNG, 5_000_000), tmp_path)
    assert mime == "image/jpeg" == sniff_file(out)


def test_transparency_is_kept_as_png(tmp_path: Path) -> None:
    path = tmp_path / "logo.webp"
    image = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    image.putpixel((5, 5), (0, 0, 255, 255))
    image.save(path, "WEBP", lossless=True)
    out, mime = fit_image(path, "image/webp", ImageLimits(JPEG_PNG, 5_000_000), tmp_path)
    assert mime == "image/png"
    with Image.open(out) as result:
        assert result.mode == "RGBA"
        assert result.getpixel((0, 0))[3] == 0 and result.getpixel((5, 5))[3] == 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    noisy((300, 100)).save(path, "JPEG", exif=exif)
    out, _ = fit_image(
        path,
        "image/jpeg",
        ImageLimits(frozenset({"image/png"}) | JPEG_PNG, 50_000_000, 20_000),
        tmp_path,
    )
    with Image.open(out) as image:
        assert image.height > image.width  # portrait, as the camera meant


def test_a_broken_file_is_an_image_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"garbage" * 100)
    with pytest.raises(ImageError):
        fit_image(path, "image/jpeg", ImageLimits(frozenset({"image/png"}), 10), tmp_path)


def test_animated_gif_is_recognised(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (10, 10), color) for color in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    path = tmp_path / "anim.gif"
    path.write_bytes(buffer.getvalue())
    still = tmp_path / "still.gif"
    frames[0].save(still, "GIF")
    assert is_animated(path) and not is_animated(still)
