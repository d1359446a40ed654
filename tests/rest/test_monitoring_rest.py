"""The Prometheus page on the REST port counts requests where TF Serving counts them."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from tests.modelserver.requests import half_plus_two_request, status_request
from tests.rest.conftest import RestServer

PATH = "/monitoring/prometheus/metrics"
COUNT = ":tensorflow:serving:request_count"
LATENCY = ":tensorflow:serving:request_latency"


@pytest.fixture(scope="module")
def rest(models_server: RestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=models_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def channel(models_server: RestServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(models_server.grpc_address) as opened:
        yield opened


def samples(rest: httpx.Client) -> dict[str, float]:
    response = rest.get(PATH)
    assert (response.status_code, response.headers["content-type"]) == (200, "text/plain")
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if not line.startswith("#")
    }


def grew(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The samples that changed, by how much (sums left out: they grow by microseconds)."""
    return {
        key: value - before.get(key, 0)
        for key, value in after.items()
        if value != before.get(key) and "_sum{" not in key and "_bucket{" not in key
    }


def count(model: str, status: str) -> str:
    return f'{COUNT}{{model_name="{model}",status="{status}"}}'


def latency_count(model: str, api: str, entrypoint: str) -> str:
    return f'{LATENCY}_count{{model_name="{model}",API="{api}",entrypoint="{entrypoint}"}}'


def latency_changes(changes: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in changes.items() if key.startswith(f"{LATENCY}_count")}


def test_a_rest_predict_counts_once_with_its_latency(rest):
    before = samples(rest)

    rest.post("/v1/models/half_plus_two:predict", json={"instances": [1.0]})
    changes = grew(before, samples(rest))

    assert changes[count("half_plus_two", "OK")] == 1
    assert latency_changes(changes) == {latency_count("half_plus_two", "predict", "REST"): 1}


def test_a_rest_status_counts_under_tf_servings_empty_api_label(rest):
    before = samples(rest)

    rest.get("/v1/models/half_plus_two")
    changes = grew(before, samples(rest))

    assert latency_changes(changes) == {latency_count("half_plus_two", "", "REST"): 1}


def test_failed_requests_count_by_status_without_latency(rest):
    before = samples(rest)

    rest.post("/v1/models/nope:predict", json={"instances": [1.0]})
    rest.post("/v1/models/half_plus_two:nonsense", json={})
    rest.post("/v1/models/slow:predict", json={"instances": [2.0]})  # past the REST timeout
    changes = grew(before, samples(rest))

    assert changes == {
        count("nope", "NOT_FOUND"): 1,
        # The path does not parse, so TF Serving knows no model name for it.
        count("", "INVALID_ARGUMENT"): 1,
        count("slow", "DEADLINE_EXCEEDED"): 1,
    }


def test_grpc_predict_counts_with_its_entrypoint_and_status_calls_do_not(rest, channel):
    before = samples(rest)

    prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(half_plus_two_request([1.0]))
    with pytest.raises(grpc.RpcError):
        prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            half_plus_two_request([1.0], version=9)
        )
    model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request("examples"))
    changes = grew(before, samples(rest))

    assert changes[count("half_plus_two", "OK")] == 1
    assert changes[count("half_plus_two", "NOT_FOUND")] == 1
    assert latency_changes(changes) == {latency_count("half_plus_two", "Predict", "GRPC"): 1}
    assert not any("examples" in key for key in changes)


def test_every_histogram_has_34_cumulative_buckets_ending_at_its_count(rest):
    rest.post("/v1/models/half_plus_two:predict", json={"instances": [1.0]})
    page = samples(rest)

    series = {key.split("le=")[0] for key in page if key.startswith(f"{LATENCY}_bucket")}
    assert series
    for prefix in series:
        buckets = [value for key, value in page.items() if key.startswith(prefix)]
        labels = prefix.removeprefix(f"{LATENCY}_bucket{{").rstrip(",")
        assert len(buckets) == 34
        assert buckets == sorted(buckets)
        assert buckets[-1] == page[f"{LATENCY}_count{{{labels}}}"]
