from __future__ import annotations

import contextlib
import threading
import time

import pytest

from tests.tfserving.builders import FLOAT, STRING, half_plus_two_metadata, tensor_info
from tfserving.errors import InvalidInput, UpstreamError
from tfserving.models import ModelRef
from tfserving.protos import get_model_metadata_pb2
from tfserving.signatures import (
    SignatureCache,
    TensorSpec,
    shape_text,
    signatures_from_metadata,
)


def iris_like_metadata() -> get_model_metadata_pb2.GetModelMetadataResponse:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    predict = signature_map.signature_def["serving_default"]
    predict.method_name = "tensorflow/serving/predict"
    for name in ("sepal_length", "petal_width"):
        predict.inputs[name].CopyFrom(tensor_info(FLOAT, (-1,), f"{name}:0"))
    predict.outputs["probabilities"].CopyFrom(tensor_info(FLOAT, (-1, 3), "p:0"))
    classify = signature_map.signature_def["classification"]
    classify.method_name = "tensorflow/serving/classify"
    classify.inputs["inputs"].CopyFrom(tensor_info(STRING, None, "examples:0"))
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = "iris"
    response.model_spec.version.value = 1
    response.metadata["signature_def"].Pack(signature_map)
    return response


def test_signatures_from_metadata_reads_names_dtypes_and_shapes():
    signatures = signatures_from_metadata(iris_like_metadata())

    assert (signatures.model, signatures.version) == ("iris", 1)
    assert sorted(signatures.signatures) == ["classification", "serving_default"]
    predict = signatures.signature("serving_default")
    assert predict.method_name == "tensorflow/serving/predict"
    assert dict(predict.inputs) == {
        "petal_width": TensorSpec("petal_width", FLOAT, (-1,)),
        "sepal_length": TensorSpec("sepal_length", FLOAT, (-1,)),
    }
    assert dict(predict.outputs) == {"probabilities": TensorSpec("probabilities", FLOAT, (-1, 3))}


def test_unknown_rank_becomes_shape_none():
    classify = signatures_from_metadata(iris_like_metadata()).signature("classification")

    assert classify.inputs["inputs"] == TensorSpec("inputs", STRING, None)


def test_empty_signature_name_means_serving_default():
    signatures = signatures_from_metadata(half_plus_two_metadata())

    assert signatures.signature("").name == "serving_default"


def test_unknown_signature_name_is_invalid_input_worded_as_tf_serving():
    signatures = signatures_from_metadata(half_plus_two_metadata())

    with pytest.raises(InvalidInput) as caught:
        signatures.signature("predict_images")

    assert (
        caught.value.message
        == 'Serving signature name: "predict_images" not found in signature def'
    )


def test_metadata_without_signature_def_is_refused():
    with pytest.raises(ValueError, match="no 'signature_def'"):
        signatures_from_metadata(get_model_metadata_pb2.GetModelMetadataResponse())


@pytest.mark.parametrize(
    ("shape", "text"), [((-1, 28, 28, 1), "[-1,28,28,1]"), ((), "[]"), (None, "<unknown>")]
)
def test_shape_text_prints_shapes_as_tf_serving(shape, text):
    assert shape_text(shape) == text


def test_tensor_spec_describes_itself_for_messages():
    assert TensorSpec("x", FLOAT, (-1, 3)).describe() == "float tensor of shape [-1,3]"


class CountingFetch:
    def __init__(self, versions=(2,), delay_seconds=0.0):
        self.calls: list[ModelRef] = []
        self.versions = list(versions)
        self.delay_seconds = delay_seconds
        self.lock = threading.Lock()

    def __call__(self, ref: ModelRef, *, timeout_seconds: float):
        with self.lock:
            self.calls.append(ref)
            version = self.versions[min(len(self.calls), len(self.versions)) - 1]
        time.sleep(self.delay_seconds)
        return half_plus_two_metadata(version)


class ManualClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_fetches_once_within_the_ttl():
    fetch = CountingFetch()
    clock = ManualClock()
    cache = SignatureCache(fetch, ttl_seconds=30, clock=clock)

    first = cache.get(ModelRef("half_plus_two"))
    clock.now += 29
    second = cache.get(ModelRef("half_plus_two"))

    assert first is second
    assert fetch.calls == [ModelRef("half_plus_two")]


