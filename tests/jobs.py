"""Helpers for generation tests: launch through GraphQL, wait on the job's own events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.applications import Starlette

from tests.client import GraphQLClient, decode_gid

FINAL = {"SUCCEEDED", "FAILED", "CANCELED"}

JOB_FIELDS = """
id kind status model params costEstimateUsd costActualUsd errorCode error lastSeq
startedAt finishedAt
outputAsset { id kind mimeType width height durationSeconds url sizeBytes }
storyboard { index score reason costUsd firstAsset { id } lastAsset { id } }
subJobs { id index model provider status progress attempts costUsd error errorCode input
  startedAt finishedAt
  pair { score reason firstAsset { id } lastAsset { id } }
  outputAsset { id kind origin mimeType width height durationSeconds } }
"""

JOB = f"query($id: ID!) {{ node(id: $id) {{ ... on Job {{ {JOB_FIELDS} }} }} }}"


def job_mutation(name: str, input_type: str) -> str:
    return f"""
mutation($input: {input_type}!) {{
  {name}(input: $input) {{
    __typename
    ... on JobPayload {{ job {{ {JOB_FIELDS} }} }}
    ... on Error {{ code field message }}
  }}
}}"""


GENERATE_IMAGE = job_mutation("generateImage", "GenerateImageInput")
GENERATE_VIDEO = job_mutation("generateVideo", "GenerateVideoInput")
GENERATE_AUDIO = job_mutation("generateAudio", "GenerateAudioInput")
PAIR_VIDEO = job_mutation("createVideoFromImagePairs", "CreateVideoFromImagePairsInput")
APPROVE = job_mutation("approveJob", "ApproveJobInput")
REJECT = job_mutation("rejectJob", "JobInput")
CANCEL = job_mutation("cancelJob", "JobInput")
RETRY = job_mutation("retrySubJob", "SubJobInput")
REGENERATE = job_mutation("regenerateSubJob", "SubJobInput")

EXPORT = f"""mutation($input: ExportVideoInput!) {{ exportVideo(input: $input) {{
  __typename
  ... on ExportPayload {{ job {{ {JOB_FIELDS} }} }}
  ... on Error {{ code field message }}
}} }}"""

RENDITIONS = """query($id: ID!) { node(id: $id) { ... on Asset {
  renditions { id rendition width height url source { id } }
} } }"""


async def job(client: GraphQLClient, job_id: str) -> dict[str, Any]:
    data = await client.execute(JOB, {"id": job_id})
    node: dict[str, Any] = data["node"]
    return node


async def wait_for_job(
    client: GraphQLClient,
    app: Starlette,
    job_id: str,
    statuses: set[str] = FINAL,
    timeout: float = 180,
) -> dict[str, Any]:
    """Wait on the job's Redis channel until its status is one of `statuses`."""
    broker = app.state.broker
    pubsub = broker.pool.pubsub()
    await pubsub.subscribe(broker.channel("job", decode_gid(job_id)))
    try:
        async with asyncio.timeout(timeout):
            while True:
                current = await job(client, job_id)
                if current["status"] in statuses:
                    return current
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is None:
                        break  # nothing for a while: look at the row again
                    event = json.loads(message["data"])
                    if event["type"] == "job.status":
                        break
    finally:
        await pubsub.aclose()


async def launch(client: GraphQLClient, mutation: str, **input: Any) -> dict[str, Any]:
    payload = await client.mutate(mutation, {"input": input})
    assert payload["__typename"] == "JobPayload", payload
    result: dict[str, Any] = payload["job"]
    return result


async def export_video(client: GraphQLClient, asset: str, *renditions: dict[str, str]) -> Any:
    return await client.mutate(
        EXPORT, {"input": {"assetId": asset, "renditions": list(renditions)}}
    )
