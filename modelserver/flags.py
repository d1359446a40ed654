"""The command line: TensorFlow Serving's own flag names, defaults and meanings."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass


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


IGNORED_FLAGS = {
    "enable_model_warmup": "models are not warmed up",
    "max_num_load_retries": "failed loads are retried when the version folder changes",
    "flush_filesystem_caches": "there are no file system caches to flush",
    "enable_grpc_healthcheck_service": "the health service is always on",
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
        help="accepted for compatibility; this server has no REST API (the gateway is the "
        "REST tier), so a non-zero value only logs a warning",
    )
    add(
        "--shutdown_grace_seconds",
        type=float,
        default=defaults.shutdown_grace_seconds,
        help="on SIGTERM/SIGINT, how long in-flight calls may finish (not a TF Serving flag)",
    )
    for name, reason in IGNORED_FLAGS.items():
        add(f"--{name}", default=None, help=f"accepted and ignored: {reason}")
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
    warnings = [
        f"--{name} is ignored: {reason}"
        for name, reason in IGNORED_FLAGS.items()
        if getattr(args, name) is not None
    ]
    if args.rest_api_port:
        warnings.append(
            f"--rest_api_port={args.rest_api_port} is ignored: this server only speaks gRPC"
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
    )
    return options, warnings