def test_cache_fetches_again_after_the_ttl():
    fetch = CountingFetch(versions=(2, 3))
    clock = ManualClock()
    cache = SignatureCache(fetch, ttl_seconds=30, clock=clock)

    cache.get(ModelRef("half_plus_two"))
    clock.now += 30.5
    refreshed = cache.get(ModelRef("half_plus_two"))

    assert refreshed.version == 3
    assert len(fetch.calls) == 2


def test_cache_keeps_versions_and_labels_apart():
    fetch = CountingFetch()
    cache = SignatureCache(fetch, ttl_seconds=30)

    for ref in (
        ModelRef("half_plus_two"),
        ModelRef("half_plus_two", 1),
        ModelRef("half_plus_two", label="canary"),
    ):
        cache.get(ref)
        cache.get(ref)

    assert fetch.calls == [
        ModelRef("half_plus_two"),
        ModelRef("half_plus_two", 1),
        ModelRef("half_plus_two", label="canary"),
    ]


def test_a_newer_served_version_drops_the_cached_latest_signatures():
    fetch = CountingFetch(versions=(2, 3))
    cache = SignatureCache(fetch, ttl_seconds=30)
    cache.get(ModelRef("half_plus_two"))

    cache.note_served_version(ModelRef("half_plus_two"), 2)
    assert cache.get(ModelRef("half_plus_two")).version == 2
    cache.note_served_version(ModelRef("half_plus_two"), 3)

    assert cache.get(ModelRef("half_plus_two")).version == 3
    assert len(fetch.calls) == 2


def test_zero_ttl_fetches_every_time():
    fetch = CountingFetch()
    cache = SignatureCache(fetch, ttl_seconds=0)

    cache.get(ModelRef("half_plus_two"))
    cache.get(ModelRef("half_plus_two"))

    assert len(fetch.calls) == 2


def test_fetch_errors_propagate_and_are_not_cached():
    attempts = []

    def failing_then_ok(ref, *, timeout_seconds):
        attempts.append(ref)
        if len(attempts) == 1:
            raise InvalidInput("first fetch fails")
        return half_plus_two_metadata()

    cache = SignatureCache(failing_then_ok, ttl_seconds=30)

    with pytest.raises(InvalidInput):
        cache.get(ModelRef("half_plus_two"))
    assert cache.get(ModelRef("half_plus_two")).model == "half_plus_two"
    assert len(attempts) == 2


def test_concurrent_misses_for_one_model_cost_one_fetch():
    fetch = CountingFetch(delay_seconds=0.05)
    cache = SignatureCache(fetch, ttl_seconds=30)
    results = []
    start = threading.Barrier(16)

    def worker():
        start.wait()
        results.append(cache.get(ModelRef("half_plus_two")))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fetch.calls) == 1
    assert len(results) == 16
    assert all(result is results[0] for result in results)


class HungFetch:
    """A metadata call that hangs until released, as to a frozen model server."""

    def __init__(self):
        self.started = threading.Event()
        self.released = threading.Event()
        self.timeouts: list[float] = []

    def __call__(self, ref: ModelRef, *, timeout_seconds: float):
        self.timeouts.append(timeout_seconds)
        self.started.set()
        self.released.wait()
        return half_plus_two_metadata()


def test_a_wait_for_another_threads_fetch_ends_at_the_deadline_with_504():
    fetch = HungFetch()
    cache = SignatureCache(fetch, ttl_seconds=30, timeout_seconds=0.2)
    first = threading.Thread(target=cache.get, args=(ModelRef("half_plus_two"),))
    first.start()
    assert fetch.started.wait(timeout=5)
    outcome = []

    def second():
        try:
            outcome.append(cache.get(ModelRef("half_plus_two")))
        except UpstreamError as error:
            outcome.append(error)

    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(timeout=5)
    finished_while_the_fetch_hung = not waiter.is_alive()
    fetch.released.set()
    waiter.join()
    first.join()

    assert finished_while_the_fetch_hung
    [error] = outcome
    assert isinstance(error, UpstreamError)
    assert (error.status_code, error.code) == (504, "deadline_exceeded")
    assert len(fetch.timeouts) == 1  # the waiter did not make a call of its own


def test_a_miss_waits_and_fetches_inside_the_admission_for_its_model():
    admitted = []

    @contextlib.contextmanager
    def admission(model):
        admitted.append(model)
        yield

    cache = SignatureCache(CountingFetch(), ttl_seconds=30, admission=admission)
    cache.get(ModelRef("half_plus_two", 1))
    cache.get(ModelRef("half_plus_two", 1))  # a hit needs no slot

    assert admitted == ["half_plus_two"]
