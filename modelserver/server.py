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

from modelserver import tracing
from modelserver.batching import BatchScheduler
from modelserver.channel_arguments import server_arguments
from modelserver.errors import status_string
from modelserver.flags import ServerOptions
from modelserver.http_server import HttpLimits, HttpServer
from modelserver.inference import Inference
from modelserver.loading import VersionLoader
from modelserver.manager import ConfigurationRejected, ServableManager
from modelserver.model_config import (
    ModelConfig,
    ModelConfigError,
    read_model_config_file,
    single_model_config,
)
from modelserver.monitoring import (
    Metrics,
    MetricsInterceptor,
    MonitoringConfigError,
    PrometheusConfig,
    read_monitoring_config,
)
from modelserver.request_limits import RequestLimits
from modelserver.rest_api import RestApi
from modelserver.servable import session_config
from modelserver.services import InFlightCalls, ModelService, PredictionService
from tfserving.batching_parameters import (
    BatchingParameters,
    BatchingParametersError,
    read_batching_parameters,
)

log = logging.getLogger("modelserver")

SERVICE_NAMES = ("tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")


def listen_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def configure_logging() -> None:
    level = os.environ.get("MODELSERVER_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname).1s %(name)s] %(message)s", force=True
    )
    # TensorFlow's Python logger has a handler of its own (every line would show twice) and
    # says at INFO what the manager already logs ("Restoring parameters from ...").
    tensorflow_logger = tf.get_logger()
    tensorflow_logger.handlers.clear()
    tensorflow_logger.setLevel(logging.WARNING)


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


def _version_loader(options: ServerOptions) -> VersionLoader:
    return VersionLoader(
        session_config=session_config(
            options.tensorflow_intra_op_parallelism, options.tensorflow_inter_op_parallelism
        ),
        enable_model_warmup=options.enable_model_warmup,
        num_request_iterations_for_warmup=options.num_request_iterations_for_warmup,
        method_name_check=options.enable_signature_method_name_check,
    )


def _prometheus_config(options: ServerOptions) -> PrometheusConfig | None:
    """The Prometheus page's settings; TF Serving reads the file only with a REST port."""
    if not options.monitoring_config_file or not options.rest_api_port:
        return None
    config = read_monitoring_config(Path(options.monitoring_config_file))
    return config if config.enable else None


def _rest_server(
    options: ServerOptions,
    prediction: PredictionService,
    models: ModelService,
    metrics: Metrics,
    prometheus: PrometheusConfig | None,
) -> HttpServer | None:
    if not options.rest_api_port:
        return None
    timeout_ms = options.rest_api_timeout_in_ms
    api = RestApi(
        prediction,
        models,
        metrics,
        timeout_seconds=timeout_ms / 1000 if timeout_ms > 0 else None,
        max_request_bytes=options.rest_api_max_request_bytes,
        prometheus=prometheus,
        cors=options.rest_api_enable_cors_support,
    )
    return HttpServer(
        api,
        options.rest_api_bind_address,
        options.rest_api_port,
        threads=options.rest_api_num_threads,
        limits=HttpLimits(max_body_bytes=options.rest_api_max_request_bytes),
    )


