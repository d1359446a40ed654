"""The request id: taken from X-Request-ID or generated, returned, and sent to the model server."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.processes import ROOT, model_server

pytestmark = pytest.mark.django_db


def test_request_id_reaches_the_model_server_as_grpc_metadata(
    alice_client: APIClient, settings, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("MODELSERVER_LOG_LEVEL", "DEBUG")  # it logs each call's x-request-id
    log = tmp_path / "modelserver.log"
    args = ["--model_name=half_plus_two", f"--model_base_path={ROOT / 'models' / 'half_plus_two'}"]
    with model_server(args=args, log_path=log) as server:
        settings.TFSERVING_ADDRESS = server.address
        response = alice_client.post(
            "/v1/models/half_plus_two:predict",
            {"instances": [1.0]},
            format="json",
            HTTP_X_REQUEST_ID="trace-7f3a",
        )

    assert response.status_code == 200
    lines = [line for line in log.read_text().splitlines() if "x-request-id=trace-7f3a" in line]
    assert any("GetModelMetadata" in line for line in lines)  # the signature lookup
    assert any("Predict" in line for line in lines)


@pytest.mark.parametrize(
    "supplied",
    ["has spaces", "x" * 129, "ünïcode", ""],
    ids=["spaces", "long", "non-ascii", "empty"],
)
def test_unusable_request_id_is_replaced_by_a_generated_one(supplied: str) -> None:
    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID=supplied)

    assert response["X-Request-ID"] != supplied
    assert len(response["X-Request-ID"]) == 32
