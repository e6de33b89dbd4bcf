"""Why a job or a sub-job failed: a stable code beside the message for people.

The database keeps the value as a string (`error_code`); `JobErrorCode.of` reads one
back, so rows written before a code existed (or by a newer release) never break a read.
"""

from __future__ import annotations

import enum
import logging

log = logging.getLogger(__name__)


class JobErrorCode(enum.StrEnum):
    # A sub-job's codes
    PROVIDER_ERROR = "PROVIDER_ERROR"  # the provider failed every attempt
    INPUT_MISSING = "INPUT_MISSING"  # an input asset was deleted, or its file is gone
    BAD_OUTPUT = "BAD_OUTPUT"  # the provider returned a file that is not valid media
    WORKER_LOST = "WORKER_LOST"  # the workers rendering it died, attempt after attempt
    # A job's codes
    SUBJOBS_FAILED = "SUBJOBS_FAILED"  # some of its sub-jobs failed
    PAIRING_FAILED = "PAIRING_FAILED"  # the image pairs could not be chosen
    COMBINE_FAILED = "COMBINE_FAILED"  # the clips could not be joined
    WRITING_FAILED = "WRITING_FAILED"  # the storyboard could not be written
    EXPORT_FAILED = "EXPORT_FAILED"  # a rendition could not be made
    # Either: an unexpected error (a bug) on every attempt; the server log has the details
    INTERNAL_ERROR = "INTERNAL_ERROR"

    @classmethod
    def of(cls, value: str | None) -> JobErrorCode | None:
        """The code a row holds; None for none, and for a value this release does not know."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            log.warning("unknown job error code %r in the database", value)
            return None
