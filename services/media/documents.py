"""PDFs checked by parsing them with pypdf: a PDF header followed by junk is refused.

pypdf caps what a stream may inflate to (75 MB by default), so a compressed-object bomb
is refused rather than decompressed.
"""

from __future__ import annotations

from pathlib import Path

from services.media.limits import ProbeError


def count_pages(path: Path) -> int:
    """Parse the cross-reference table and page tree; the page count, or ProbeError."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ProbeError("is encrypted")
        pages = len(reader.pages)
    except ProbeError:
        raise
    except Exception as exc:  # pypdf raises its own errors, and KeyError, ValueError...
        raise ProbeError(f"cannot parse: {type(exc).__name__}") from None
    if pages < 1:
        raise ProbeError("has no pages")
    return pages
