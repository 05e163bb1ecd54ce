"""Fitting pictures into a target's limits with real Pillow-made files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import birdbridge
from birdbridge.media.images import (
    ImageError,
    ImageLimits,
    ImageTooLarge,
    fit_image,
    fits,
    is_animated,
)
from birdbridge.media.rules import GifRules
from birdbridge.media.sniff import sniff_file
from birdbridge.media.videofit import Unfit, gif_problems

from ..media_files import gif_bytes, png_bomb

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


# -- issue 10: decompression and memory bombs ----------------------------------------------

MASTODON = ImageLimits(JPEG_PNG, 16 * 1024 * 1024, 33_177_600)  # its instance's defaults
X = ImageLimits(JPEG_PNG | {"image/webp", "image/gif"}, 5 * 1024 * 1024, 8192 * 8192)


def test_a_decompression_bomb_is_refused_by_every_check_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb((30000, 30000)))  # 2.6 MB; Pillow refuses to open it at all
    assert not fits(path, "image/png", MASTODON)
    assert not is_animated(path)
    with pytest.raises(ImageTooLarge, match="birdbridge"):
        fit_image(path, "image/png", MASTODON, tmp_path)


def test_a_gif_bomb_is_refused_by_the_gif_checks_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gif"
    path.write_bytes(gif_bytes((65535, 65535), 3))  # a 4.3-gigapixel screen in 70 bytes
    assert not is_animated(path)
    with pytest.raises(Unfit, match="birdbridge"):
        gif_problems(path, GifRules(max_width=1280), 15 * 1024 * 1024, "X")
    with pytest.raises(ImageTooLarge):
        fit_image(path, "image/gif", MASTODON, tmp_path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # over 67 MP: expected
def test_an_animated_gif_over_the_decode_budget_is_not_handed_to_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "wide.gif"
    path.write_bytes(gif_bytes((12000, 10000), 3))  # opens (120 MP), but no target takes it
    assert is_animated(path)
    with pytest.raises(Unfit, match="12000x10000 pixels is over the 33 megapixels"):
        gif_problems(path, GifRules(max_width=1280), 15 * 1024 * 1024, "X")


FIT_UNDER_512_MIB = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
from birdbridge.media.images import ImageError, ImageLimits, fit_image
limits = ImageLimits(frozenset({"image/jpeg", "image/png"}), 16 << 20, int(sys.argv[2]))
try:
    out, mime = fit_image(Path(sys.argv[1]), "image/png", limits, Path(sys.argv[1]).parent)
except ImageError as exc:
    print(f"refused: {exc}")
else:
    print(f"fitted: {out.name}")
"""


def fit_in_512_mib(path: Path, max_pixels: int) -> subprocess.CompletedProcess[str]:
    """fit_image in a fresh Python whose address space is capped at 512 MiB: decoding a
    picture of more than ~120 megapixels (4 bytes a pixel) there ends in MemoryError."""
    source = str(Path(birdbridge.__file__).parents[1])
    return subprocess.run(
        [sys.executable, "-c", FIT_UNDER_512_MIB, str(path), str(max_pixels)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": source},
        check=False,
    )


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ((20000, 20000), "refused: over the 134 megapixels birdbridge opens"),
        ((12000, 11000), "refused: 12000x11000 pixels is over the 33 megapixels birdbridge"),
    ],
)
@pytest.mark.parametrize("limits", [MASTODON, X], ids=["mastodon", "x"])
def test_a_memory_bomb_is_refused_from_its_header_without_decoding(
    tmp_path: Path, size: tuple[int, int], reason: str, limits: ImageLimits
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(size))  # 1.2 MB and 0.4 MB; 1.6 GB and 528 MB decoded
    done = fit_in_512_mib(path, limits.max_pixels or 0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(reason), done.stdout


def test_a_picture_at_mastodon_s_limit_is_still_fitted_in_512_mib(tmp_path: Path) -> None:
    path = tmp_path / "largest.png"
    path.write_bytes(png_bomb((7680, 4320)))  # MAX_MATRIX_LIMIT exactly, 133 MB decoded
    done = fit_in_512_mib(path, 7680 * 4320 - 1)  # one pixel over: it must be decoded
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("fitted: "), done.stdout


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # over 67 MP: expected
def test_a_jpeg_over_the_decode_budget_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    path = tmp_path / "panorama.jpg"
    Image.new("L", (8400, 8200), 128).save(path, "JPEG")  # 68.9 MP: over the budget whole
    out, mime = fit_image(path, "image/jpeg", X, tmp_path)
    assert mime == "image/jpeg" and out != path
    with Image.open(out) as image:  # libjpeg's 1/2 scale, not a refusal
        assert image.size == (4200, 4100)
