"""X's media: the upload categories and their limits, the types X takes (by the bytes, never
the declared type), media_key prefixes, the upload error messages, and what the sandbox serves
as a video's preview (XD:x-api/media/*, api-notes X1)."""

from __future__ import annotations

import base64

from birdbridge.sandbox.common.images import ftyp_brand, image_type

MIB = 1024 * 1024
# The request bodies of the media endpoints are checked against the newest openapi.json in
# media/schema.py. The older `command=INIT|APPEND|FINALIZE` form on POST /2/media/upload, which
# the chunked quickstart's cURL lines still show (XD:x-api/media/quickstart/
# media-upload-chunked.mdx), is refused: MediaUploadRequest (openapi 2.167) declares only
# `media`, `media_category` and `additional_owners`, with additionalProperties false.
# Upload limits by category family (XD:x-api/media/introduction.mdx; the 512 MB video figure
# is the one api-notes X1 quotes; newer best-practices.mdx says 8 GB for Post video).
DEFAULT_MEDIA_LIMITS = {"tweet_image": 5 * MIB, "tweet_gif": 15 * MIB, "tweet_video": 512 * MIB}
MEDIA_CATEGORIES = {  # category -> family (a key of media_limits)
    "tweet_image": "tweet_image",
    "dm_image": "tweet_image",
    "tweet_gif": "tweet_gif",
    "dm_gif": "tweet_gif",
    "tweet_video": "tweet_video",
    "amplify_video": "tweet_video",
    "dm_video": "tweet_video",
}
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
# media_key prefixes seen on live X: 3_ image, 7_ video, 13_ amplify_video, 16_ animated GIF
# (XD:…/media-upload-chunked.mdx; abraham/twitteroauth#1222; plhery/node-twitter-api-v2#519)
KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}
ALT_TEXT_MAX = 1000
DEFAULT_MEDIA_TTL = 86400  # `expires_after_secs` after upload (xurl#18, chunked quickstart)
VIDEO_BIT_RATE = 2176000
# Upload error messages. "Not found": xdevplatform/xurl#18 (STATUS of an unknown or
# unprocessed media). "media type unrecognized.": sferik/x-ruby#14 and #54 (FINALIZE of
# bytes X cannot decode). "Your media IDs are invalid.": abraham/twitteroauth#1222,
# plhery/node-twitter-api-v2#336 (POST /2/tweets with a pending, unknown or foreign media).
MEDIA_NOT_FOUND = "BadRequest: Not found"
MEDIA_UNRECOGNIZED = "media type unrecognized."
MEDIA_IDS_INVALID = "Your media IDs are invalid."
SEGMENTS_MISMATCH = "Segments do not add up to provided total file size."  # v1.1 wording
# Subtitles and 3D models pass the schema's enums but are beyond this sandbox: its own wording.
UNSUPPORTED_CATEGORY = "The X sandbox does not handle media_category {} uploads."
PROCESSING_ERROR = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
# A 16x9 grey JPEG served as the preview image of videos and GIFs.
THUMBNAIL = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERX"
    "RTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAJABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAA"
    "AAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
    "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKT"
    "lJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QA"
    "HwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh"
    "cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hp"
    "anN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk"
    "5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDk6KKKAP/Z"
)


def sniff_media_type(head: bytes) -> str | None:
    """The content type of media bytes by their magic numbers; None if X would not take it
    (HEIC/AVIF, WebM, BMP, ...). X decodes the bytes, it does not trust the declared type."""
    picture = image_type(head)
    if picture is not None:
        return picture
    brand = ftyp_brand(head)
    if brand is None or brand in _HEIF_BRANDS:
        return None
    return "video/quicktime" if brand == b"qt  " else "video/mp4"


def post_category(media_type: str | None) -> str:
    """The Post category X assumes from the content type when none is given
    (XD:x-api/media/quickstart/best-practices.mdx); a subtitle file is `subtitles`. Without
    a type either, X's choice is not documented: the sandbox takes tweet_image."""
    if media_type is None:
        return "tweet_image"
    if media_type.startswith("video/"):
        return "tweet_video"
    if media_type == "image/gif":
        return "tweet_gif"
    if media_type.startswith("image/"):
        return "tweet_image"
    return "subtitles" if media_type.startswith("text/") else media_type
