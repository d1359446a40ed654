"""The gateway measured against the model server it fronts, on one machine, in one run.

1. Predict on ``half_plus_two`` straight to the model server over gRPC, and the same
   call through the gateway over HTTP with a JWT, at each concurrency, in
   alternating rounds (drifts in the machine's speed hit both paths alike).
2. Start-up (gunicorn started -> first answer, for /healthz and for a predict) on
   fresh gateways; worker memory after 1,000 predictions; no TensorFlow in a worker.
3. The load client's own ceiling (a do-nothing HTTP server) and cost (its CPU per
   request), so its figures are known not to be the client's.
4. The application's own CPU per predict, without gunicorn (bench/app_cost.py): the
   WSGI app called in-process, the gateway's and the bare DRF view's.
5. BentoML serving the same SavedModel itself (bench/bentoml_peer.py), in the same
   rounds as 1, where it can be installed.
6. Audit cost: throughput at concurrency 8 with audit records written off the
   request path (the default), written on it (AUDIT_SYNC=1), and not at all; in the
   same rounds, a bare DRF POST view under the same gunicorn settings (no middleware,
   no auth), whose CPU per request is the framework's own cost.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from bench import app_cost, bentoml_peer, stack, worker_profile
from bench.load import (
    GrpcTarget,
    HttpRequest,
    HttpTarget,
    LoadResult,
    merge,
    run_load,
    run_requests,
)
from bench.stack import Gateway
from serving_project.processes import ModelServerProcess, free_port, model_server, terminate
from tfserving.protos import predict_pb2, prediction_service_pb2_grpc
from tfserving.tensors import array_from_tensor_proto, tensor_proto_from_array

MODEL = "half_plus_two"
INPUT = [1.0, 2.0, 5.0]
EXPECTED = [3.5, 4.0, 5.5]  # version 2 (latest): 0.5 x + 3
PREDICT_PATH = f"/v1/models/{MODEL}:predict"
MEMORY_REQUESTS = 1_000
AUDIT_CONCURRENCY = 8
BARE_DRF = "bare DRF view"
BARE_DRF_PATH = "/bare/predict"  # its route in bench/bare_drf_urls.py


@dataclass(frozen=True)
class Plan:
    concurrencies: tuple[int, ...]
    duration: float  # seconds measured per load point and round
    warmup: float  # seconds of load before each measured point
    rounds: int
    cold_starts: int
    profile: bool
    app_cost_requests: int = 4800  # per in-process measurement (bench/app_cost.py)


@dataclass(frozen=True)
class Memory:
    rss_kib: Mapping[int, int]  # worker pid -> VmRSS
    requests: int
    # Files mapped in the master and workers whose path contains "tensorflow".
    tensorflow_files: tuple[str, ...]
    grpc_mapped: bool  # sanity check: the maps do show the extensions the worker loaded

    @property
    def max_rss_mb(self) -> float:
        """The largest worker's RSS in MB (10^6 bytes; /proc's "kB" are KiB)."""
        return max(self.rss_kib.values()) * 1024 / 1e6


@dataclass(frozen=True)
class GatewayResults:
    gunicorn: Mapping[str, object]  # workers, threads, ... as gunicorn.conf.py sets them
    comparison: Sequence[LoadResult]  # direct and gateway at each concurrency
    calibration: Sequence[LoadResult]  # the client against a null server and /healthz
    start_to_healthz: Sequence[float]
    start_to_predict: Sequence[float]
    memory_after_requests: Memory
    memory_after_load: Memory
    audit: Sequence[LoadResult]  # off / background (default) / synchronous, at c=8
    profile_markdown: str | None
    app_costs: Sequence[app_cost.AppCost]  # in-process: the gateway, the bare DRF view
    peer: Sequence[LoadResult]  # BentoML at each concurrency (empty: skipped)
    peer_note: str  # BentoML's version, or why it was skipped

    def peer_result(self, concurrency: int) -> LoadResult | None:
        return next((r for r in self.peer if r.concurrency == concurrency), None)

    def result(self, target: str, concurrency: int) -> LoadResult:
        for result in [*self.comparison, *self.calibration, *self.audit]:
            if result.target == target and result.concurrency == concurrency:
                return result
        raise KeyError((target, concurrency))

    @property
    def overhead_ms(self) -> float:
        return self.result("gateway", 1).percentile(50) - self.result("direct", 1).percentile(50)


def gunicorn_settings() -> dict[str, object]:
    """What serving_project/gunicorn.conf.py resolves to in this environment."""
    conf = runpy.run_path(str(stack.GUNICORN_CONFIG))
    keys = ("workers", "threads", "worker_class", "keepalive", "max_requests", "preload_app")
    return {key: conf[key] for key in keys}


def direct_request() -> predict_pb2.PredictRequest:
    """The Predict request the gateway sends for {"instances": INPUT}."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.inputs["x"].CopyFrom(tensor_proto_from_array(np.array(INPUT, dtype=np.float32)))
    return request


