"""Scene durations: each one the video model renders, adding up to the brief's total.

A writer proposes durations freely (an LLM's rarely add up); `fit` picks, for the same
number of scenes, the renderable durations with the given total that stay closest to the
proposal (a small dynamic programme: scenes x seconds x allowed lengths)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from services.catalog import ModelSpec
from services.creative.parts import MAX_SCENES, MAX_TOTAL_SECONDS, MIN_TOTAL_SECONDS
from services.errors import InvalidInput


def allowed(spec: ModelSpec) -> tuple[int, ...]:
    """The clip lengths, in whole seconds, that the model renders."""
    if spec.durations:
        return tuple(sorted(spec.durations))
    if spec.duration_range:
        low, high = spec.duration_range
        return tuple(range(low, high + 1))
    return (spec.default_duration or 5,)


@functools.cache
def _reachable(lengths: tuple[int, ...]) -> tuple[frozenset[int], ...]:
    """reach[k]: the totals k scenes of these lengths can add up to."""
    reach: list[frozenset[int]] = [frozenset({0})]
    for _ in range(MAX_SCENES):
        reach.append(
            frozenset(s + d for s in reach[-1] for d in lengths if s + d <= MAX_TOTAL_SECONDS)
        )
    return tuple(reach)


def scene_counts(spec: ModelSpec, total: int) -> list[int]:
    """How many scenes (1 to MAX_SCENES) can make exactly `total` seconds."""
    reach = _reachable(allowed(spec))
    return [k for k in range(1, MAX_SCENES + 1) if total in reach[k]]


def check_total(spec: ModelSpec, total: int, field: str) -> None:
    if not MIN_TOTAL_SECONDS <= total <= MAX_TOTAL_SECONDS:
        raise InvalidInput(
            f"a video of {MIN_TOTAL_SECONDS} to {MAX_TOTAL_SECONDS} seconds", field=field
        )
    if not scene_counts(spec, total):
        lengths = ", ".join(str(d) for d in allowed(spec))
        raise InvalidInput(
            f"{spec.name} renders clips of {lengths} seconds: no {MAX_SCENES} or fewer add "
            f"up to {total}; choose another duration or model",
            field=field,
        )


def fit(proposed: Sequence[float], total: int, lengths: Sequence[int]) -> list[int] | None:
    """Durations from `lengths`, one per proposed scene, adding up to `total` and closest
    to the proposal scaled to that total; None when that many scenes cannot make it."""
    n = len(proposed)
    if n == 0:
        return None
    weights = [max(float(p), 0.0) for p in proposed]
    scale = total / sum(weights) if sum(weights) > 0 else 0.0
    targets = [w * scale if scale else total / n for w in weights]
    inf = float("inf")
    # best[i][s]: least distance for the first i scenes adding up to s
    best = [[inf] * (total + 1) for _ in range(n + 1)]
    pick = [[0] * (total + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n):
        row, nxt, choice = best[i], best[i + 1], pick[i + 1]
        for s in range(total + 1):
            if row[s] == inf:
                continue
            for d in lengths:
                t = s + d
                if t > total:
                    break
                cost = row[s] + abs(d - targets[i])
                if cost < nxt[t]:
                    nxt[t], choice[t] = cost, d
    if best[n][total] == inf:
        return None
    out: list[int] = []
    s = total
    for i in range(n, 0, -1):
        d = pick[i][s]
        out.append(d)
        s -= d
    return out[::-1]


def even(spec: ModelSpec, total: int) -> list[int]:
    """Durations for a storyboard written from scratch: as many scenes as make scenes of
    about the model's default length, then fitted evenly. `total` must pass check_total."""
    counts = scene_counts(spec, total)
    ideal = total / (spec.default_duration or 5)
    n = min(counts, key=lambda k: (abs(k - ideal), k))
    fitted = fit([1.0] * n, total, allowed(spec))
    assert fitted is not None  # n is one of scene_counts
    return fitted
