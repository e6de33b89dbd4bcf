"""The offline brief parser: free text to typed brief parts, with no LLM.

Two passes over the text. Labelled lines and sentences ("Product: ...", "- **Tone:** ...",
"... . CTA - Shop now") are read first and are trusted (confidence 0.9). What no label
names is then guessed, less confidently (0.5 to 0.7), from the rest of the text: duration
and aspect ratio from numbers and words, tone and style from small vocabularies, music from
"... music" phrases, the call to action from imperatives, product and audience from
"launching X", "for Y" phrases. `refine` reads feedback the same way (plus "shorter",
"more playful", "change the tone to ...") and overlays only what the feedback mentions.

Everything is deterministic, never raises for any str, and stays linear: the patterns use
bounded or possessive quantifiers, and input past MAX_INPUT characters is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from services.creative.parts import (
    ASPECT_RATIOS,
    CONFIDENCE_PARTS,
    MAX_ITEMS,
    MAX_SHORT,
    MAX_TEXT,
    BriefParts,
    ParsedBrief,
)

MAX_INPUT = 100_000
LABELLED = 0.9
_DEFAULTS = BriefParts()
_Found = tuple[Any, float]

_LABELS: dict[str, tuple[str, ...]] = {
    "product": ("product", "product name", "brand", "offering", "service"),
    "audience": ("audience", "target audience", "target", "target market", "for whom", "who"),
    "key_message": ("key message", "message", "main message", "core message", "tagline"),
    "call_to_action": ("cta", "call to action", "action"),
    "style": ("style", "visual style", "look", "look and feel", "look & feel", "aesthetic"),
    "tone": ("tone", "tone of voice", "mood", "vibe", "feel"),
    "visual_elements": ("visuals", "visual elements", "elements", "key visuals", "imagery"),
    "music_style": ("music", "music style", "soundtrack", "audio", "sound"),
    "duration_seconds": ("duration", "length", "runtime", "run time", "spot length", "time"),
    "aspect_ratio": ("format", "aspect ratio", "aspect", "ratio", "orientation"),
}
_PART_OF = {label: part for part, labels in _LABELS.items() for label in labels}
_LABEL_ALT = "|".join(
    re.escape(label).replace(r"\ ", r"[ \t-]+") for label in sorted(_PART_OF, key=len, reverse=True)
)
_LABEL_RE = re.compile(
    r"(?:^|(?<=[.!?])[ \t])[ \t]*+(?:[-*•+]|\d{1,2}[.)])?[ \t]*+[*_]{0,2}+[ \t]*+"
    rf"(?P<label>{_LABEL_ALT})[ \t]*+[*_]{{0,2}}+[ \t]*+"
    r"(?::|[-\u2013\u2014](?=[ \t]))[*_]{0,2}+[ \t]*+",
    re.IGNORECASE,
)
_CHANGE_RE = re.compile(
    rf"\b(?:change|set|make|switch|update)[ \t]+(?:the[ \t]+)?(?P<label>{_LABEL_ALT})"
    r"[ \t]+(?:to|into)[ \t]+(?P<value>(?:[^\n;!?.]|\.(?=\S)){1,300}+)",
    re.IGNORECASE,
)

_SEC = r"(?:s|secs?|seconds?)"
_DURATION_RE = re.compile(
    r"\b(?:(?P<mm>\d):(?P<ss>[0-5]\d)\b(?![ \t]*[ap]\.?m\b)"
    rf"|(?P<min>\d{{1,3}}(?:\.\d{{1,2}})?)[ \t]*+-?[ \t]*+(?:mins?|minutes?)\b"
    rf"(?:[ \t,]*+(?:and[ \t]+)?(?P<min_s>\d{{1,2}})[ \t]*+-?[ \t]*+{_SEC}\b)?"
    rf"|(?P<sec>\d{{1,4}}(?:\.\d{{1,2}})?)[ \t]*+-?[ \t]*+{_SEC}\b"
    rf"|(?P<word>five|ten|fifteen|twenty|thirty|forty[ -]five|sixty|ninety)[ \t-]+{_SEC}\b"
    r"|(?P<phrase>half[ \t-]+a[ \t-]+minute|half-minute|a[ \t]+minute[ \t]+and[ \t]+a[ \t]+half"
    r"|(?:a|one)[ \t-]+minute))",
    re.IGNORECASE,
)
_WORD_SECONDS = {"five": 5, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "sixty": 60}
_WORD_SECONDS |= {"forty five": 45, "forty-five": 45, "ninety": 90}

_RATIO_RE = re.compile(r"(?<![\d.:])(\d{1,2})[ \t]*+(?::|x|\u00d7)[ \t]*+(\d{1,2})(?![\d:])", re.I)
_OTHER_RATIOS = ("4:5", "5:4", "4:3", "3:4", "2:3", "3:2", "21:9", "9:21", "2:1", "1:2")
_RATIO_WORDS: tuple[tuple[str, str, float], ...] = (
    (r"vertical|portrait", "9:16", 0.6),
    (r"square", "1:1", 0.6),
    (r"landscape|widescreen|horizontal", "16:9", 0.6),
    (r"stories|story|reels?|tik[ -]?tok|shorts", "9:16", 0.5),
    (r"feed[ \t]+post", "1:1", 0.5),
    (r"youtube|tv|television", "16:9", 0.5),
)

TONES = (
    "energetic", "playful", "warm", "luxurious", "calm", "bold", "premium", "friendly",
    "serious", "inspiring", "humorous", "minimal", "fun", "emotional", "heartfelt", "elegant",
    "nostalgic", "uplifting", "confident", "quirky", "edgy", "dramatic", "relaxed", "optimistic",
)  # fmt: skip
STYLES = (
    "cinematic", "documentary", "animated", "minimalist", "retro", "vintage", "handheld", "UGC",
    "lifestyle", "stop-motion", "motion graphics", "black and white", "editorial", "surreal",
)  # fmt: skip
_TONE_RE = re.compile(rf"\b({'|'.join(TONES)})\b(?!-)", re.IGNORECASE)
_STYLE_RE = re.compile(rf"\b({'|'.join(STYLES)})\b(?!-)", re.IGNORECASE)
_CANONICAL = {word.lower(): word for word in (*TONES, *STYLES)}
_MORE_RE = re.compile(rf"\bmore[ \t]+({'|'.join(TONES)})\b", re.IGNORECASE)

_MUSIC_OF_RE = re.compile(r"\b(?:soundtrack|score)[ \t]+of[ \t]+([^.,;:!?\n]{1,80}+)", re.I)
_MUSIC_RE = re.compile(r"\b(?:music|soundtrack)\b", re.IGNORECASE)
_STOPWORDS = {"a", "an", "and", "the", "some", "with", "to", "over", "of", "by", "in", "on"}
_STOPWORDS |= {"using", "plus", "no", "any", "set", "our", "its", "their"}
_TAIL = r"(?:[^.!?\n]|\.(?=\S)){0,60}?(?=[!?\n,;\"”]|\.(?!\S)|$)"
_CTA_RE = re.compile(
    r"\b(?:shop|buy|order)[ \t]+now\b|\b(?:learn[ \t]+more|get[ \t]+started|subscribe)\b"
    rf"|\b(?:sign[ \t]+up|book[ \t]+(?:a|an|your)|visit|download|join)\b{_TAIL}"
    r"|\btry\b[^.!?\n]{0,40}?\bfree\b",
    re.IGNORECASE,
)
_PHRASE_END = r"(?=[ \t]+(?:for|to|with|aimed|targeting|in|at|that|which|who)\b|[.,;!?\n]|$)"
_LAUNCH_RE = re.compile(
    r"\b(?:launching|introducing|promoting|advertising|unveiling)[ \t]+"
    rf"(?:(?:our|the|a|an|new)[ \t]+)*+([^.,;!?\n]{{1,80}}?){_PHRASE_END}",
    re.IGNORECASE,
)
_AUDIENCE_RE = re.compile(
    r"\b(?:aimed[ \t]+at|targeting|targeted[ \t]+(?:at|to)|for)[ \t]+"
    r"([^.;!?\n]{1,120}?)(?=\.(?:\s|$)|[;!?\n]|,\s|[ \t]+(?:with|who)\b|$)",
    re.IGNORECASE,
)
_PEOPLE_RE = re.compile(
    r"\b(?:\w+(?:ers|ists|ians|ents|als)|people|women|men|moms|dads|families|kids|children"
    r"|teens|adults|gen[ \t]?[zy]|everyone|fans|audiences?|aged?|ages)\b|\d{2}[ \t]*[-\u2013+]",
    re.IGNORECASE,
)
_PLATFORMS = {"instagram", "tiktok", "youtube", "facebook", "tv", "linkedin", "reels", "stories"}


def parse_text(text: str) -> ParsedBrief:
    """The brief in free text: labelled parts at 0.9, guessed ones at 0.5-0.7, the rest
    at their defaults with confidence 0."""
    text = _normalise(text)
    found, rest = _labelled(text)
    for part, guess in _GUESSES:
        if part not in found and (hit := guess(rest)) is not None:
            found[part] = hit
    return _result(found)


def refine(parts: BriefParts, feedback: str) -> ParsedBrief:
    """`parts` with what the feedback mentions changed (at its parse confidence); the
    untouched parts keep confidence 1, or 0 where still at their default."""
    feedback = _normalise(feedback)
    parsed = parse_text(feedback)
    found = {p: (getattr(parsed.parts, p), parsed.confidence[p]) for p in CONFIDENCE_PARTS}
    found = {p: hit for p, hit in found.items() if hit[1] > 0}
    for m in _CHANGE_RE.finditer(feedback):
        part = _PART_OF[_squash(m["label"]).lower()]
        if (value := _value(part, m["value"])) is not None:
            found[part] = (value, 0.8)
    if "duration_seconds" not in found:
        if re.search(r"\bshorter\b", feedback, re.I):
            found["duration_seconds"] = (max(5, round(parts.duration_seconds * 2 / 3)), 0.7)
        elif re.search(r"\blonger\b", feedback, re.I):
            found["duration_seconds"] = ((parts.duration_seconds * 3 + 1) // 2, 0.7)
    if (more := _MORE_RE.search(feedback)) and found.get("tone", (None, 0.0))[1] < 0.7:
        found["tone"] = (more[1].lower(), 0.7)
    new = parts.merged(**{p: value for p, (value, _) in found.items()})
    confidence = {
        p: found[p][1] if p in found else (0.0 if _is_default(parts, p) else 1.0)
        for p in CONFIDENCE_PARTS
    }
    return ParsedBrief(parts=new, confidence=confidence)


def _normalise(text: str) -> str:
    text = text[:MAX_INPUT].replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)


def _squash(text: str) -> str:
    return " ".join(text.replace("-", " ").split())


def _clean(value: str, limit: int = MAX_SHORT) -> str | None:
    value = " ".join(value.split()).strip(" *_`\"'\u201c\u201d\u2018\u2019")
    value = value.rstrip(". ")[:limit].rstrip(". ")
    return value or None


def _labelled(text: str) -> tuple[dict[str, _Found], str]:
    """The labelled parts (first label wins), and the text with those segments removed.
    A value ends at the next label or the line's end (all but a key message at the end of
    their first sentence); an empty one takes the following unlabelled lines."""
    found: dict[str, _Found] = {}
    rest: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line, i = lines[i], i + 1
        matches = list(_LABEL_RE.finditer(line))
        rest.append(line[: matches[0].start()] if matches else line)
        for n, m in enumerate(matches):
            part = _PART_OF[_squash(m["label"]).lower()]
            raw = line[m.end() : matches[n + 1].start() if n + 1 < len(matches) else len(line)]
            if not raw.strip() and n + 1 == len(matches):
                more: list[str] = []
                while i < len(lines) and lines[i].strip() and not _LABEL_RE.search(lines[i]):
                    more.append(lines[i].strip().lstrip("-*•+ \t"))
                    i += 1
                raw = ("; " if part == "visual_elements" else " ").join(more)
            if part != "key_message" and (end := re.search(r"[.!?]\s", raw)):
                raw, tail = raw[: end.start() + 1], raw[end.end() :]
                rest.append(tail)  # only a key message runs on past its first sentence
            if part not in found and (value := _value(part, raw)) is not None:
                found[part] = (value, LABELLED)
    return found, "\n".join(rest)


def _value(part: str, raw: str) -> Any:
    """A labelled value as the part's type, or None if it does not read as one."""
    if part == "duration_seconds":
        if bare := re.fullmatch(r"[ \t]*(\d{1,3})[ \t.]*", raw):
            seconds = int(bare[1])
            return seconds if 0 < seconds < 600 else None
        return hit[0] if (hit := _duration(raw)) else None
    if part == "aspect_ratio":
        return hit[0] if (hit := _aspect(raw)) else None
    if part == "visual_elements":
        items = (_clean(v) for v in re.split(r"[,;]|[ \t]and[ \t]", raw))
        return tuple(v for v in items if v)[:MAX_ITEMS] or None
    return _clean(raw, MAX_TEXT if part == "key_message" else MAX_SHORT)