def check_direct(address: str, request: predict_pb2.PredictRequest) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=10)
    values = array_from_tensor_proto(response.outputs["y"]).tolist()
    if values != EXPECTED:
        raise RuntimeError(f"model server answered {values}, expected {EXPECTED}")


def predict_request(gateway: Gateway, token: str) -> HttpRequest:
    return HttpRequest(
        gateway.host,
        gateway.port,
        "POST",
        PREDICT_PATH,
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        json.dumps({"instances": INPUT}).encode(),
    )


def checked_predict_target(name: str, gateway: Gateway, token: str) -> HttpTarget:
    """A target whose every answer must be byte-for-byte the checked first one."""
    request = predict_request(gateway, token)
    status, body = stack.exchange(request)
    if status != 200 or json.loads(body) != {"predictions": EXPECTED}:
        raise RuntimeError(f"gateway ({name}) answered {status}: {body[:300]!r}")
    return HttpTarget(name, request, expected_body=body)


def memory_of(gateway: Gateway, requests: int) -> Memory:
    workers = gateway.worker_pids()
    processes = [gateway.process.pid, *workers]
    tensorflow = {path for pid in processes for path in stack.mapped_files(pid, "tensorflow")}
    return Memory(
        rss_kib={pid: stack.rss_kib(pid) for pid in workers},
        requests=requests,
        tensorflow_files=tuple(sorted(tensorflow)),
        grpc_mapped=all(stack.mapped_files(pid, "cygrpc") for pid in workers),
    )


