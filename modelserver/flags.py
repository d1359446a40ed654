"""The command line: TensorFlow Serving's own flag names, defaults and meanings."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass

from modelserver.channel_arguments import (
    ChannelArgument,
    ChannelArgumentsError,
    parse_channel_arguments,
)
from modelserver.request_limits import DEFAULT_MAX_BATCH_SIZE


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


@dataclass(frozen=True)
class ServerOptions:
    port: int = 8500
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    model_name: str = "default"
    model_base_path: str = ""
    file_system_poll_wait_seconds: int = 1
    enable_batching: bool = False
    batching_parameters_file: str = ""
    grpc_max_threads: int = 4 * (os.cpu_count() or 1)
    num_load_threads: int = 4
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    rest_api_port: int = 0
    shutdown_grace_seconds: float = 10.0
    grpc_channel_arguments: tuple[ChannelArgument, ...] = ()
    grpc_bind_address: str = "127.0.0.1"
    max_request_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    rest_api_num_threads: int = 4 * (os.cpu_count() or 1)
    rest_api_timeout_in_ms: int = 30_000
    rest_api_enable_cors_support: bool = False
    rest_api_bind_address: str = "127.0.0.1"
    rest_api_max_request_bytes: int = 32 * 1024 * 1024
    monitoring_config_file: str = ""
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 0
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    enable_signature_method_name_check: bool = False
    allow_version_labels_for_unavailable_models: bool = False


IGNORED_FLAGS = {
    "flush_filesystem_caches": "there are no file system caches to flush",
    "enable_grpc_healthcheck_service": "the grpc.health.v1 service is always on",
}


def build_parser() -> argparse.ArgumentParser:
    defaults = ServerOptions()
    parser = argparse.ArgumentParser(
        prog="python -m modelserver",
        description=(
            "A TensorFlow Serving compatible gRPC model server (PredictionService, "
            "ModelService, grpc.health.v1) for SavedModels in TF Serving's layout. "
            "Flags use TF Serving's names; write them as --flag=value."
        ),
    )
    add = parser.add_argument
    add("--port", type=int, default=defaults.port, help="TCP port for the gRPC API (default 8500)")
    add(
        "--model_config_file",
        default=defaults.model_config_file,
        help="ascii ModelServerConfig (model_config_list) naming the models to serve; "
        "relative base_path values are resolved against the working directory",
    )
    add(
        "--model_config_file_poll_wait_seconds",
        type=int,
        default=defaults.model_config_file_poll_wait_seconds,
        help="seconds between re-reads of --model_config_file; 0 reads it once (default 0)",
    )
    add(
        "--model_name",
        default=defaults.model_name,
        help="name of the model (ignored if --model_config_file is set; default 'default')",
    )
    add(
        "--model_base_path",
        default=defaults.model_base_path,
        help="folder holding the model's numbered versions (ignored if --model_config_file is "
        "set, otherwise required)",
    )
    add(
        "--file_system_poll_wait_seconds",
        type=int,
        default=defaults.file_system_poll_wait_seconds,
        help="seconds between polls for new or removed model versions; 0 polls once at start, "
        "negative never (default 1)",
    )
    add(
        "--enable_batching",
        type=_bool,
        nargs="?",
        const=True,
        default=defaults.enable_batching,
        help="merge concurrent Predict calls for the same model version and signature",
    )
    add(
        "--batching_parameters_file",
        default=defaults.batching_parameters_file,
        help="ascii BatchingParameters protobuf (max_batch_size, batch_timeout_micros, "
        "num_batch_threads, max_enqueued_batches, allowed_batch_sizes, "
        "pad_variable_length_inputs); requires --enable_batching",
    )
    add(
        "--grpc_max_threads",
        type=int,
        default=defaults.grpc_max_threads,
        help="max gRPC server threads handling calls (default 4 x CPUs, as TF Serving); with "
        "batching, a batch can only hold as many requests as there are threads",
    )
    add(
        "--num_load_threads",
        type=int,
        default=defaults.num_load_threads,
        help="threads loading model versions in parallel (default 4)",
    )
    add(
        "--tensorflow_intra_op_parallelism",
        type=int,
        default=defaults.tensorflow_intra_op_parallelism,
        help="threads to parallelise one op; 0 lets TensorFlow choose",
    )
    add(
        "--tensorflow_inter_op_parallelism",
        type=int,
        default=defaults.tensorflow_inter_op_parallelism,
        help="ops run concurrently; 0 lets TensorFlow choose",
    )
    add(
        "--rest_api_port",
        type=int,
        default=defaults.rest_api_port,
        help="TCP port for TF Serving's HTTP/REST API; 0 (default) exports none. It must "
        "differ from --port",
    )
    add(
        "--shutdown_grace_seconds",
        type=float,
        default=defaults.shutdown_grace_seconds,
        help="on SIGTERM/SIGINT, how long in-flight calls may finish (not a TF Serving flag)",
    )
    add(
        "--grpc_channel_arguments",
        default="",
        help="comma-separated gRPC server arguments, e.g. grpc.max_connection_age_ms=2000 "
        "(integers are passed as integers); grpc.max_receive_message_length sets the "
        "message-size limit (default 64 MiB here; TF Serving's is 2 GiB)",
    )
    add(
        "--grpc_bind_address",
        default=defaults.grpc_bind_address,
        help="address the gRPC port listens on (not a TF Serving flag: it listens on every "
        "interface; default 127.0.0.1, pass 0.0.0.0 in a container)",
    )
    add(
        "--max_request_batch_size",
        type=int,
        default=defaults.max_request_batch_size,
        help="most rows (0th dimension, or tf.Examples) one Predict, Classify, Regress or "
        "MultiInference call may carry; 0 = no limit (not a TF Serving flag: TF Serving limits "
        "only batched calls, by max_batch_size; default 1000, that max_batch_size's default)",
    )
    add(
        "--rest_api_num_threads",
        type=int,
        default=defaults.rest_api_num_threads,
        help="threads answering REST requests (default 4 x CPUs, as TF Serving)",
    )
    add(
        "--rest_api_timeout_in_ms",
        type=int,
        default=defaults.rest_api_timeout_in_ms,
        help="predict, classify and regress over REST that run longer are answered 504 "
        "(default 30000; 0 = no timeout)",
    )
    add(
        "--rest_api_enable_cors_support",
        type=_bool,
        nargs="?",
        const=True,
        default=defaults.rest_api_enable_cors_support,
        help="add CORS headers (Access-Control-Allow-Origin: *) to REST answers",
    )
    add(
        "--rest_api_bind_address",
        default=defaults.rest_api_bind_address,
        help="address the REST port listens on (not a TF Serving flag: it listens on every "
        "interface; default 127.0.0.1, pass 0.0.0.0 in a container)",
    )
    add(
        "--rest_api_max_request_bytes",
        type=int,
        default=defaults.rest_api_max_request_bytes,
        help="larger REST bodies are answered 413 (not a TF Serving flag; default 32 MiB, the "
        "gateway's MAX_REQUEST_BYTES)",
    )
    add(
        "--monitoring_config_file",
        default=defaults.monitoring_config_file,
        help="ascii MonitoringConfig protobuf; prometheus_config { enable: true } serves "
        "Prometheus metrics at its path on the REST port",
    )
    add(
        "--enable_model_warmup",
        type=_bool,
        nargs="?",
        const=True,
        default=defaults.enable_model_warmup,
        help="before a version is AVAILABLE, replay the requests in its "
        "assets.extra/tf_serving_warmup_requests (default true)",
    )
    add(
        "--num_request_iterations_for_warmup",
        type=int,
        default=defaults.num_request_iterations_for_warmup,
        help="times each warmup request is run; used only if > 0 (otherwise once)",
    )
    add(
        "--max_num_load_retries",
        type=int,
        default=defaults.max_num_load_retries,
        help="times a failed version load is retried before the version is reported END with "
        "its error; 0 tries once (default 5)",
    )
    add(
        "--load_retry_interval_micros",
        type=int,
        default=defaults.load_retry_interval_micros,
        help="microseconds between load retries; negative does not wait (default 1 minute)",
    )
    add(
        "--enable_signature_method_name_check",
        type=_bool,
        nargs="?",
        const=True,
        default=defaults.enable_signature_method_name_check,
        help="require Classify/Regress signatures to have the classify/regress method name and "
        "Predict ones one of predict/classify/regress; leave off (the default) to serve native "
        "TF2 models, whose signatures are all predict",
    )
    add(
        "--allow_version_labels_for_unavailable_models",
        type=_bool,
        nargs="?",
        const=True,
        default=defaults.allow_version_labels_for_unavailable_models,
        help="let a config give a new label to a version that is not available (yet); "
        "moving an existing label to such a version is still refused (default false)",
    )
    for name, reason in IGNORED_FLAGS.items():
        add(
            f"--{name}",
            default=None,
            help=f"cannot apply here: {reason} (accepted, with a warning)",
        )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> tuple[ServerOptions, list[str]]:
    """Parse the command line; return the options and warnings about ignored flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.model_config_file and not args.model_base_path:
        parser.error("either --model_config_file or --model_base_path must be set")
    if args.batching_parameters_file and not args.enable_batching:
        # TF Serving refuses this combination too, with this message.
        parser.error(
            "server_options.batching_parameters_file is set without setting "
            "server_options.enable_batching to true."
        )
    try:
        channel_arguments = parse_channel_arguments(args.grpc_channel_arguments)
    except ChannelArgumentsError as error:
        parser.error(str(error))
    warnings = [
        f"--{name} is ignored: {reason}"
        for name, reason in IGNORED_FLAGS.items()
        if getattr(args, name) is not None
    ]
    if args.rest_api_port and args.rest_api_port == args.port:
        # TF Serving logs this and serves without REST; a silent half-configured server is
        # worse than refusing to start.
        parser.error(
            "server_options.http_port cannot be same as grpc_port. Please use a different "
            "port for HTTP/REST API."
        )
    if args.monitoring_config_file and not args.rest_api_port:
        warnings.append(
            "--monitoring_config_file is ignored: metrics are served on the REST port, and "
            "--rest_api_port is 0"
        )
    if args.model_config_file and args.model_base_path:
        warnings.append("--model_base_path is ignored because --model_config_file is set")
    options = ServerOptions(
        port=args.port,
        model_config_file=args.model_config_file,
        model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
        model_name=args.model_name,
        model_base_path=args.model_base_path,
        file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
        enable_batching=bool(args.enable_batching),
        batching_parameters_file=args.batching_parameters_file,
        grpc_max_threads=args.grpc_max_threads,
        num_load_threads=max(1, args.num_load_threads),
        tensorflow_intra_op_parallelism=args.tensorflow_intra_op_parallelism,
        tensorflow_inter_op_parallelism=args.tensorflow_inter_op_parallelism,
        rest_api_port=args.rest_api_port,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
        grpc_channel_arguments=channel_arguments,
        grpc_bind_address=args.grpc_bind_address,
        max_request_batch_size=args.max_request_batch_size,
        rest_api_num_threads=args.rest_api_num_threads,
        rest_api_timeout_in_ms=args.rest_api_timeout_in_ms,
        rest_api_enable_cors_support=bool(args.rest_api_enable_cors_support),
        rest_api_bind_address=args.rest_api_bind_address,
        rest_api_max_request_bytes=args.rest_api_max_request_bytes,
        monitoring_config_file=args.monitoring_config_file,
        enable_model_warmup=bool(args.enable_model_warmup),
        num_request_iterations_for_warmup=args.num_request_iterations_for_warmup,
        max_num_load_retries=args.max_num_load_retries,
        load_retry_interval_micros=args.load_retry_interval_micros,
        enable_signature_method_name_check=bool(args.enable_signature_method_name_check),
        allow_version_labels_for_unavailable_models=bool(
            args.allow_version_labels_for_unavailable_models
        ),
    )
    return options, warnings
