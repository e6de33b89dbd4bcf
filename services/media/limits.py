"""How much decoding an untrusted file may ask for, and where that decoding runs.

Every check reads the declared size from the file's header first and refuses anything
above the pixel limit before a frame is decoded; the decoding that follows runs on a
small, dedicated pool so a burst of uploads cannot decode more than a few frames at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from services.settings import Settings

DEFAULT_MAX_PIXELS: int = Settings.model_fields["max_image_pixels"].default
DECODE_SLOTS = 2  # the machine's cores: decoding is CPU-bound, and each slot holds a frame

P = ParamSpec("P")
T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=DECODE_SLOTS, thread_name_prefix="media-check")


class ProbeError(Exception):
    """The bytes are not a usable file of the type their magic announced."""


class TooManyPixels(ProbeError):
    """Refused by its declared size; the message is safe to show to the uploader."""

    def __init__(self, limit: int, width: int | None = None, height: int | None = None) -> None:
        if width is not None and height is not None and width > 0 and height > 0:
            message = f"is {width}x{height} pixels, above the limit of {limit} pixels"
        elif width is None:
            message = f"is above the limit of {limit} pixels"
        else:  # a decoder that refused the size while reading stream info leaves it at 0
            message = f"has no frame size within the limit of {limit} pixels"
        super().__init__(message)
        self.limit, self.width, self.height = limit, width, height


def check_pixels(width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise TooManyPixels(limit, width, height)


async def run_decoder(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking check on the decode pool (at most DECODE_SLOTS at once)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, functools.partial(fn, *args, **kwargs))