@contextlib.contextmanager
def null_server() -> Iterator[tuple[str, int, int]]:
    """bench/null_server.py on a free port: (host, port, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.null_server", f"--port={port}"],
        cwd=stack.ROOT,
        env={**os.environ, "PYTHONPATH": str(stack.ROOT)},
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                stack.exchange(HttpRequest("127.0.0.1", port, "GET", "/"))
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.02)
        yield "127.0.0.1", port, process.pid
    finally:
        terminate(process)


def log(message: str) -> None:
    print(message, flush=True)


def describe(result: LoadResult) -> str:
    servers = " ".join(
        f"{group} {result.cpu_ms_per_request(group):.2f}" for group in result.server_cpu_seconds
    )
    return (
        f"{result.target:>18} c={result.concurrency:<2} {result.requests:6d} req "
        f"{result.errors} err  p50 {result.percentile(50):6.2f}  p95 {result.percentile(95):6.2f}  "
        f"p99 {result.percentile(99):6.2f} ms  {result.throughput:7.0f} req/s  "
        f"CPU ms/req: client {result.client_cpu_ms_per_request:.2f} {servers}; "
        f"other load {result.other_cpu_cores:.2f} cores"
    )


def run(plan: Plan, workdir: Path | None = None) -> GatewayResults:
    with contextlib.ExitStack() as cleanup:
        if workdir is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        log(f"model server starting (log in {workdir})")
        server = cleanup.enter_context(model_server(log_path=workdir / "modelserver.log"))
        return _run(plan, workdir, server)


def _run(plan: Plan, workdir: Path, server: ModelServerProcess) -> GatewayResults:
    password = stack.new_secret()
    env = stack.gateway_environment(workdir, server.address, password, stack.new_secret())
    stack.prepare_database(env)
    grpc_request = direct_request()
    check_direct(server.address, grpc_request)
    gunicorn_log = workdir / "gunicorn.log"

    with stack.running_gateway(env, "main", gunicorn_log) as main:
        token = stack.obtain_token(main, password)
        gateway = checked_predict_target("gateway", main, token)
        direct = GrpcTarget("direct", server.address, grpc_request)
        pids = {"gateway": main.process.pid, "model server": server.process.pid}

        to_healthz, to_predict, memory_after_requests = _start_up_and_memory(
            plan, env, gunicorn_log, predict_request(main, token), token
        )
        calibration = _client_check(plan, main, pids)

        peers = contextlib.ExitStack()
        with peers:
            peer, peer_note = _start_peer(peers, workdir)
            log("direct gRPC vs gateway" + (" vs BentoML" if peer else ""))
            rounds: dict[tuple[str, int], list[LoadResult]] = {}
            for _ in range(plan.rounds):
                for concurrency in plan.concurrencies:
                    targets = [(direct, pids), (gateway, pids)]
                    if peer is not None:
                        targets.append((peer.target, {bentoml_peer.NAME: peer.pid}))
                    for target, server_pids in targets:
                        result = run_load(
                            target, concurrency, plan.duration, plan.warmup, server_pids
                        )
                        rounds.setdefault((target.name, concurrency), []).append(result)
                        log(describe(result))
        merged = [merge(results) for results in rounds.values()]
        comparison = [r for r in merged if r.target != bentoml_peer.NAME]
        peer_results = [r for r in merged if r.target == bentoml_peer.NAME]
        served = sum(result.requests for result in comparison if result.target == "gateway")
        memory_after_load = memory_of(main, served)

        profile_markdown = _profile(main, gateway, plan, workdir) if plan.profile else None

        log("audit cost")
        audit = _audit_runs(plan, env, gunicorn_log, main, gateway, pids, token)

        log("application cost in-process (no gunicorn)")
        app_costs = app_cost.compare(
            env, token, plan.app_cost_requests, BARE_DRF, BARE_DRF_PATH, PREDICT_PATH, log
        )

    return GatewayResults(
        gunicorn=gunicorn_settings(),
        comparison=comparison,
        calibration=calibration,
        start_to_healthz=to_healthz,
        start_to_predict=to_predict,
        memory_after_requests=memory_after_requests,
        memory_after_load=memory_after_load,
        audit=audit,
        profile_markdown=profile_markdown,
        app_costs=app_costs,
        peer=peer_results,
        peer_note=peer_note,
    )


def _start_peer(
    cleanup: contextlib.ExitStack, workdir: Path
) -> tuple[bentoml_peer.RunningPeer | None, str]:
    """BentoML serving the same SavedModel, checked to answer the expected values; or
    None and the reason it is skipped."""
    log(f"BentoML peer: installing ({bentoml_peer.BENTOML_REQUIREMENT}) or reusing it")
    body = json.dumps({"instances": INPUT}).encode()
    try:
        peer = cleanup.enter_context(
            bentoml_peer.running(body, workdir / "bentoml.log", workdir / "bentoml-home")
        )
    except bentoml_peer.PeerUnavailable as error:
        log(f"BentoML peer skipped: {error}")
        return None, f"skipped: {error}"
    status, answer = stack.exchange(peer.target.request)
    if status != 200 or json.loads(answer) != {"predictions": EXPECTED}:
        raise RuntimeError(f"BentoML answered {status}: {answer[:300]!r}")
    return peer, f"BentoML {peer.version}, {bentoml_peer.WORKERS} workers"


def _start_up_and_memory(
    plan: Plan, env: Mapping[str, str], gunicorn_log: Path, probe: HttpRequest, token: str
) -> tuple[list[float], list[float], Memory]:
    """Fresh gateways: start to first /healthz, start to first predict; then the memory
    of the last one after MEMORY_REQUESTS predictions."""
    log("start-up and memory (fresh gateways)")
    to_healthz, to_predict = [], []
    memory = None
    for attempt in range(plan.cold_starts):
        with stack.running_gateway(env, "cold /healthz", gunicorn_log) as cold:
            to_healthz.append(cold.start_seconds)
        with stack.running_gateway(
            env, "cold predict", gunicorn_log, PREDICT_PATH, probe.headers, probe.body
        ) as cold:
            to_predict.append(cold.start_seconds)
            if attempt == plan.cold_starts - 1:
                # One keep-alive connection: one worker serves all of them.
                fresh = checked_predict_target("fresh gateway", cold, token)
                counted = run_requests(fresh, 1, MEMORY_REQUESTS)
                if counted.errors:
                    raise RuntimeError(f"errors in the memory run: {counted.error_samples}")
                memory = memory_of(cold, MEMORY_REQUESTS + 1)
        log(f"  start -> /healthz {to_healthz[-1]:.3f} s, -> predict {to_predict[-1]:.3f} s")
    assert memory is not None
    log(f"  worker RSS after {MEMORY_REQUESTS} requests: {memory.rss_kib} KiB")
    return to_healthz, to_predict, memory


def _client_check(plan: Plan, main: Gateway, pids: Mapping[str, int]) -> list[LoadResult]:
    """The client against a do-nothing server (its ceiling) and the gateway's /healthz."""
    log("load client check")
    results = []
    levels = (1, max(plan.concurrencies))
    with null_server() as (host, port, pid):
        nothing = HttpTarget("null server", HttpRequest(host, port, "GET", "/"))
        for concurrency in levels:
            server = {"null server": pid}
            results.append(run_load(nothing, concurrency, plan.duration, plan.warmup, server))
            log(describe(results[-1]))
    healthz = HttpTarget("gateway /healthz", HttpRequest(main.host, main.port, "GET", "/healthz"))
    for concurrency in levels:
        results.append(run_load(healthz, concurrency, plan.duration, plan.warmup, pids))
        log(describe(results[-1]))
    return results


