"""Start-up, serving and shutdown of the model server process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc
import tensorflow as tf
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from modelserver.batching import BatchScheduler
from modelserver.batching_parameters import (
    BatchingParameters,
    BatchingParametersError,
    read_batching_parameters,
)
from modelserver.flags import ServerOptions
from modelserver.inference import Inference
from modelserver.manager import ConfigurationRejected, ServableManager
from modelserver.model_config import (
    ModelConfig,
    ModelConfigError,
    read_model_config_file,
    single_model_config,
)
from modelserver.services import InFlightCalls, ModelService, PredictionService

log = logging.getLogger("modelserver")

SERVICE_NAMES = ("tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")
GRPC_OPTIONS = [
    # TF Serving accepts messages of any size (it sets the limit to INT_MAX).
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # gRPC turns SO_REUSEPORT on by default, which lets a second server silently share a
    # busy port; a port conflict must be an error at start-up instead.
    ("grpc.so_reuseport", 0),
]


def configure_logging() -> None:
    level = os.environ.get("MODELSERVER_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname).1s %(name)s] %(message)s", force=True
    )


def _model_configs(options: ServerOptions) -> tuple[ModelConfig, ...]:
    if options.model_config_file:
        return read_model_config_file(Path(options.model_config_file))
    return (single_model_config(options.model_name, options.model_base_path),)


def _batching_parameters(options: ServerOptions) -> BatchingParameters | None:
    if not options.enable_batching:
        return None
    if options.batching_parameters_file:
        return read_batching_parameters(Path(options.batching_parameters_file))
    return BatchingParameters()


def _configure_tensorflow(options: ServerOptions) -> None:
    if options.tensorflow_intra_op_parallelism > 0:
        tf.config.threading.set_intra_op_parallelism_threads(
            options.tensorflow_intra_op_parallelism
        )
    if options.tensorflow_inter_op_parallelism > 0:
        tf.config.threading.set_inter_op_parallelism_threads(
            options.tensorflow_inter_op_parallelism
        )


class ModelServer:
    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.configs = _model_configs(options)
        self.batching = _batching_parameters(options)
        self.manager = ServableManager(self.configs, load_threads=options.num_load_threads)
        self.batcher = BatchScheduler(self.batching) if self.batching else None
        self.health = health.HealthServicer()
        self._stopped = threading.Event()
        self._config_poller: threading.Thread | None = None
        self.grpc_server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=options.grpc_max_threads, thread_name_prefix="grpc"
            ),
            options=GRPC_OPTIONS,
        )
        self.calls = InFlightCalls()
        inference = Inference(self.manager, self.batcher)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(self.manager, self.calls, inference), self.grpc_server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(self.manager, self.calls, Path.cwd()), self.grpc_server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc_server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set_health(self, status: int) -> None:
        for service in ("", *SERVICE_NAMES):
            self.health.set(service, status)

    def start(self) -> None:
        """Load the initial models, then open the port and report SERVING."""
        _configure_tensorflow(self.options)
        address = f"0.0.0.0:{self.options.port}"
        try:
            self.grpc_server.add_insecure_port(address)
        except RuntimeError as error:  # grpc reports a busy port this way
            raise OSError(f"cannot listen on {address}: is the port in use?") from error
        if self.batching:
            log.info("Batching enabled: %s", self.batching)
        # Like TF Serving, listen only once the initial models are loaded: a server
        # that answered during loading would tell clients an existing model is
        # NOT_FOUND, where "unreachable" (UNAVAILABLE, retried) is the truth.
        self.manager.load_initial()
        self.grpc_server.start()
        self.manager.start_polling(self.options.file_system_poll_wait_seconds)
        self._start_config_polling()
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("Running gRPC ModelServer at %s ...", address)

    def _start_config_polling(self) -> None:
        interval = self.options.model_config_file_poll_wait_seconds
        if not self.options.model_config_file or interval <= 0:
            return

        def poll() -> None:
            path = Path(self.options.model_config_file)
            last = self.configs
            while not self._stopped.wait(interval):
                try:
                    configs = read_model_config_file(path)
                    if configs != last:
                        self.manager.reload(configs)
                        last = configs
                        log.info("Reloaded model config file %s", path)
                except (ModelConfigError, ConfigurationRejected) as error:
                    log.error("Not applying model config file %s: %s", path, error)

        self._config_poller = threading.Thread(target=poll, name="config-poll", daemon=True)
        self._config_poller.start()

    def stop(self) -> None:
        """Refuse new calls, let in-flight ones finish (up to the grace period), then stop."""
        log.info("Shutting down: draining in-flight calls")
        self._stopped.set()
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        if not self.calls.drain(self.options.shutdown_grace_seconds):
            log.warning(
                "Calls still running after %s s; stopping anyway",
                self.options.shutdown_grace_seconds,
            )
        self.grpc_server.stop(grace=1).wait()
        self.manager.stop()
        if self.batcher is not None:
            stats = self.batcher.stats()
            log.info(
                "Batching statistics: tasks per batch %s; batch sizes %s",
                dict(sorted(stats.tasks_per_batch.items())),
                dict(sorted(stats.size_per_batch.items())),
            )
            self.batcher.stop()
        log.info("Server stopped")


def serve(options: ServerOptions, warnings: list[str]) -> int:
    """Run until SIGTERM or SIGINT; return the process exit code."""
    configure_logging()
    for warning in warnings:
        log.warning(warning)
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("Received %s", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server = ModelServer(options)
    except (ModelConfigError, BatchingParametersError) as error:
        log.error("%s", error)
        return 1
    try:
        server.start()
    except (ConfigurationRejected, OSError) as error:
        log.error("%s", getattr(error, "message", error))
        server.stop()
        return 1
    stop_requested.wait()
    server.stop()
    return 0
