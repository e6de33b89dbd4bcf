"""GraphQL documents and steps the creative-workflow tests share."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from tests.client import GraphQLClient, decode_gid
from tests.jobs import wait_for_job

BRIEF_FIELDS = """id product audience keyMessage callToAction style tone visualElements
musicStyle durationSeconds aspectRatio videoModel autoApprove sourceText reader
confidence { part confidence } refinements { feedback by } refinementsLeft
referenceAssets { id }"""

SCENE_FIELDS = """id position description script shotType durationSeconds transition
imagePrompt referenceAssets { id }"""

STORYBOARD_FIELDS = f"""id version status writer videoModel aspectRatio totalSeconds
costEstimateUsd notes scenes {{ {SCENE_FIELDS} }}
versions {{ version change totalSeconds scenes {{ id description durationSeconds }} }}"""


def brief_mutation(name: str, input_type: str) -> str:
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
  __typename
  ... on BriefPayload {{ brief {{ {BRIEF_FIELDS} }} }}
  ... on Error {{ code field message }}
}} }}"""


def storyboard_mutation(name: str, input_type: str) -> str:
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
  __typename
  ... on StoryboardPayload {{ storyboard {{ {STORYBOARD_FIELDS} }} }}
  ... on Error {{ code field message }}
}} }}"""


CREATE_BRIEF = brief_mutation("createBrief", "CreateBriefInput")
PARSE_BRIEF = brief_mutation("parseBrief", "ParseBriefInput")
REFINE_BRIEF = brief_mutation("refineBrief", "RefineBriefInput")
UPDATE_SCENE = storyboard_mutation("updateScene", "UpdateSceneInput")
ADD_SCENE = storyboard_mutation("addScene", "AddSceneInput")
DELETE_SCENE = storyboard_mutation("deleteScene", "DeleteSceneInput")
REORDER_SCENES = storyboard_mutation("reorderScenes", "ReorderScenesInput")
REGENERATE_SCENE = storyboard_mutation("regenerateScene", "RegenerateSceneInput")

GENERATE_STORYBOARD = """mutation($input: GenerateStoryboardInput!) {
  generateStoryboard(input: $input) {
    __typename
    ... on StoryboardJobPayload { job { id kind status } brief { id } }
    ... on Error { code field message }
  }
}"""

STORYBOARDS = f"""query($id: ID!) {{ node(id: $id) {{ ... on Brief {{
  storyboards(first: 10) {{ totalCount nodes {{ {STORYBOARD_FIELDS} brief {{ id }} }} }}
}} }} }}"""

STORYBOARD = f"""query($id: ID!) {{ node(id: $id) {{ ... on Storyboard {{
  {STORYBOARD_FIELDS}
}} }} }}"""


async def write_storyboard(
    client: GraphQLClient, app: Starlette, brief_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the finished writing job, the storyboard it wrote)."""
    payload = await client.mutate(GENERATE_STORYBOARD, {"input": {"briefId": brief_id}})
    assert payload["__typename"] == "StoryboardJobPayload", payload
    assert payload["job"]["kind"] == "STORYBOARD_WRITING"
    done = await wait_for_job(client, app, payload["job"]["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    data = await client.execute(STORYBOARDS, {"id": brief_id})
    newest = data["node"]["storyboards"]["nodes"][0]  # newest first
    assert str(decode_gid(newest["id"])) == done["params"]["storyboardId"]
    return done, newest
