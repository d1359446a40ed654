"""--grpc_channel_arguments, the message-size limit and the listening address, on real servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from modelserver.channel_arguments import (
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    ChannelArgumentsError,
    parse_channel_arguments,
    server_arguments,
)
from modelserver.flags import parse_options
from tests.modelserver.requests import half_plus_two_request, outputs_of, predict_request
from tests.support.processes import ModelServerProcess, model_server

# Another loopback address: reachable only if the server listens beyond 127.0.0.1.
OTHER_LOCAL_ADDRESS = "127.0.0.2"
SMALL_LIMIT = 64 * 1024


def test_arguments_are_split_on_commas_and_integers_passed_as_integers():
    assert parse_channel_arguments(
        "grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb, x=+7 ,y=-3"
    ) == (
        ("grpc.max_connection_age_ms", 2000),
        ("grpc.lb_policy_name", "grpclb"),
        (" x", 7),
        ("y", -3),
    )


@pytest.mark.parametrize("text", ["2147483648", "-2147483649", "1_000", "0x10", "1.5", ""])
def test_values_that_are_not_32_bit_integers_are_passed_as_strings(text):
    assert parse_channel_arguments(f"k={text}") == (("k", text),)


def test_no_arguments_is_an_empty_list():
    assert parse_channel_arguments("") == ()


@pytest.mark.parametrize("text", ["grpc.keepalive_time_ms", "a=1,,b=2", "a=1,", "=5", "a=b=c"])
def test_pieces_that_are_not_key_value_are_refused(text):
    with pytest.raises(ChannelArgumentsError, match="is not key=value"):
        parse_channel_arguments(text)


def test_given_arguments_replace_the_servers_defaults():
    merged = dict(server_arguments((("grpc.max_receive_message_length", 1024), ("k", "v"))))

    assert merged["grpc.max_receive_message_length"] == 1024
    assert merged["k"] == "v"
    assert merged["grpc.so_reuseport"] == 0


def test_the_default_message_limit_is_64_mib():
    merged = dict(server_arguments(()))

    assert merged["grpc.max_receive_message_length"] == DEFAULT_MAX_RECEIVE_MESSAGE_BYTES
    assert DEFAULT_MAX_RECEIVE_MESSAGE_BYTES == 64 * 1024 * 1024


def test_the_flag_is_parsed_and_a_malformed_one_exits_2(capsys):
    options, _ = parse_options(["--model_base_path=m", "--grpc_channel_arguments=a=1,b=x"])
    assert options.grpc_channel_arguments == (("a", 1), ("b", "x"))

    with pytest.raises(SystemExit) as exited:
        parse_options(["--model_base_path=m", "--grpc_channel_arguments=a"])
    assert exited.value.code == 2
    assert "--grpc_channel_arguments: 'a' is not key=value" in capsys.readouterr().err


def test_the_server_listens_on_loopback_unless_told_otherwise():
    options, _ = parse_options(["--model_base_path=m"])

    assert options.grpc_bind_address == "127.0.0.1"


def can_connect(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((host, port)) == 0


def predict_with_payload(address: str, values: np.ndarray) -> predict_pb2.PredictResponse:
    """One row of ``values`` to the examples model's rowsum signature (rows [-1,-1])."""
    request = predict_request("examples", {"rows": values.reshape(1, -1)}, signature="rowsum")
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(address, options=options) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=60
        )


def test_default_server_is_not_reachable_on_other_addresses(server: ModelServerProcess):
    assert can_connect("127.0.0.1", server.port)
    assert not can_connect(OTHER_LOCAL_ADDRESS, server.port)


def test_default_server_refuses_a_message_over_64_mib(server: ModelServerProcess):
    values = np.zeros(DEFAULT_MAX_RECEIVE_MESSAGE_BYTES // 4 + 1024, np.float32)

    with pytest.raises(grpc.RpcError) as refused:
        predict_with_payload(server.address, values)

    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in refused.value.details()


@pytest.fixture(scope="module")
def configured_server(models_dir: Path) -> Iterator[ModelServerProcess]:
    """TF Serving's testGoodGrpcChannelArgs arguments, a small message limit, every interface."""
    arguments = ",".join(
        [
            "grpc.max_connection_age_ms=2000",
            "grpc.lb_policy_name=grpclb",
            "grpc.so_reuseaddr=1",
            f"grpc.max_receive_message_length={SMALL_LIMIT}",
        ]
    )
    with model_server(
        args=[
            "--model_config_file=models.config",
            "--file_system_poll_wait_seconds=0",
            f"--grpc_channel_arguments={arguments}",
            "--grpc_bind_address=0.0.0.0",
        ],
        cwd=models_dir,
        log_path=models_dir / "configured-server.log",
    ) as process:
        yield process


def test_server_with_channel_arguments_answers_predict(configured_server: ModelServerProcess):
    with grpc.insecure_channel(configured_server.address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(half_plus_two_request([2.0]), timeout=60)

    assert list(outputs_of(response)["y"]) == [4.0]


def test_max_receive_message_length_sets_the_message_limit(configured_server: ModelServerProcess):
    fits = np.zeros(SMALL_LIMIT // 4 - 256, np.float32)
    too_large = np.zeros(SMALL_LIMIT // 4 + 256, np.float32)

    assert list(outputs_of(predict_with_payload(configured_server.address, fits))["sums"]) == [0.0]
    with pytest.raises(grpc.RpcError) as refused:
        predict_with_payload(configured_server.address, too_large)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_bind_address_0_0_0_0_listens_on_every_interface(configured_server: ModelServerProcess):
    assert can_connect(OTHER_LOCAL_ADDRESS, configured_server.port)
