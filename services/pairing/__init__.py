"""Choosing ordered image pairs (first frame -> last frame) for short clips."""

from services.pairing.base import (
    CampaignBrief,
    ImageCandidate,
    PairChoice,
    PairingError,
    PairSelector,
)
from services.pairing.offline import OfflinePairSelector
from services.pairing.xai import XaiPairSelector

__all__ = [
    "CampaignBrief",
    "ImageCandidate",
    "OfflinePairSelector",
    "PairChoice",
    "PairSelector",
    "PairingError",
    "XaiPairSelector",
]
