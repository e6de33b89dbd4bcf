"""The model catalog: models are data. Each entry names its provider model, what it
makes, the inputs it takes (and their provider field names), its limits and its price."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.errors import InvalidInput

RESOLUTION_HEIGHTS = {"480p": 480, "512p": 512, "720p": 720, "768p": 768, "1080p": 1080}
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}


@dataclass(frozen=True, slots=True)
class Price:
    """USD per run plus per second of output, the rate chosen by resolution or mode."""

    per_run: Decimal = Decimal(0)
    per_second: Decimal = Decimal(0)
    per_second_by_variant: dict[str, Decimal] = field(default_factory=dict)

    def rate(self, variant: str | None) -> Decimal:
        return self.per_second_by_variant.get(variant or "", self.per_second)

    def cost(self, *, seconds: float | None = None, variant: str | None = None) -> Decimal:
        total = self.per_run + self.rate(variant) * Decimal(str(seconds or 0))
        return total.quantize(Decimal("0.0001"))

    def describe(self, variant: str | None = None) -> str:
        parts = []
        if self.per_run:
            parts.append(f"${self.per_run} per run")
        if self.per_second_by_variant:
            parts.append(f"${self.rate(variant)} per second at {variant}")
        elif self.per_second:
            parts.append(f"${self.per_second} per second")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    kind: str  # image | video | audio
    price: Price
    prompt_field: str | None = "prompt"
    image_field: str | None = None  # start image
    last_image_field: str | None = None  # end image (first/last-frame clips)
    image_is_list: bool = False
    requires_image: bool = False
    durations: tuple[int, ...] = ()
    duration_range: tuple[int, int] | None = None
    default_duration: int | None = None
    resolutions: tuple[str, ...] = ()
    default_resolution: str | None = None
    aspect_ratios: tuple[str, ...] = ()
    default_aspect_ratio: str | None = None
    fps: tuple[int, ...] = ()
    modes: tuple[str, ...] = ()
    default_mode: str | None = None
    last_image_modes: tuple[str, ...] = ()  # modes in which the end image is honoured
    fixed_input: dict[str, Any] = field(default_factory=dict)
    duration_field: str | None = "duration"
    notes: str = ""

    @property
    def supports_last_frame(self) -> bool:
        return self.last_image_field is not None

    def check_duration(self, value: float | None, field_name: str = "duration") -> int | None:
        if self.kind == "image":
            return None
        if value is None:
            return self.default_duration
        if value != int(value):
            raise InvalidInput(f"{self.name} takes whole seconds", field=field_name)
        seconds = int(value)
        if self.durations and seconds not in self.durations:
            allowed = ", ".join(str(d) for d in self.durations)
            raise InvalidInput(f"{self.name} renders {allowed} seconds", field=field_name)
        if self.duration_range and not self.duration_range[0] <= seconds <= self.duration_range[1]:
            low, high = self.duration_range
            raise InvalidInput(f"{self.name} renders {low} to {high} seconds", field=field_name)
        return seconds

    def check_choice(
        self, value: str | None, allowed: tuple[str, ...], default: str | None, field_name: str
    ) -> str | None:
        if value is None:
            return default
        if allowed and value not in allowed:
            raise InvalidInput(
                f"{self.name} takes {field_name} one of: {', '.join(allowed)}", field=field_name
            )
        if not allowed:
            raise InvalidInput(f"{self.name} has no {field_name} setting", field=field_name)
        return value

    def size(self, resolution: str | None, aspect_ratio: str | None) -> tuple[int, int]:
        """Pixel size for a resolution name and aspect ratio (even numbers, for H.264)."""
        height = RESOLUTION_HEIGHTS.get(resolution or "", 720)
        w, h = ASPECT_RATIOS.get(aspect_ratio or "16:9", (16, 9))
        if w >= h:
            short, width = height, round(height * w / h)
            return width - width % 2, short
        width, long = height, round(height * h / w)
        return width - width % 2, long - long % 2


def _usd(value: str) -> Decimal:
    return Decimal(value)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="google/nano-banana",
            kind="image",
            price=Price(per_run=_usd("0.039")),
            image_field="image_input",
            image_is_list=True,
            aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4"),
            default_aspect_ratio="16:9",
            fixed_input={"output_format": "png"},
            duration_field=None,
        ),
        ModelSpec(
            name="bytedance/seedance-1-lite",
            kind="video",
            price=Price(
                per_second_by_variant={
                    "480p": _usd("0.018"),
                    "720p": _usd("0.036"),
                    "1080p": _usd("0.072"),
                }
            ),
            image_field="image",
            last_image_field="last_frame_image",
            duration_range=(2, 12),
            default_duration=5,
            resolutions=("480p", "720p", "1080p"),
            default_resolution="720p",
            aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4"),
            default_aspect_ratio="16:9",
            fps=(24,),
        ),
        ModelSpec(
            name="kwaivgi/kling-v2.1",
            kind="video",
            price=Price(per_second_by_variant={"standard": _usd("0.05"), "pro": _usd("0.09")}),
            image_field="start_image",
            last_image_field="end_image",
            requires_image=True,
            durations=(5, 10),
            default_duration=5,
            modes=("standard", "pro"),
            default_mode="standard",
            last_image_modes=("pro",),
            notes="start_image is required; end_image is honoured in pro mode only",
        ),
        ModelSpec(
            name="google/veo-3",
            kind="video",
            price=Price(per_second=_usd("0.75")),
            image_field="image",
            durations=(4, 6, 8),
            default_duration=8,
            resolutions=("720p", "1080p"),
            default_resolution="720p",
            aspect_ratios=("16:9", "9:16"),
            default_aspect_ratio="16:9",
            notes="no last-frame input: first/last-frame clips need another model",
        ),
        ModelSpec(
            name="minimax/hailuo-02",
            kind="video",
            price=Price(
                per_second_by_variant={
                    "512p": _usd("0.017"),
                    "768p": _usd("0.045"),
                    "1080p": _usd("0.08"),
                }
            ),
            image_field="first_frame_image",
            last_image_field="last_frame_image",
            durations=(6, 10),
            default_duration=6,
            resolutions=("512p", "768p", "1080p"),
            default_resolution="768p",
        ),
        ModelSpec(
            name="meta/musicgen",
            kind="audio",
            price=Price(per_second=_usd("0.003")),
            duration_range=(1, 30),
            default_duration=8,
            fixed_input={"model_version": "stereo-melody-large", "output_format": "wav"},
        ),
        ModelSpec(
            name="riffusion/riffusion",
            kind="audio",
            price=Price(per_run=_usd("0.0095")),
            prompt_field="prompt_a",
            durations=(5,),
            default_duration=5,
            duration_field=None,
            notes="renders about five seconds per run",
        ),
    ]
}

DEFAULT_IMAGE_MODEL = "google/nano-banana"
DEFAULT_VIDEO_MODEL = "bytedance/seedance-1-lite"
DEFAULT_AUDIO_MODEL = "meta/musicgen"


def get_model(name: str | None, kind: str, field_name: str = "model") -> ModelSpec:
    default = {
        "image": DEFAULT_IMAGE_MODEL,
        "video": DEFAULT_VIDEO_MODEL,
        "audio": DEFAULT_AUDIO_MODEL,
    }[kind]
    spec = MODELS.get(name or default)
    if spec is None or spec.kind != kind:
        choices = ", ".join(n for n, s in MODELS.items() if s.kind == kind)
        raise InvalidInput(
            f"unknown {kind} model {name!r}; choose one of: {choices}", field=field_name
        )
    return spec


def build_provider_input(
    spec: ModelSpec, logical: dict[str, Any], urls: dict[str, str]
) -> dict[str, Any]:
    """The provider's input for a sub-job's logical input; `urls` maps asset ids to URLs."""
    out: dict[str, Any] = dict(spec.fixed_input)
    if spec.prompt_field and logical.get("prompt"):
        out[spec.prompt_field] = logical["prompt"]
    image = logical.get("image_asset_id")
    if spec.image_field and image:
        out[spec.image_field] = [urls[image]] if spec.image_is_list else urls[image]
    last = logical.get("last_image_asset_id")
    if spec.last_image_field and last:
        out[spec.last_image_field] = urls[last]
    if spec.duration_field and logical.get("duration") is not None:
        out[spec.duration_field] = logical["duration"]
    for key in ("resolution", "aspect_ratio", "fps", "mode", "seed"):
        if logical.get(key) is not None:
            out[key] = logical[key]
    return out


def variant(logical: dict[str, Any]) -> str | None:
    value = logical.get("resolution") or logical.get("mode")
    return str(value) if value else None


def estimate(spec: ModelSpec, logical: dict[str, Any]) -> Decimal:
    seconds = logical.get("duration") if spec.kind != "image" else None
    return spec.price.cost(seconds=seconds, variant=variant(logical))


def price_rule(spec: ModelSpec, logical: dict[str, Any]) -> str:
    return f"{spec.name}: {spec.price.describe(variant(logical))}"
