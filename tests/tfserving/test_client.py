"""PredictionClient against in-process gRPC servers with canned answers and faults."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.support.processes import free_port
from tests.tfserving.canned_server import canned_server, x_values
from tfserving.client import PredictionClient, backend_targets
from tfserving.codec import PredictInputs
from tfserving.errors import UpstreamError
from tfserving.models import ModelRef
from tfserving.protos import input_pb2, model_server_config_pb2
from tfserving.tensors import array_from_tensor_proto, tensor_proto_from_array

ROOT = Path(__file__).resolve().parents[2]
MODEL = ModelRef("half_plus_two")


def client_for(target: str, **overrides) -> PredictionClient:
    settings = {"timeout_seconds": 5.0, "max_message_bytes": 64 * 1024 * 1024, **overrides}
    return PredictionClient(target, **settings)


@pytest.fixture
def server():
    with canned_server() as running:
        yield running


@pytest.fixture
def client(server):
    client = client_for(server.address)
    yield client
    client.close()


def x_inputs(*values: float) -> PredictInputs:
    return PredictInputs(
        tensors={"x": tensor_proto_from_array(x_values(*values))},
        columnar=False,
        signature_name="serving_default",
    )


def test_predict_sends_the_model_spec_and_tensors_and_returns_the_response(server, client):
    response = client.predict(ModelRef("half_plus_two", version=1), x_inputs(1.0, 2.0, 5.0))

    np.testing.assert_array_equal(
        array_from_tensor_proto(response.outputs["y"]), x_values(2.5, 3.0, 4.5)
    )
    (call,) = server.behaviour.calls
    assert call.method == "Predict"
    assert call.request.model_spec.name == "half_plus_two"
    assert call.request.model_spec.version.value == 1
    assert call.request.model_spec.signature_name == "serving_default"


def test_request_id_is_sent_as_x_request_id_metadata(server, client):
    client.predict(MODEL, x_inputs(1.0), request_id="req-123")

    assert server.behaviour.calls[0].metadata["x-request-id"] == "req-123"


def test_request_id_is_cleaned_to_printable_ascii(server, client):
    client.get_model_status(MODEL, request_id="abc\n\u00e9def" + "x" * 200)

    sent = server.behaviour.calls[0].metadata["x-request-id"]
    assert sent == "abcdef" + "x" * 122


def test_no_request_id_sends_no_request_id_metadata(server, client):
    client.get_model_status(MODEL)

    assert "x-request-id" not in server.behaviour.calls[0].metadata


def test_classify_regress_metadata_and_status_reach_their_methods(server, client):
    examples = input_pb2.Input()
    examples.example_list.examples.add()

    classified = client.classify(ModelRef("iris"), "classification", examples)
    regressed = client.regress(ModelRef("iris"), "regression", examples)
    metadata = client.get_model_metadata(MODEL)
    status = client.get_model_status(ModelRef("half_plus_two", label="stable"))

    assert classified.result.classifications[0].classes[0].label == "yes"
    assert regressed.result.regressions[0].value == 1.5
    assert metadata.model_spec.version.value == 2
    assert status.model_version_status[0].version == 2
    methods = [(c.method, c.request.model_spec.signature_name) for c in server.behaviour.calls]
    assert methods == [
        ("Classify", "classification"),
        ("Regress", "regression"),
        ("GetModelMetadata", ""),
        ("GetModelStatus", ""),
    ]
    assert list(server.behaviour.calls[2].request.metadata_field) == ["signature_def"]
    assert server.behaviour.calls[3].request.model_spec.version_label == "stable"


def test_unavailable_is_retried_with_backoff_until_it_succeeds(server):
    server.behaviour.faults = [(grpc.StatusCode.UNAVAILABLE, "overloaded")] * 2
    client = client_for(server.address, retries=2, backoff_seconds=0.01)

    response = client.predict(MODEL, x_inputs(2.0))

    assert array_from_tensor_proto(response.outputs["y"]).tolist() == [3.0]
    assert len(server.behaviour.calls) == 3


def test_unavailable_after_the_last_retry_is_a_503(server):
    server.behaviour.faults = [(grpc.StatusCode.UNAVAILABLE, "overloaded")] * 3
    client = client_for(server.address, retries=1, backoff_seconds=0.01)

    with pytest.raises(UpstreamError) as caught:
        client.predict(MODEL, x_inputs(2.0))

    assert (caught.value.status_code, caught.value.details) == (503, "overloaded")
    assert caught.value.headers == {"Retry-After": "1"}
    assert len(server.behaviour.calls) == 2


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.INTERNAL, 502),
    ],
)
def test_other_errors_are_not_retried_and_keep_the_servers_message(server, client, code, status):
    server.behaviour.faults = [(code, "Servable not found for request: Latest(nope)")]

    with pytest.raises(UpstreamError) as caught:
        client.predict(MODEL, x_inputs(2.0))

    assert (caught.value.status_code, caught.value.message) == (
        status,
        "Servable not found for request: Latest(nope)",
    )
    assert len(server.behaviour.calls) == 1


def test_a_slow_answer_is_a_504_at_the_deadline(server):
    server.behaviour.delay_seconds = 2.0
    client = client_for(server.address, timeout_seconds=0.3)

    with pytest.raises(UpstreamError) as caught:
        client.predict(MODEL, x_inputs(1.0))

    assert (caught.value.grpc_code, caught.value.status_code) == (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        504,
    )
    assert len(server.behaviour.calls) == 1  # a deadline is not retried


def test_retries_stop_at_the_deadline(server):
    server.behaviour.faults = [(grpc.StatusCode.UNAVAILABLE, "down")] * 10
    client = client_for(server.address, timeout_seconds=0.2, retries=10, backoff_seconds=0.08)

    with pytest.raises(UpstreamError) as caught:
        client.predict(MODEL, x_inputs(1.0))

    assert caught.value.status_code == 503
    # 11 attempts were allowed; the deadline (0.2 s against 0.08 s between attempts)
    # ended the retries first.
    assert 1 < len(server.behaviour.calls) < 11


def test_a_stopped_server_gives_503_quickly():
    client = client_for(f"127.0.0.1:{free_port()}", retries=2)

    with pytest.raises(UpstreamError) as caught:
        client.predict(MODEL, x_inputs(1.0))

    assert caught.value.status_code == 503
    assert caught.value.message == "The model server is unavailable; retry later"
    client.close()


def test_the_client_recovers_by_itself_when_the_server_comes_back():
    port = free_port()
    client = client_for(f"127.0.0.1:{port}", retries=0)
    with canned_server(port=port):
        client.get_model_status(MODEL)

    with pytest.raises(UpstreamError):
        client.get_model_status(MODEL)

    with canned_server(port=port):
        deadline = time.monotonic() + 3.0
        while True:
            try:
                status = client.get_model_status(MODEL)
                break
            except UpstreamError:
                assert time.monotonic() < deadline, "no recovery within 3 s"
                time.sleep(0.05)
    assert status.model_version_status[0].version == 2
    client.close()


def test_round_robin_spreads_calls_over_every_backend():
    with canned_server() as first, canned_server() as second:
        client = client_for(f"ipv4:127.0.0.1:{first.port},127.0.0.1:{second.port}")

        for _ in range(20):
            client.get_model_status(MODEL)

        assert len(first.behaviour.calls) > 0
        assert len(second.behaviour.calls) > 0
        assert len(first.behaviour.calls) + len(second.behaviour.calls) == 20
        client.close()


def test_clients_of_one_target_share_one_channel_per_process(server):
    first = client_for(server.address)
    second = client_for(server.address)
    seen = []

    def call():
        first.get_model_status(MODEL)
        seen.append(first.channel)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(channel is second.channel for channel in seen)
    first.close()


def test_close_opens_a_new_channel_on_the_next_call(server):
    client = client_for(server.address)
    client.get_model_status(MODEL)
    before = client.channel

    client.close()
    client.get_model_status(MODEL)

    assert client.channel is not before
    client.close()


def test_calls_are_balanced_round_robin_over_every_server_of_the_target():
    with canned_server() as first, canned_server() as second:
        client = client_for(f"ipv4:{first.address},{second.address}")
        # Round robin picks among connected servers: call until both have been reached.
        for _ in range(100):
            if first.behaviour.calls and second.behaviour.calls:
                break
            client.get_model_status(MODEL)
        first.behaviour.calls.clear()
        second.behaviour.calls.clear()
        for _ in range(6):
            client.get_model_status(MODEL)
        client.close()

    assert (len(first.behaviour.calls), len(second.behaviour.calls)) == (3, 3)


def test_messages_over_the_limit_are_refused(server):
    client = client_for(server.address, max_message_bytes=1024)

    with pytest.raises(UpstreamError) as caught:
        client.predict(MODEL, x_inputs(*range(1000)))

    assert caught.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert server.behaviour.calls == []
    client.close()


def test_a_forked_child_gets_its_own_channel(server):
    script = textwrap.dedent(
        f"""
        import os, sys
        from tfserving.client import PredictionClient, backend_targets
        from tfserving.models import ModelRef
        client = PredictionClient({server.address!r}, timeout_seconds=5, max_message_bytes=1 << 20)
        client.get_model_status(ModelRef("m"))
        parent_channel = client.channel
        pid = os.fork()
        if pid == 0:
            client.get_model_status(ModelRef("m"))
            os._exit(0 if client.channel is not parent_channel else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr.decode()
    assert len(server.behaviour.calls) == 2


def test_reload_config_sends_the_whole_config(server, client):
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add(name="half_plus_two", base_path="/models/h")
    entry.version_labels["stable"] = 1

    response = client.reload_config(config, request_id="deploy-1")

    assert response.status.error_code == 0
    [call] = server.behaviour.calls
    assert (call.method, call.request.config, call.metadata["x-request-id"]) == (
        "HandleReloadConfigRequest",
        config,
        "deploy-1",
    )


def test_a_reload_refused_in_the_response_status_is_an_error(server, client):
    server.behaviour.reload_status = (9, "Request to assign label to version 3 of model m")

    with pytest.raises(UpstreamError) as caught:
        client.reload_config(model_server_config_pb2.ModelServerConfig())

    assert caught.value.grpc_code is grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.message == "Request to assign label to version 3 of model m"


@pytest.mark.parametrize(
    ("target", "backends"),
    [
        ("127.0.0.1:8500", ["127.0.0.1:8500"]),
        ("tfserving:8500", ["tfserving:8500"]),
        ("ipv4:10.0.0.1:8500,10.0.0.2:8500", ["ipv4:10.0.0.1:8500", "ipv4:10.0.0.2:8500"]),
        ("ipv6:[::1]:8500", ["ipv6:[::1]:8500"]),
        ("dns:///127.0.0.1:8500", ["ipv4:127.0.0.1:8500"]),
        ("dns://8.8.8.8/127.0.0.1:8500", ["ipv4:127.0.0.1:8500"]),
        ("dns:///no-such-host.invalid:8500", []),
    ],
)
def test_backend_targets_name_each_server_once(target, backends):
    assert backend_targets(target) == backends
