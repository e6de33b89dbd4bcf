"""Pair selector tests; `make_image` writes small real images with Pillow."""

from __future__ import annotations

import uuid
from pathlib import Path

from PIL import Image, ImageDraw

from services.pairing.base import ImageCandidate

RGB = tuple[int, int, int]
MIME = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
FORMAT = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF"}


def make_image(
    directory: Path,
    name: str,
    color: RGB,
    *,
    ext: str = "png",
    size: tuple[int, int] = (96, 64),
    patch: RGB | None = None,
    known_size: bool = True,
) -> ImageCandidate:
    """A solid image, with an optional patch of another colour in its top-left quarter."""
    image = Image.new("RGB", size, color)
    if patch is not None:
        ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2, size[1] // 2), fill=patch)
    path = directory / f"{name}.{ext}"
    image.save(path, format=FORMAT[ext])
    return ImageCandidate(
        asset_id=uuid.uuid5(uuid.NAMESPACE_URL, f"test:{name}"),
        path=path,
        mime_type=MIME[ext],
        width=size[0] if known_size else None,
        height=size[1] if known_size else None,
    )
