"""Rate limits high enough for the suite, which sends far more than a person would.

The limits' own tests (tests/security/test_rate_limits.py) build apps with the defaults.
"""

from __future__ import annotations

from typing import Any

UNLIMITED_RATES: dict[str, Any] = dict.fromkeys(
    (
        "rate_limit_requests",
        "rate_limit_anonymous",
        "rate_limit_images",
        "rate_limit_videos",
        "rate_limit_audio",
        "rate_limit_uploads",
    ),
    "100000/minute",
)
"""Settings fields: pass as `Settings(**UNLIMITED_RATES, ...)` or `model_copy(update=...)`."""


def unlimited_env() -> dict[str, str]:
    """The same, as environment variables for a server started in another process."""
    return {f"REELGRAPH_{name.upper()}": str(rate) for name, rate in UNLIMITED_RATES.items()}
