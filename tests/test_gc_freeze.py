"""A started API moves what start-up left alive out of the collector's generations, so a
big page's collections stop rescanning modules, schema and mappers (bench/graph_bench)."""

from __future__ import annotations

import gc

import pytest
from starlette.applications import Starlette

from gql.app import YOUNG_COLLECTION_EVERY, create_app
from services.settings import Settings
from tests.live_support import peer_settings


@pytest.mark.parametrize("freeze", [True, False])
async def test_start_up_freezes_what_it_leaves_alive(
    app: Starlette, settings: Settings, freeze: bool
) -> None:
    peer = create_app(peer_settings(app, settings, gc_freeze=freeze))
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        async with peer.router.lifespan_context(peer):
            assert (gc.get_freeze_count() > 0) is freeze
            assert (gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY) is freeze
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
