"""Reading TF Serving's model config, batching parameters and flags (no server needed)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import yaml

from modelserver.flags import IGNORED_FLAGS, parse_options
from modelserver.model_config import (
    ModelConfigError,
    VersionPolicy,
    parse_model_config_text,
    read_model_config_file,
    single_model_config,
)
from tfserving.batching_parameters import (
    BatchingParameters,
    BatchingParametersError,
    batching_parameters_from_text,
    read_batching_parameters,
)

ROOT = Path(__file__).resolve().parents[2]


def test_model_config_list_with_policies_and_labels():
    configs = parse_model_config_text(
        """
        model_config_list {
          config {
            name: "a" base_path: "models/a" model_platform: "tensorflow"
            model_version_policy { all {} }
            version_labels { key: "stable" value: 1 }
          }
          config {
            name: "b" base_path: "/srv/b" model_version_policy { latest { num_versions: 2 } }
          }
          config {
            name: "c" base_path: "c" model_version_policy { specific { versions: 3 versions: 5 } }
          }
          config { name: "d" base_path: "d" }
        }
        """,
        working_directory=Path("/srv/app"),
    )

    assert [(c.name, c.base_path, c.version_policy, dict(c.version_labels)) for c in configs] == [
        ("a", Path("/srv/app/models/a"), VersionPolicy("all"), {"stable": 1}),
        ("b", Path("/srv/b"), VersionPolicy("latest", 2), {}),
        ("c", Path("/srv/app/c"), VersionPolicy("specific", 1, frozenset({3, 5})), {}),
        ("d", Path("/srv/app/d"), VersionPolicy("latest", 1), {}),
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (VersionPolicy("latest", 1), {9}),
        (VersionPolicy("latest", 2), {4, 9}),
        (VersionPolicy("all"), {1, 4, 9}),
        (VersionPolicy("specific", specific_versions=frozenset({1, 2})), {1}),
    ],
)
def test_version_policy_selects_from_the_versions_on_disk(policy, expected):
    assert policy.select({1, 4, 9}) == expected


def test_an_unparsable_config_file_is_reported_as_tf_serving_does(tmp_path, caplog):
    path = tmp_path / "bad_model_config.txt"
    path.write_text("improperly formatted file")

    with pytest.raises(ModelConfigError) as caught:
        read_model_config_file(path)

    # The parser's error is logged (protobuf's C++ parser logs it), the status names the file.
    assert (caught.value.code, caught.value.message) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Invalid protobuf file: '{path}'",
    )
    assert caplog.messages == [
        "Error parsing text-format tensorflow.serving.ModelServerConfig: 1:1: Message type "
        '"tensorflow.serving.ModelServerConfig" has no field named "improperly".'
    ]


def test_a_missing_config_file_is_not_found(tmp_path):
    with pytest.raises(ModelConfigError) as caught:
        read_model_config_file(tmp_path / "nope.config")

    assert (caught.value.code, caught.value.message) == (
        grpc.StatusCode.NOT_FOUND,
        f"{tmp_path / 'nope.config'}; No such file or directory",
    )


def test_single_model_flags_serve_the_latest_version():
    config = single_model_config("m", "models/m", working_directory=Path("/app"))

    assert (config.name, config.base_path, config.version_policy) == (
        "m",
        Path("/app/models/m"),
        VersionPolicy("latest", 1),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model_config_list { config { name: 'a' base_path: 'a' bogus: 1 } }", "bogus"),
        (
            "model_config_list { config { name: 'a' base_path: 'x' } "
            "config { name: 'a' base_path: 'y' } }",
            "Illegal to list model a multiple times in config list",
        ),
        ("model_config_list { config { name: 'a' } }", "empty for model a"),
        ("custom_model_config {}", "Only ModelConfigList is currently supported"),
    ],
)
def test_invalid_model_configs_are_rejected_with_a_reason(text, message):
    with pytest.raises(ModelConfigError, match=message):
        parse_model_config_text(text)


def test_batching_parameters_file_is_tf_serving_s_text_proto():
    parameters = batching_parameters_from_text(
        """
        max_batch_size { value: 32 }
        batch_timeout_micros { value: 2000 }
        max_enqueued_batches { value: 64 }
        num_batch_threads { value: 2 }
        allowed_batch_sizes: 8
        allowed_batch_sizes: 16
        allowed_batch_sizes: 32
        pad_variable_length_inputs: true
        """
    )

    assert parameters == BatchingParameters(
        max_batch_size=32,
        batch_timeout_micros=2000,
        max_enqueued_batches=64,
        num_batch_threads=2,
        allowed_batch_sizes=(8, 16, 32),
        pad_variable_length_inputs=True,
    )
    assert [parameters.padded_size(n) for n in (1, 8, 9, 32)] == [8, 8, 16, 32]


def test_unset_batching_fields_take_tf_serving_s_defaults():
    parameters = batching_parameters_from_text("")

    assert (
        parameters.max_batch_size,
        parameters.batch_timeout_micros,
        parameters.max_enqueued_batches,
    ) == (1000, 0, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch_size: 32", "invalid batching parameters"),
        ("max_batch_sizes { value: 32 }", "invalid batching parameters"),
        (
            "max_batch_size { value: 32 } allowed_batch_sizes: 8 allowed_batch_sizes: 16",
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 16; "
            "expected 32",
        ),
        (
            "max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 8",
            "monotonically increasing",
        ),
        ("num_batch_threads { value: 0 }", "num_batch_threads must be positive"),
    ],
)
def test_invalid_batching_parameters_are_rejected(text, message):
    with pytest.raises(BatchingParametersError, match=message):
        batching_parameters_from_text(text)


def test_example_batching_parameters_file_is_valid():
    parameters = read_batching_parameters(ROOT / "modelserver" / "batching_parameters.example.txt")

    assert parameters.max_batch_size >= 2


def test_flags_use_tf_serving_names_and_defaults():
    options, warnings = parse_options(["--model_config_file=models/models.config"])

    assert (options.port, options.file_system_poll_wait_seconds, options.enable_batching) == (
        8500,
        1,
        False,
    )
    assert warnings == []


def test_batching_flags_are_parsed():
    options, _ = parse_options(
        [
            "--model_name=m",
            "--model_base_path=models/m",
            "--port=9000",
            "--enable_batching=true",
            "--batching_parameters_file=b.txt",
            "--grpc_max_threads=48",
        ]
    )

    assert (
        options.model_name,
        options.port,
        options.enable_batching,
        options.batching_parameters_file,
        options.grpc_max_threads,
    ) == ("m", 9000, True, "b.txt", 48)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "either --model_config_file or --model_base_path must be set"),
        (
            ["--model_base_path=m", "--batching_parameters_file=b.txt"],
            "batching_parameters_file is set without setting server_options.enable_batching",
        ),
        (["--model_base_path=m", "--no_such_flag=1"], "unrecognized arguments: --no_such_flag=1"),
    ],
)
def test_bad_command_lines_exit_with_a_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_options(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_allow_version_labels_for_unavailable_models_is_tf_serving_s_flag():
    default, _ = parse_options(["--model_config_file=models/models.config"])
    bare, _ = parse_options(
        [
            "--model_config_file=models/models.config",
            "--allow_version_labels_for_unavailable_models",
        ]
    )
    off, _ = parse_options(
        [
            "--model_config_file=models/models.config",
            "--allow_version_labels_for_unavailable_models=false",
        ]
    )

    assert default.allow_version_labels_for_unavailable_models is False
    assert bare.allow_version_labels_for_unavailable_models is True
    assert off.allow_version_labels_for_unavailable_models is False


def _tfserving_command(manifest: str) -> list[str]:
    """The TF Serving command line of docker-compose.yml or the Kubernetes manifest."""
    documents = [d for d in yaml.safe_load_all((ROOT / manifest).read_text()) if d]
    if manifest == "docker-compose.yml":
        return documents[0]["services"]["tfserving"]["command"]
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "tfserving"
    ]
    return container["args"]


@pytest.mark.parametrize("manifest", ["docker-compose.yml", "deploy/k8s/tfserving.yaml"])
def test_the_model_server_takes_every_tf_serving_flag_the_deployments_pass(manifest):
    """These run real TF Serving; the embedded model server's parser must take the same
    command line (a refused flag exits), and ignore only flags it documents as moot."""
    command = _tfserving_command(manifest)

    options, warnings = parse_options(command)

    assert len(command) >= 8, command
    assert options.allow_version_labels_for_unavailable_models is True
    assert options.enable_batching is True
    assert options.monitoring_config_file == "/config/monitoring.config"
    ignored = {flag.split("=")[0].lstrip("-") for flag in command} & set(IGNORED_FLAGS)
    assert [w.split(" ", 1)[0].lstrip("-") for w in warnings] == sorted(
        ignored, key=list(IGNORED_FLAGS).index
    )
