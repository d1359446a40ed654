"""The gateway's batch limit: more rows than a model may take get 400 naming the limit,
before the model server is called."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from predictions.models import AuditRecord
from tests.gateway.conftest import make_user
from tests.support.processes import ROOT
from tfserving.batch_limits import (
    BatchLimits,
    examples_batch_size,
    parse_per_model_limits,
    predict_batch_size,
)

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"
FLOWER = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}


def too_large(size: int, limit: int, model: str) -> dict:
    return {
        "error": f"Task size {size} is larger than maximum input batch size {limit} "
        f"(the gateway's limit for model {model})",
        "code": "invalid_argument",
    }


def test_row_format_over_the_limit_is_400_naming_the_limit(gateway: APIClient, settings) -> None:
    settings.MAX_BATCH_SIZE = 2

    response = gateway.post(PREDICT, {"instances": [1.0, 2.0, 5.0]}, format="json")

    assert response.status_code == 400
    assert response.json() == too_large(3, 2, "half_plus_two")


def test_a_batch_at_the_limit_is_predicted(gateway: APIClient, settings) -> None:
    settings.MAX_BATCH_SIZE = 3

    response = gateway.post(PREDICT, {"instances": [1.0, 2.0, 5.0]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5, 4.0, 5.5]}


def test_columnar_inputs_count_their_outer_dimension(gateway: APIClient, settings) -> None:
    settings.MAX_BATCH_SIZE = 2

    named = gateway.post(PREDICT, {"inputs": {"x": [1.0, 2.0, 5.0]}}, format="json")
    unnamed = gateway.post(PREDICT, {"inputs": [1.0, 2.0, 5.0]}, format="json")

    assert (named.status_code, unnamed.status_code) == (400, 400)
    assert named.json() == unnamed.json() == too_large(3, 2, "half_plus_two")


@pytest.mark.parametrize(
    ("method", "signature"), [("classify", "classification"), ("regress", "regression")]
)
def test_classify_and_regress_count_their_examples(
    gateway: APIClient, settings, method: str, signature: str
) -> None:
    settings.MAX_BATCH_SIZE = 1
    body = {"signature_name": signature, "examples": [FLOWER, FLOWER]}

    response = gateway.post(f"/v1/models/iris:{method}", body, format="json")

    assert response.status_code == 400
    assert response.json() == too_large(2, 1, "iris")


def test_a_refused_batch_is_audited_as_invalid_argument_with_no_grpc_call(
    gateway: APIClient, settings
) -> None:
    settings.MAX_BATCH_SIZE = 2

    gateway.post(PREDICT, {"instances": [1.0, 2.0, 5.0]}, format="json")

    record = AuditRecord.objects.get()
    assert (record.http_status, record.error_code, record.grpc_code) == (
        400,
        "invalid_argument",
        "",
    )


def test_a_per_model_limit_overrides_the_default_for_that_model_only(
    gateway: APIClient, settings
) -> None:
    settings.MAX_BATCH_SIZE = 2
    settings.MAX_BATCH_SIZE_PER_MODEL = {"half_plus_two": 3}

    predicted = gateway.post(PREDICT, {"instances": [1.0, 2.0, 5.0]}, format="json")
    refused = gateway.post(
        "/v1/models/iris:classify",
        {"signature_name": "classification", "examples": [FLOWER] * 3},
        format="json",
    )

    assert predicted.status_code == 200
    assert refused.json() == too_large(3, 2, "iris")


def test_a_caller_without_a_grant_gets_404_not_the_batch_limit(
    client_for, model_server_address: str, settings
) -> None:
    settings.MAX_BATCH_SIZE = 1
    stranger: User = make_user("stranger", "iris")

    response = client_for(stranger).post(PREDICT, {"instances": [1.0, 2.0]}, format="json")

    assert response.status_code == 404


# --- measuring a body and reading the settings --------------------------------------


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        ({"instances": [[1], [2], [3]]}, 3),
        ({"inputs": {"a": [1, 2], "b": [1, 2, 3, 4]}}, 4),
        ({"inputs": [[1, 2, 3]]}, 1),
        ({"inputs": {"x": 1.0}}, 0),
        ({"inputs": {"b64": "aGk="}}, 0),
        ({"instances": "not a list"}, 0),
        ([1, 2, 3], 0),
    ],
)
def test_predict_batch_size_is_the_outer_dimension(body: object, rows: int) -> None:
    assert predict_batch_size(body) == rows


def test_examples_batch_size_counts_examples() -> None:
    assert examples_batch_size({"examples": [{}, {}, {}]}) == 3
    assert examples_batch_size({"examples": {}}) == 0


def test_zero_means_no_limit() -> None:
    BatchLimits(default=0).check("any", 10**9)


def test_per_model_limits_parse_and_refuse_what_is_not_model_equals_rows() -> None:
    assert parse_per_model_limits(["sentiment=500", " digits = 64 "]) == {
        "sentiment": 500,
        "digits": 64,
    }
    with pytest.raises(ValueError, match="expected model=rows"):
        parse_per_model_limits(["sentiment:500"])


def settings_value(name: str, **env: str) -> subprocess.CompletedProcess:
    code = f"from django.conf import settings; print(settings.{name})"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stdout.splitlines()[-1]  # after the shell's note on its automatic imports


def test_the_default_limit_is_tf_servings_default_max_batch_size() -> None:
    assert last_line(settings_value("MAX_BATCH_SIZE")) == "1000"


def test_the_default_limit_follows_the_model_servers_batching_parameters() -> None:
    result = settings_value(
        "MAX_BATCH_SIZE",
        TFSERVING_BATCHING_PARAMETERS_FILE="deploy/tfserving/batching_parameters.txt",
    )

    assert last_line(result) == "128"  # max_batch_size in that file


def test_an_unreadable_batching_parameters_file_stops_the_start() -> None:
    result = settings_value("MAX_BATCH_SIZE", TFSERVING_BATCHING_PARAMETERS_FILE="missing.txt")

    assert result.returncode != 0
    assert "TFSERVING_BATCHING_PARAMETERS_FILE: cannot read batching parameters" in result.stderr
