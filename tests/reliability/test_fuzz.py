"""Schemathesis over the running app's OpenAPI: no server error, no undocumented status."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_shop import KEY
from tests.reliability.fuzz import fuzz


def test_generated_requests_get_documented_answers_and_never_a_server_error(
    client: TestClient,
) -> None:
    openapi = client.get("/openapi.json").json()
    report = fuzz(client, openapi, keys=[None, "not-a-key", KEY])
    assert report.cases > 500
    assert report.findings == [], "\n".join(
        f"{f.operation} -> {f.status}: {f.what}" for f in report.findings[:20]
    )