def _duration(text: str) -> _Found | None:
    for m in _DURATION_RE.finditer(text):
        if m[0] in ASPECT_RATIOS:
            continue
        if m["mm"]:
            seconds = int(m["mm"]) * 60 + int(m["ss"])
        elif m["min"]:
            seconds = round(float(m["min"]) * 60) + int(m["min_s"] or 0)
        elif m["sec"]:
            seconds = round(float(m["sec"]))
        elif m["word"]:
            seconds = _WORD_SECONDS[m["word"].lower()]
        else:
            phrase = m["phrase"].lower()
            seconds = 30 if phrase.startswith("half") else 90 if "half" in phrase else 60
        if 0 < seconds < 600:
            return seconds, 0.6
    return None


def _aspect(text: str) -> _Found | None:
    """A literal known ratio wins; a literal other one (4:5) means none; else words."""
    literals = [f"{int(a)}:{int(b)}" for a, b in _RATIO_RE.findall(text)]
    for ratio in literals:
        if ratio in ASPECT_RATIOS:
            return ratio, 0.7
    if any(ratio in _OTHER_RATIOS for ratio in literals):
        return None
    for words, ratio, confidence in _RATIO_WORDS:
        if re.search(rf"\b(?:{words})\b", text, re.IGNORECASE):
            return ratio, confidence
    return None


