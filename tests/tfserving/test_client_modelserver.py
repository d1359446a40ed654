"""The whole tfserving path against the real model server with the demo SavedModels.

JSON body -> signatures (GetModelMetadata, cached) -> tensors -> gRPC -> JSON body,
with the answers the demo models must give.
"""

from __future__ import annotations

import base64
import math

import pytest

from tests.tfserving.builders import FLOAT
from tfserving import jsonio
from tfserving.client import PredictionClient
from tfserving.codec import (
    parse_examples_request,
    parse_predict_request,
    render_classify_response,
    render_model_status,
    render_predict_response,
    render_regress_response,
)
from tfserving.errors import InvalidInput, ModelNotFound, UpstreamError
from tfserving.models import ModelRef
from tfserving.signatures import SignatureCache, TensorSpec

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture(scope="module")
def client(modelserver_process):
    client = PredictionClient(
        modelserver_process.address, timeout_seconds=30, max_message_bytes=64 * 1024 * 1024
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def cache(client):
    return SignatureCache(client.get_model_metadata, ttl_seconds=30)


def predict(client, cache, ref: ModelRef, body: bytes) -> object:
    inputs = parse_predict_request(jsonio.loads(body), cache.get(ref))
    response = client.predict(ref, inputs, request_id="test-request")
    return jsonio.loads(jsonio.dumps(render_predict_response(response, inputs.columnar)))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (ModelRef("half_plus_two"), [3.5, 4.0, 5.5]),
        (ModelRef("half_plus_two", version=1), [2.5, 3.0, 4.5]),
        (ModelRef("half_plus_two", version=2), [3.5, 4.0, 5.5]),
        (ModelRef("half_plus_two", label="stable"), [2.5, 3.0, 4.5]),
        (ModelRef("half_plus_two", label="canary"), [3.5, 4.0, 5.5]),
    ],
)
def test_half_plus_two_answers_per_version_and_label(client, cache, ref, expected):
    assert predict(client, cache, ref, b'{"instances": [1.0, 2.0, 5.0]}') == {
        "predictions": expected
    }
    assert predict(client, cache, ref, b'{"inputs": {"x": [1.0, 2.0, 5.0]}}') == {
        "outputs": expected
    }


def test_half_plus_two_signature_comes_from_metadata(cache):
    signatures = cache.get(ModelRef("half_plus_two"))

    assert signatures.version == 2
    assert dict(signatures.signature().inputs) == {"x": TensorSpec("x", FLOAT, (-1,))}


def test_bad_payload_is_refused_before_the_call(client, cache):
    with pytest.raises(InvalidInput) as caught:
        predict(client, cache, ModelRef("half_plus_two"), b'{"instances": ["a"]}')

    assert caught.value.message == (
        "Input 'x' expects float tensor of shape [-1]; instances[0]: "
        'JSON Value: "a" Type: String is not of expected type: float'
    )


def test_a_shape_the_signature_does_not_declare_is_run_as_tf_serving_runs_it(client, cache):
    # x is declared [-1]; TF Serving feeds [1,1] to the graph, which computes 0.5 x + 3.
    body = predict(client, cache, ModelRef("half_plus_two"), b'{"instances": [[1.0]]}')

    assert body == {"predictions": [[3.5]]}


def test_a_shape_the_model_cannot_take_is_answered_with_the_model_servers_status(client, cache):
    with pytest.raises(UpstreamError) as caught:
        predict(client, cache, ModelRef("digits"), b'{"instances": [[1.0, 2.0]]}')

    assert caught.value.grpc_code.name == "INVALID_ARGUMENT"
    assert caught.value.message == "convolution input must be 4-dimensional: [1,2]"


def test_model_status_lists_both_versions_available(client):
    body = render_model_status(client.get_model_status(ModelRef("half_plus_two")))

    assert sorted(body["model_version_status"], key=lambda s: s["version"]) == [
        {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in ("1", "2")
    ]


@pytest.mark.parametrize(
    "ref",
    [ModelRef("nope"), ModelRef("half_plus_two", version=9), ModelRef("nope", label="stable")],
)
def test_unknown_models_fail_with_exactly_the_model_not_found_message(client, ref):
    with pytest.raises(UpstreamError) as caught:
        client.get_model_metadata(ref)

    expected = ModelNotFound(ref)
    assert (caught.value.status_code, caught.value.message) == (
        expected.status_code,
        expected.message,
    )


@pytest.mark.parametrize("ref", [ModelRef("nope"), ModelRef("half_plus_two", version=9)])
def test_unknown_model_status_fails_with_the_status_wording(client, ref):
    with pytest.raises(UpstreamError) as caught:
        client.get_model_status(ref)

    assert caught.value.message == ModelNotFound(ref, for_status=True).message
    assert caught.value.status_code == 404


def test_iris_predict_row_format_names_its_three_outputs(client, cache):
    body = predict(client, cache, ModelRef("iris"), jsonio.dumps({"instances": [SETOSA]}))

    (row,) = body["predictions"]
    assert sorted(row) == ["class_ids", "classes", "probabilities"]
    assert row["classes"] == "setosa" and row["class_ids"] == 0
    assert math.isclose(sum(row["probabilities"]), 1.0, rel_tol=1e-5)


def test_iris_classify_puts_setosa_first_with_or_without_context(client):
    with_context = {
        "signature_name": "classification",
        "context": {"petal_width": 0.2},
        "examples": [{k: v for k, v in SETOSA.items() if k != "petal_width"}],
    }
    without_context = {"signature_name": "classification", "examples": [SETOSA]}

    results = []
    for body in (with_context, without_context):
        signature, model_input = parse_examples_request(body)
        response = client.classify(ModelRef("iris"), signature, model_input)
        results.append(jsonio.loads(jsonio.dumps(render_classify_response(response))))

    assert results[0] == results[1]
    (pairs,) = results[0]["results"]
    assert max(pairs, key=lambda pair: pair[1])[0] == "setosa"
    assert sorted(label for label, _ in pairs) == ["setosa", "versicolor", "virginica"]


def test_iris_regress_predicts_a_small_petal_width_for_setosa(client):
    signature, model_input = parse_examples_request(
        {"signature_name": "regression", "examples": [SETOSA, SETOSA]}
    )

    body = jsonio.loads(
        jsonio.dumps(
            render_regress_response(client.regress(ModelRef("iris"), signature, model_input))
        )
    )

    assert body["results"] == pytest.approx([0.216252, 0.216252], rel=1e-6)


def test_sentiment_returns_text_bytes_as_base64_of_the_lowercased_text(client, cache):
    body = predict(client, cache, ModelRef("sentiment"), b'{"instances": ["A Great Movie"]}')

    (row,) = body["predictions"]
    assert row["text_bytes"] == {"b64": base64.b64encode(b"a great movie").decode()}
    assert row["label"] == "positive"
    assert row["score"] == pytest.approx(0.9119954, rel=1e-6)


def test_sentiment_accepts_b64_text(client, cache):
    text = base64.b64encode(b"terrible").decode()

    body = predict(client, cache, ModelRef("sentiment"), jsonio.dumps({"inputs": [{"b64": text}]}))

    assert body["outputs"]["text_bytes"] == [{"b64": text}]


def test_digits_takes_a_batch_of_images(client, cache):
    images = [[[[0.0]] * 28] * 28] * 3

    body = predict(client, cache, ModelRef("digits"), jsonio.dumps({"inputs": {"image": images}}))

    assert len(body["outputs"]["probabilities"]) == 3
    assert all(len(p) == 10 for p in body["outputs"]["probabilities"])
    assert len(body["outputs"]["class_ids"]) == 3
