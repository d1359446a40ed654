"""The API calls the deployment tests make, and the demo version they publish."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.response import Response
from rest_framework.test import APIClient

from tests.gateway.deployments import repository as demo

V1 = demo.DEMO_MODELS / "half_plus_two" / "1"
IRIS = demo.DEMO_MODELS / "iris" / "1"


def publish(
    client: APIClient, archive: bytes, name: str = "half_plus_two", **fields: object
) -> Response:
    upload = SimpleUploadedFile("version.tar.gz", archive, content_type="application/gzip")
    return client.post(
        f"/v1/models/{name}/versions", {"archive": upload, **fields}, format="multipart"
    )


def answers_of(client: APIClient, path: str = "") -> list[float]:
    """half_plus_two's answers to the demo body, at ``path`` (e.g. "/labels/canary")."""
    response = client.post(f"/v1/models/half_plus_two{path}:predict", demo.BODY, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["predictions"]


def put_traffic(client: APIClient, policy: dict, name: str = "half_plus_two") -> Response:
    return client.put(f"/v1/models/{name}/traffic", policy, format="json")
