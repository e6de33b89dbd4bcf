"""The Strawberry schema, with its extensions; `schema.graphql` is exported from here."""

from __future__ import annotations

import functools

import strawberry
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator

from gql.errors import MaskUnexpectedErrors
from gql.execution import LeafFastExecutionContext
from gql.mutations.assets import AssetMutations
from gql.mutations.campaigns import CampaignMutations
from gql.mutations.clients import ClientMutations
from gql.mutations.generation import GenerationMutations
from gql.queries import Query
from gql.subscriptions import Subscription
from gql.types.assets import Asset
from gql.types.campaigns import Campaign
from gql.types.clients import Client
from gql.types.errors import UserError
from gql.types.jobs import Job
from services.settings import Settings


@strawberry.type
class Mutation(ClientMutations, CampaignMutations, AssetMutations, GenerationMutations):
    pass


# Built once: a rule class made per request would defeat the ValidationCache's key.
DEPTH_LIMIT = create_validator(max_depth=12, should_ignore=None)


class DepthLimit(AddValidationRules):
    def __init__(self) -> None:
        super().__init__([DEPTH_LIMIT])


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema an app serves; `settings` sets its limits (defaults when None)."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Client, Campaign, Asset, Job, UserError],
        extensions=[
            functools.partial(ParserCache, maxsize=512),
            functools.partial(ValidationCache, maxsize=512),
            DepthLimit,
            MaskUnexpectedErrors,
        ],
        execution_context_class=LeafFastExecutionContext,
    )


schema = build_schema()


def export_sdl() -> str:
    return schema.as_str() + "\n"