def _audit_runs(
    plan: Plan,
    env: Mapping[str, str],
    gunicorn_log: Path,
    main: Gateway,
    gateway: HttpTarget,
    pids: Mapping[str, int],
    token: str,
) -> list[LoadResult]:
    modes = {
        "audit off": {**env, "DJANGO_SETTINGS_MODULE": stack.AUDIT_OFF_SETTINGS},
        "audit sync": {**env, "AUDIT_SYNC": "1"},
    }
    with contextlib.ExitStack() as gateways:
        targets = {"audit background (default)": (gateway, main)}
        for mode, mode_env in modes.items():
            started = gateways.enter_context(stack.running_gateway(mode_env, mode, gunicorn_log))
            targets[mode] = (checked_predict_target(mode, started, token), started)
        targets[BARE_DRF] = _bare_drf_target(env, gunicorn_log, gateways)
        rounds: dict[str, list[LoadResult]] = {}
        for _ in range(plan.rounds):
            for mode in ("audit off", "audit background (default)", "audit sync", BARE_DRF):
                target, process = targets[mode]
                named = HttpTarget(mode, target.request, target.expected_body)
                server_pids = {**pids, "gateway": process.process.pid}
                result = run_load(named, AUDIT_CONCURRENCY, plan.duration, plan.warmup, server_pids)
                rounds.setdefault(mode, []).append(result)
                log(describe(result))
    return [merge(results) for results in rounds.values()]


def _bare_drf_target(
    env: Mapping[str, str], gunicorn_log: Path, gateways: contextlib.ExitStack
) -> tuple[HttpTarget, Gateway]:
    """The bare DRF view (bench/bare_drf_settings.py) started under the same gunicorn
    settings, and its predict, checked to answer the gateway's very bytes."""
    path = BARE_DRF_PATH
    headers = {"Content-Type": "application/json"}
    body = json.dumps({"instances": INPUT}).encode()
    started = gateways.enter_context(
        stack.running_gateway(
            {**env, "DJANGO_SETTINGS_MODULE": stack.BARE_DRF_SETTINGS},
            BARE_DRF,
            gunicorn_log,
            path,
            headers,
            body,
        )
    )
    request = HttpRequest(started.host, started.port, "POST", path, headers, body)
    status, answer = stack.exchange(request)
    if status != 200 or json.loads(answer) != {"predictions": EXPECTED}:
        raise RuntimeError(f"{BARE_DRF} answered {status}: {answer[:300]!r}")
    return HttpTarget(BARE_DRF, request, expected_body=answer), started


def _profile(main: Gateway, gateway: HttpTarget, plan: Plan, workdir: Path) -> str:
    """py-spy over the workers while one caller sends predictions (the c=1 overhead)."""
    seconds = max(5, round(plan.duration * 2))
    output = workdir / "py-spy.txt"
    log(f"profiling the gateway workers for {seconds} s (py-spy)")
    recording = worker_profile.start_recording(main.process.pid, seconds, output)
    # The load outlasts the recording (py-spy attaches first); requests are counted at
    # the rate measured over the whole load.
    result = run_load(gateway, 1, seconds + 1.5, server_pids={"gateway": main.process.pid})
    recording.wait(timeout=seconds + 30)
    profile = worker_profile.Profile(
        worker_profile.read_collapsed(output),
        round(result.throughput * seconds),
        seconds,
        result.cpu_ms_per_request("gateway"),
    )
    return worker_profile.render(profile, "Gateway worker CPU profile: predict, concurrency 1")