def _words(pattern: re.Pattern[str], text: str) -> str | None:
    seen = dict.fromkeys(_CANONICAL[m[1].lower()] for m in pattern.finditer(text))
    return ", ".join(list(seen)[:3]) or None


def _vocabulary(pattern: re.Pattern[str]) -> Callable[[str], _Found | None]:
    def guess(text: str) -> _Found | None:
        return (words, 0.6) if (words := _words(pattern, text)) else None

    return guess


def _music(text: str) -> _Found | None:
    if (m := _MUSIC_OF_RE.search(text)) and (value := _clean(m[1])):
        return value, 0.6
    for m in _MUSIC_RE.finditer(text):
        before = re.split(r"[.,;:!?()\n]", text[max(0, m.start() - 80) : m.start()])[-1]
        words: list[str] = []
        for word in reversed(before.split()):
            if word.lower() in _STOPWORDS or len(words) == 4:
                break
            words.insert(0, word)
        if words and (value := _clean(" ".join([*words, m[0]]))):
            return value, 0.6
    return None


def _cta(text: str) -> _Found | None:
    matches = list(_CTA_RE.finditer(text))  # the last one: a call to action closes an ad
    return (value, 0.6) if matches and (value := _clean(matches[-1][0])) else None


def _product(text: str) -> _Found | None:
    if (m := _LAUNCH_RE.search(text)) and (value := _clean(m[1])):
        return value, 0.5
    for m in re.finditer(r"\b(?i:for)[ \t]+(\w[\w'&-]*+(?:[ \t]+[A-Z0-9][\w'&-]*+){0,4})", text):
        name = m[1]
        first = name.split()[0].lower()
        if name[0].isupper() and first not in _PLATFORMS and not _PEOPLE_RE.search(name):
            return _clean(name), 0.5
    return None


def _audience(text: str) -> _Found | None:
    for m in _AUDIENCE_RE.finditer(text):
        if _PEOPLE_RE.search(m[1]) and (value := _clean(m[1])):
            return value, 0.5
    return None


_GUESSES: tuple[tuple[str, Callable[[str], _Found | None]], ...] = (
    ("product", _product),
    ("audience", _audience),
    ("call_to_action", _cta),
    ("style", _vocabulary(_STYLE_RE)),
    ("tone", _vocabulary(_TONE_RE)),
    ("music_style", _music),
    ("duration_seconds", _duration),
    ("aspect_ratio", _aspect),
)


def _result(found: dict[str, _Found]) -> ParsedBrief:
    parts = _DEFAULTS.merged(**{p: value for p, (value, _) in found.items()})
    confidence = {p: found[p][1] if p in found else 0.0 for p in CONFIDENCE_PARTS}
    return ParsedBrief(parts=parts, confidence=confidence)


def _is_default(parts: BriefParts, part: str) -> bool:
    return bool(getattr(parts, part) == getattr(_DEFAULTS, part))