class ModelServer:
    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.configs = _model_configs(options)
        self.batching = _batching_parameters(options)
        self.manager = ServableManager(
            self.configs,
            load_servable=tracing.traced_load(_version_loader(options)),
            load_threads=options.num_load_threads,
            max_load_retries=options.max_num_load_retries,
            load_retry_interval_seconds=options.load_retry_interval_micros / 1e6,
            allow_labels_for_unavailable=options.allow_version_labels_for_unavailable_models,
        )
        self.batcher = BatchScheduler(self.batching) if self.batching else None
        self.health = health.HealthServicer()
        self._stopped = threading.Event()
        self._config_poller: threading.Thread | None = None
        self.metrics = Metrics()
        self.prometheus = _prometheus_config(options)
        self.grpc_server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=options.grpc_max_threads, thread_name_prefix="grpc"
            ),
            # Recording costs every call a little, so only when the metrics are served.
            interceptors=[MetricsInterceptor(self.metrics)] if self.prometheus else [],
            options=server_arguments(options.grpc_channel_arguments),
        )
        self.calls = InFlightCalls()
        inference = Inference(
            self.manager, self.batcher, options.enable_signature_method_name_check
        )
        prediction = PredictionService(
            self.manager,
            self.calls,
            inference,
            RequestLimits(max_batch_size=options.max_request_batch_size),
        )
        models = ModelService(self.manager, self.calls, Path.cwd())
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            prediction, self.grpc_server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(models, self.grpc_server)
        self.rest_server = _rest_server(options, prediction, models, self.metrics, self.prometheus)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc_server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set_health(self, status: int) -> None:
        for service in ("", *SERVICE_NAMES):
            self.health.set(service, status)

    def start(self) -> None:
        """Load the initial models, then open the port and report SERVING."""
        address = listen_address(self.options.grpc_bind_address, self.options.port)
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
        self._start_rest_api()
        self.manager.start_polling(self.options.file_system_poll_wait_seconds)
        self._start_config_polling()
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("Running gRPC ModelServer at %s ...", address)
        if self.rest_server is not None:
            rest_address = listen_address(
                self.options.rest_api_bind_address, self.options.rest_api_port
            )
            log.info("Exporting HTTP/REST API at:%s ...", rest_address)
        if self.prometheus:
            log.info("Prometheus metrics at %s on the REST port", self.prometheus.path)

    def _start_rest_api(self) -> None:
        if self.rest_server is None:
            return
        address = listen_address(self.options.rest_api_bind_address, self.options.rest_api_port)
        try:
            self.rest_server.start()
        except OSError as error:
            raise OSError(f"cannot listen on {address}: is the port in use?") from error

    def _start_config_polling(self) -> None:
        interval = self.options.model_config_file_poll_wait_seconds
        if not self.options.model_config_file or interval <= 0:
            return

        def poll() -> None:
            path = Path(self.options.model_config_file)
            last = self.configs
            while not self._stopped.wait(interval):
                # TF Serving's log lines for a config file it cannot read or apply.
                try:
                    configs = read_model_config_file(path)
                except ModelConfigError as error:
                    log.error("Failed to read ModelServerConfig file: %s", error.message)
                    continue
                if configs == last:
                    continue
                last = configs
                try:
                    self.manager.reload(configs)
                    log.info("Reloaded model config file %s", path)
                except ConfigurationRejected as error:
                    log.error(
                        "PollFilesystemAndReloadConfig failed to ReloadConfig: %s", error.message
                    )

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
        if self.rest_server is not None:
            self.rest_server.stop()
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
        tracing.shutdown()
        log.info("Server stopped")


def serve(options: ServerOptions, warnings: list[str]) -> int:
    """Run until SIGTERM or SIGINT; return the process exit code."""
    configure_logging()
    tracing.configure_from_environment()
    for warning in warnings:
        log.warning(warning)
    devices = [d.name.removeprefix("/physical_device:") for d in tf.config.list_physical_devices()]
    log.info("TensorFlow %s, devices: %s", tf.__version__, ", ".join(devices))
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("Received %s", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server = ModelServer(options)
    except ModelConfigError as error:
        log.error("Failed to start server. Error: %s", status_string(error.code, error.message))
        return 1
    except (BatchingParametersError, MonitoringConfigError) as error:
        log.error("%s", error)
        return 1
    try:
        server.start()
    except ConfigurationRejected as error:
        log.error("Failed to start server. Error: %s", status_string(error.code, error.message))
        server.stop()
        return 1
    except OSError as error:
        log.error("%s", error)
        server.stop()
        return 1
    stop_requested.wait()
    server.stop()
    return 0
