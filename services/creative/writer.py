"""What a creative writer does: read briefs, write storyboards, rewrite a scene.

Two writers keep this contract: Grok over xAI (`services.creative.xai_writer`) when an
xAI key is set, else the deterministic offline one (`services.creative.offline`). Both
raise `WriterError` (an LLM's error: `retryable` says whether trying again may help).
"""

from __future__ import annotations

from typing import Protocol

from services.creative.parts import BriefParts, ParsedBrief, SceneDraft, StoryContext
from services.creative.property_tour import Room, RoomPhoto
from services.llm import LlmError
from services.settings import Settings

WriterError = LlmError


class CreativeWriter(Protocol):
    name: str

    async def parse_brief(self, text: str) -> ParsedBrief:
        """The typed brief in free text; parts not found keep BriefParts' defaults with
        confidence 0."""
        ...

    async def refine_brief(self, parts: BriefParts, feedback: str) -> ParsedBrief:
        """The brief changed as the feedback asks; parts it does not touch stay as they
        are (confidence 1 for parts a person set, as `parts` holds them)."""
        ...

    async def write_storyboard(self, parts: BriefParts, context: StoryContext) -> list[SceneDraft]:
        """Ordered scenes for the brief. Durations are proposals (fitted afterwards);
        reference ids are among `context.images`."""
        ...

    async def rewrite_scene(
        self,
        parts: BriefParts,
        context: StoryContext,
        scenes: list[SceneDraft],
        index: int,
        feedback: str,
    ) -> SceneDraft:
        """scenes[index] rewritten as the feedback asks; the others are context only."""
        ...

    async def assign_rooms(self, photos: list[RoomPhoto]) -> list[Room]:
        """The room each photo of a property shows (the property tour template)."""
        ...


def build_writer(settings: Settings) -> CreativeWriter:
    """Grok when an xAI key is set, else the offline writer."""
    if settings.xai_api_key:
        from services.creative.xai_writer import XaiCreativeWriter

        return XaiCreativeWriter(
            settings.xai_api_key,
            base_url=settings.xai_api_base,
            model=settings.xai_model,
            timeout=settings.writer_timeout_seconds,
        )
    from services.creative.offline import OfflineWriter

    return OfflineWriter()
