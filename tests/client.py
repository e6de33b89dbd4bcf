"""A small GraphQL-over-HTTP client for the tests, with factories for common rows."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx


def decode_gid(gid: str) -> uuid.UUID:
    type_name, _, raw = base64.b64decode(gid).decode().partition(":")
    assert type_name
    return uuid.UUID(raw)


class GraphQLError(AssertionError):
    pass


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.key = key
        self.client_id: str | None = None

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": "application/graphql-response+json", **extra}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.headers()
        )

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a response that must have no errors."""
        response = await self.post(query, variables)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise GraphQLError(f"{response.status_code}: {json.dumps(body)}")
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The single payload of a mutation, success or `Error`."""
        data = await self.execute(query, variables)
        (payload,) = data.values()
        assert isinstance(payload, dict)
        return payload

    async def upload(
        self,
        content: bytes,
        filename: str,
        *,
        campaign_id: str | None = None,
        client_id: str | None = None,
        preflight: bool = True,
    ) -> httpx.Response:
        operations = {
            "query": UPLOAD,
            "variables": {
                "input": {"file": None, "campaignId": campaign_id, "clientId": client_id}
            },
        }
        headers = self.headers()
        if preflight:
            headers["Apollo-Require-Preflight"] = "true"
        return await self.http.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": (filename, content, "application/octet-stream")},
            headers=headers,
        )

    async def upload_ok(
        self,
        content: bytes,
        filename: str,
        *,
        campaign_id: str | None = None,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        response = await self.upload(
            content, filename, campaign_id=campaign_id, client_id=client_id
        )
        body = response.json()
        assert response.status_code == 200, body
        payload: dict[str, Any] = body["data"]["uploadAsset"]
        assert payload["__typename"] == "AssetPayload", payload
        asset: dict[str, Any] = payload["asset"]
        return asset

    async def create_client(self, name: str, **fields: Any) -> str:
        payload = await self.mutate(CREATE_CLIENT, {"input": {"name": name, **fields}})
        assert payload["__typename"] == "ClientPayload", payload
        gid: str = payload["client"]["id"]
        return gid

    async def create_campaign(self, client_id: str, name: str = "Launch", **fields: Any) -> str:
        payload = await self.mutate(
            CREATE_CAMPAIGN, {"input": {"clientId": client_id, "name": name, **fields}}
        )
        assert payload["__typename"] == "CampaignPayload", payload
        gid: str = payload["campaign"]["id"]
        return gid


ERROR_FIELDS = "... on Error { code field message }"
ASSET_FIELDS = """id kind origin filename mimeType sizeBytes sha256 width height
    durationSeconds url createdAt"""

CREATE_CLIENT = f"""
mutation($input: CreateClientInput!) {{
  createClient(input: $input) {{
    __typename
    ... on ClientPayload {{ client {{ id name homepage
      brandGuidelines {{ colors {{ name hex }} tone dos donts logo {{ id }} }} }} }}
    {ERROR_FIELDS}
  }}
}}"""

CREATE_CAMPAIGN = f"""
mutation($input: CreateCampaignInput!) {{
  createCampaign(input: $input) {{
    __typename
    ... on CampaignPayload {{ campaign {{ id name goal audience status productUrl budgetUsd }} }}
    {ERROR_FIELDS}
  }}
}}"""

UPLOAD = f"""
mutation($input: UploadAssetInput!) {{
  uploadAsset(input: $input) {{
    __typename
    ... on AssetPayload {{ asset {{ {ASSET_FIELDS} }} }}
    {ERROR_FIELDS}
  }}
}}"""
