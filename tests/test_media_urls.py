"""Signed media URLs (services/media_urls.py): the signature is HMAC-SHA256 of the asset's
id and expiry, as the `hmac` module computes it, for any key."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

import pytest

from services.media_urls import MediaUrlSigner


@pytest.mark.parametrize("size", [0, 1, 32, 63, 64, 65, 200])
def test_a_signature_is_the_hmac_of_the_id_and_expiry(size: int) -> None:
    key = os.urandom(size)
    signer = MediaUrlSigner(key, ttl_seconds=600)
    for _ in range(20):
        asset = uuid.uuid4()
        url = signer.urls("https://x.test", now=1_000_000)(asset)
        expires = signer.expires(1_000_000)
        expected = hmac.new(key, f"{asset}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]
        assert url == f"https://x.test/media/{asset}?expires={expires}&sig={expected}"


def test_a_url_verifies_and_a_changed_one_does_not() -> None:
    signer = MediaUrlSigner(b"secret", ttl_seconds=600)
    asset = uuid.uuid4()
    path = signer.path(asset)
    expires = int(path.split("expires=")[1].split("&")[0])
    signature = path.split("sig=")[1]
    assert signer.verify(asset, expires, signature)
    assert not signer.verify(uuid.uuid4(), expires, signature)
    assert not signer.verify(asset, expires + 1, signature)
    assert not MediaUrlSigner(b"other", ttl_seconds=600).verify(asset, expires, signature)
    assert not signer.verify(asset, 1, signer.path(asset, now=0).split("sig=")[1])  # expired
