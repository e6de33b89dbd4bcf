"""The Strawberry schema, with its extensions; `schema.graphql` is exported from here."""

from __future__ import annotations

import functools

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.types import ExecutionContext

from gql import resolvers
from gql.error_masking import MaskUnexpectedErrors, log_error
from gql.execution import PlainExecutionContext, VerifiedExecutionContext
from gql.limits import (
    LimitedParserCache,
    LimitedValidationCache,
    Limits,
    QueryLimitsExtension,
    validation_rules,
)
from gql.mutations.assets import AssetMutations
from gql.mutations.briefs import BriefMutations
from gql.mutations.campaigns import CampaignMutations
from gql.mutations.clients import ClientMutations
from gql.mutations.exports import ExportMutations
from gql.mutations.generation import GenerationMutations
from gql.mutations.metrics import MetricsMutations
from gql.mutations.storyboards import StoryboardMutations
from gql.mutations.url_import import UrlImportMutations
from gql.queries import Query
from gql.subscriptions import Subscription
from gql.types.assets import Asset
from gql.types.briefs import Brief
from gql.types.campaigns import Campaign
from gql.types.clients import Client
from gql.types.errors import UserError
from gql.types.jobs import Job
from gql.types.storyboards import Scene, Storyboard
from services.settings import Settings


@strawberry.type
class Mutation(
    ClientMutations,
    CampaignMutations,
    AssetMutations,
    UrlImportMutations,
    GenerationMutations,
    MetricsMutations,
    BriefMutations,
    StoryboardMutations,
    ExportMutations,
):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Each error logged once: an unexpected one at ERROR with its traceback, a client's
        own (syntax, validation, refused limits, service errors) at INFO in one line, so a
        flood of refused documents never becomes a flood of tracebacks. See gql.error_masking."""
        for error in errors:
            log_error(error)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema an app serves; `settings` sets its limits (the defaults when None, read
    from the field defaults, not the environment). See gql.limits for what is bounded."""
    limits = Limits.of(settings) if settings is not None else Limits.of(Settings.model_construct())
    # Built once per schema: a rule class made per request would defeat the ValidationCache.
    rules = validation_rules(limits)
    verify = settings is not None and settings.verify_plain_execution
    built = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Client, Campaign, Asset, Job, Brief, Storyboard, Scene, UserError],
        extensions=[
            functools.partial(MaxTokensLimiter, max_token_count=limits.tokens),
            functools.partial(LimitedParserCache, limits, maxsize=512),
            functools.partial(LimitedValidationCache, maxsize=512),
            functools.partial(AddValidationRules, rules),
            functools.partial(QueryLimitsExtension, limits),
            MaskUnexpectedErrors,
        ],
        execution_context_class=VerifiedExecutionContext if verify else PlainExecutionContext,
    )
    resolvers.install(built, verify=verify)
    return built


schema = build_schema()


def export_sdl() -> str:
    return schema.as_str() + "\n"
