"""The OpenAPI schema (/v1/schema) and the interactive docs (/v1/docs)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from predictions.api.examples import DEMO_EXAMPLES, Example

pytestmark = pytest.mark.django_db

MODEL_PATHS = [
    f"/v1/models/{{name}}{spec}{suffix}"
    for spec in ("", "/versions/{version}", "/labels/{label}")
    for suffix in (":predict", ":classify", ":regress", "/metadata", "")
]
PAYLOAD_LOGGING_PATHS = [
    *(
        f"/v1/models/{{name}}{spec}/logging"
        for spec in ("", "/versions/{version}", "/labels/{label}")
    ),
    "/v1/models/{name}/logs",
]

DEPLOYMENT_PATHS = {
    "/v1/models/{name}/versions": {"get": "listModelVersions", "post": "publishVersion"},
    "/v1/models/{name}/versions/{version}": {
        "get": "getModelStatusVersion",
        "delete": "deleteVersion",
    },
    "/v1/models/{name}/labels/{label}": {"get": "getModelStatusLabel", "put": "moveLabel"},
    "/v1/models/{name}/traffic": {"get": "getTraffic", "put": "setTraffic"},
    "/v1/models/{name}/deployments": {"get": "listDeployments"},
    "/v1/models/{name}:rollback": {"post": "rollback"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema: dict) -> None:
    validate(schema)

    assert schema["openapi"].startswith("3.")


def test_schema_describes_every_endpoint(schema: dict) -> None:
    assert set(schema["paths"]) == {
        *MODEL_PATHS,
        *PAYLOAD_LOGGING_PATHS,
        *DEPLOYMENT_PATHS,
        "/v1/models",
        "/v1/auth/token",
        "/v1/auth/token/refresh",
        "/v1/auth/token/verify",
        "/healthz",
        "/readyz",
        "/metrics",
    }


def test_schema_offers_bearer_jwt_and_api_key_on_model_endpoints(schema: dict) -> None:
    schemes = schema["components"]["securitySchemes"]
    predict = schema["paths"]["/v1/models/{name}:predict"]["post"]

    jwt = schemes["jwtAuth"]
    assert (jwt["type"], jwt["scheme"], jwt["bearerFormat"]) == ("http", "bearer", "JWT")
    assert schemes["apiKeyAuth"]["type"] == "apiKey"
    assert (schemes["apiKeyAuth"]["in"], schemes["apiKeyAuth"]["name"]) == ("header", "X-API-Key")
    assert predict["security"] == [{"jwtAuth": []}, {"apiKeyAuth": []}, {"cookieAuth": []}]


def test_authorize_dialog_lists_the_jwt_first_and_describes_every_scheme(schema: dict) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert list(schemes) == ["jwtAuth", "apiKeyAuth", "cookieAuth", "metricsToken"]
    assert schemes["jwtAuth"]["description"].startswith(
        "Paste the `access` value from POST /v1/auth/token"
    )
    assert all(scheme.get("description") for scheme in schemes.values())


def test_inference_pages_for_browsers_are_not_in_the_schema(schema: dict) -> None:
    assert "get" not in schema["paths"]["/v1/models/{name}:predict"]


def test_version_and_label_routes_have_typed_path_parameters(schema: dict) -> None:
    parameters = schema["paths"]["/v1/models/{name}/versions/{version}:predict"]["post"][
        "parameters"
    ]

    assert {p["name"]: p["schema"]["type"] for p in parameters} == {
        "name": "string",
        "version": "integer",
    }


def test_predict_documents_bodies_and_every_demo_model(schema: dict) -> None:
    operation = schema["paths"]["/v1/models/{name}:predict"]["post"]
    request = operation["requestBody"]["content"]["application/json"]
    answer = operation["responses"]["200"]["content"]["application/json"]

    assert request["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    assert answer["schema"] == {"$ref": "#/components/schemas/PredictResponse"}
    assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert [example["value"] for example in request["examples"].values()] == [
        example.request for example in DEMO_EXAMPLES if example.method == "predict"
    ]
    assert len(answer["examples"]) == 4


def _close(documented: object, answered: object) -> bool:
    """Equal, with floats to 4 decimals (the documented answers are rounded)."""
    if isinstance(documented, float) and isinstance(answered, int | float):
        return abs(documented - answered) < 1e-4
    if isinstance(documented, list) and isinstance(answered, list):
        return len(documented) == len(answered) and all(
            _close(d, a) for d, a in zip(documented, answered, strict=True)
        )
    if isinstance(documented, dict) and isinstance(answered, dict):
        return documented.keys() == answered.keys() and all(
            _close(documented[k], answered[k]) for k in documented
        )
    return documented == answered


@pytest.mark.parametrize("example", DEMO_EXAMPLES, ids=lambda example: example.key)
def test_documented_examples_get_the_documented_answers(
    gateway: APIClient, example: Example
) -> None:
    response = gateway.post(
        f"/v1/models/{example.model}:{example.method}", example.request, format="json"
    )

    assert response.status_code == 200
    assert _close(example.response, response.json()), response.json()


def test_docs_page_serves_swagger_ui_from_local_static_files() -> None:
    page = Client().get("/v1/docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())

    assert page.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]
    for url in assets:
        assert Client().get(url).status_code == 200, url


def test_docs_page_loads_the_schema_from_the_gateway() -> None:
    # Swagger UI's start-up script is served apart from the page (no inline script).
    script = Client().get("/v1/docs", {"script": ""}).content.decode()

    assert 'url: "/v1/schema"' in script


def test_payload_logging_routes_are_documented_with_their_bodies(schema: dict) -> None:
    policy = schema["paths"]["/v1/models/{name}/versions/{version}/logging"]
    logs = schema["paths"]["/v1/models/{name}/logs"]["get"]

    assert [policy[verb]["operationId"] for verb in ("get", "put", "delete")] == [
        "getLoggingPolicyVersion",
        "setLoggingPolicyVersion",
        "deleteLoggingPolicyVersion",
    ]
    assert policy["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Policy"
    }
    assert set(schema["components"]["schemas"]["Policy"]["properties"]) == {
        "sample_rate",
        "directions",
        "errors",
        "max_bytes",
        "redact",
        "sinks",
    }
    assert logs["operationId"] == "listPayloadLogs"
    assert {p["name"] for p in logs["parameters"]} >= {"version", "status", "since", "until"}
    assert {policy["put"]["tags"][0], logs["tags"][0]} == {"payload logging"}


def test_deployment_routes_add_verbs_beside_tf_servings_status(schema: dict) -> None:
    operations = {
        path: {
            method: operation["operationId"] for method, operation in schema["paths"][path].items()
        }
        for path in DEPLOYMENT_PATHS
    }

    assert operations == DEPLOYMENT_PATHS


def test_publish_documents_its_multipart_form_and_its_refusals(schema: dict) -> None:
    publish = schema["paths"]["/v1/models/{name}/versions"]["post"]
    form = publish["requestBody"]["content"]["multipart/form-data"]["schema"]

    assert (form["properties"]["archive"]["type"], form["properties"]["archive"]["format"]) == (
        "string",
        "binary",  # a file picker in the docs UI
    )
    assert sorted(form["properties"]) == ["archive", "version", "wait"]
    assert form["required"] == ["archive"]
    assert {"201", "202", "400", "404", "409", "413", "422", "507"} <= set(publish["responses"])
