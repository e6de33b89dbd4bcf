from __future__ import annotations

from decimal import Decimal

import strawberry

from services import catalog
from services.generation.launch import Estimate


@strawberry.type(description="One priced line of an estimate: a sub-job to be rendered.")
class CostLine:
    index: int
    description: str
    model: str
    usd: Decimal
    rule: str = strawberry.field(description="The price rule that produced `usd`.")


@strawberry.type(description="What a generation would cost, before anything is spent.")
class CostEstimate:
    total_usd: Decimal
    lines: list[CostLine]
    budget_usd: Decimal | None
    committed_usd: Decimal = strawberry.field(
        description="Spent on this campaign so far, plus estimates of unfinished jobs."
    )
    remaining_usd: Decimal | None
    within_budget: bool

    @classmethod
    def of(cls, estimate: Estimate) -> CostEstimate:
        planned = estimate.plan.sub_jobs + estimate.plan.pending_clips
        return cls(
            total_usd=estimate.plan.total,
            lines=[
                CostLine(index=i, description=p.description, model=p.model, usd=p.cost, rule=p.rule)
                for i, p in enumerate(planned)
            ],
            budget_usd=estimate.budget_usd,
            committed_usd=estimate.committed_usd,
            remaining_usd=estimate.remaining_usd,
            within_budget=estimate.within_budget,
        )


@strawberry.type(description="A model of the catalog and its rules.")
class ModelInfo:
    name: str
    kind: str
    durations: list[int] = strawberry.field(description="Allowed seconds (empty: see range).")
    duration_range: list[int] | None
    default_duration: int | None
    resolutions: list[str]
    aspect_ratios: list[str]
    modes: list[str]
    supports_last_frame: bool
    price: str
    notes: str

    @classmethod
    def of(cls, spec: catalog.ModelSpec) -> ModelInfo:
        return cls(
            name=spec.name,
            kind=spec.kind,
            durations=list(spec.durations),
            duration_range=list(spec.duration_range) if spec.duration_range else None,
            default_duration=spec.default_duration,
            resolutions=list(spec.resolutions),
            aspect_ratios=list(spec.aspect_ratios),
            modes=list(spec.modes),
            supports_last_frame=spec.supports_last_frame,
            price=spec.price.describe(spec.default_resolution or spec.default_mode),
            notes=spec.notes,
        )
