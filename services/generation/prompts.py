"""Brand guidelines woven into every prompt a provider sees."""

from __future__ import annotations

from typing import Any

from db.models import Campaign, Client


def brand_context(client: Client, campaign: Campaign) -> str:
    guide: dict[str, Any] = client.brand_guidelines or {}
    parts = [f"Brand: {client.name}."]
    if guide.get("tone"):
        parts.append(f"Tone: {guide['tone']}.")
    colours = [c.get("name") or c["hex"] for c in guide.get("colors", [])]
    if colours:
        parts.append(f"Brand colours: {', '.join(colours)}.")
    if guide.get("dos"):
        parts.append(f"Do: {'; '.join(guide['dos'])}.")
    if guide.get("donts"):
        parts.append(f"Avoid: {'; '.join(guide['donts'])}.")
    if campaign.goal:
        parts.append(f"Campaign goal: {campaign.goal}.")
    if campaign.audience:
        parts.append(f"Audience: {campaign.audience}.")
    return " ".join(parts)


def branded_prompt(prompt: str, client: Client, campaign: Campaign) -> str:
    return f"{prompt.strip()}\n\n{brand_context(client, campaign)}"


def brand_colours(client: Client) -> list[str]:
    return [c["hex"] for c in (client.brand_guidelines or {}).get("colors", [])]
