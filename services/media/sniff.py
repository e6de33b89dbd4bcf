"""Decide a file's type by its bytes, never its name."""

from __future__ import annotations

from dataclasses import dataclass

import filetype

from db.models import AssetKind

# mime type by magic -> the kind of asset it becomes
ALLOWED: dict[str, AssetKind] = {
    "image/png": AssetKind.IMAGE,
    "image/jpeg": AssetKind.IMAGE,
    "image/webp": AssetKind.IMAGE,
    "image/gif": AssetKind.IMAGE,
    "video/mp4": AssetKind.VIDEO,
    "video/quicktime": AssetKind.VIDEO,
    "video/webm": AssetKind.VIDEO,
    "video/x-matroska": AssetKind.VIDEO,
    "audio/mpeg": AssetKind.AUDIO,
    "audio/x-wav": AssetKind.AUDIO,
    "audio/ogg": AssetKind.AUDIO,
    "audio/x-flac": AssetKind.AUDIO,
    "audio/mp4": AssetKind.AUDIO,
    "application/pdf": AssetKind.DOCUMENT,
}
CANONICAL = {"audio/x-wav": "audio/wav", "audio/x-flac": "audio/flac"}


@dataclass(frozen=True, slots=True)
class Sniffed:
    mime_type: str
    kind: AssetKind
    extension: str


def sniff(head: bytes) -> Sniffed | None:
    """The allowed type these leading bytes announce, or None for anything else."""
    guess = filetype.guess(head)
    if guess is None or guess.mime not in ALLOWED:
        return None
    return Sniffed(
        mime_type=CANONICAL.get(guess.mime, guess.mime),
        kind=ALLOWED[guess.mime],
        extension=guess.extension,
    )
