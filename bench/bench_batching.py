"""Dynamic batching in modelserver: throughput at concurrency 32 with batching on and off.

    python bench/bench_batching.py [--requests 3000] [--concurrency 32]
        [--batching-parameters modelserver/batching_parameters.example.txt]

Starts two model servers on the `digits` conv model (one plain, one with
--enable_batching and the parameters file; otherwise the same flags), drives each
with the same gRPC load (one 1x28x28x1 image per call, `concurrency` calls in
flight), alternating between them in rounds, and writes throughput and latency
percentiles to bench/results/batching.md. Budget (README, Performance): batching >= 2x
the throughput without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving_project.processes import model_server  # noqa: E402
from tfserving.protos import (  # noqa: E402
    predict_pb2,
    prediction_service_pb2_grpc,
    types_pb2,
)

DIGITS = ROOT / "models" / "digits"
DEFAULT_PARAMETERS = ROOT / "modelserver" / "batching_parameters.example.txt"
RESULTS = ROOT / "bench" / "results" / "batching.md"
BUDGET = 2.0


@dataclass(frozen=True)
class Run:
    """All rounds of one mode: total requests and time, every call's latency."""

    mode: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]
    round_throughputs: tuple[float, ...]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


def digits_request(seed: int) -> predict_pb2.PredictRequest:
    image = np.random.default_rng(seed).random((1, 28, 28, 1), dtype=np.float32)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits"
    tensor = request.inputs["image"]
    tensor.dtype = types_pb2.DT_FLOAT
    for size in image.shape:
        tensor.tensor_shape.dim.add(size=size)
    tensor.tensor_content = image.tobytes()
    return request


def drive(address: str, requests: int, concurrency: int) -> tuple[int, float, list[float]]:
    """Send `requests` calls, `concurrency` at a time; return (errors, seconds, latencies ms).

    The client is asyncio gRPC (one channel, `concurrency` coroutines, each with one
    call outstanding): it needs far less CPU per call than 32 client threads would,
    and the client shares this machine's cores with the server being measured.
    """
    return asyncio.run(_drive(address, requests, concurrency))


async def _drive(address: str, requests: int, concurrency: int) -> tuple[int, float, list[float]]:
    payloads = [digits_request(seed) for seed in range(64)]
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))

    async with grpc.aio.insecure_channel(address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        async def worker() -> None:
            nonlocal errors
            for index in remaining:
                start = time.perf_counter()
                try:
                    await stub.Predict(payloads[index % len(payloads)], timeout=30)
                except grpc.RpcError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return errors, time.perf_counter() - started, latencies


# Identical for both servers. One TensorFlow thread per op and per graph: on 2 cores
# this is the fastest setting for the unbatched server too (measured: ~1440 req/s
# against ~1000-1300 with TensorFlow's defaults), so the baseline is not handicapped.
COMMON_FLAGS = (
    "--model_name=digits",
    f"--model_base_path={DIGITS}",
    "--file_system_poll_wait_seconds=0",
    "--tensorflow_intra_op_parallelism=1",
    "--tensorflow_inter_op_parallelism=1",
)


def measure(
    servers: dict[str, str], requests: int, rounds: int, concurrency: int, warmup: int
) -> list[Run]:
    """Alternate rounds between the servers (both already running), so slow drifts in the
    machine's speed affect both modes alike."""
    for address in servers.values():
        drive(address, warmup, concurrency)
    per_round = max(1, requests // rounds)
    results: dict[str, list[tuple[int, float, list[float]]]] = {mode: [] for mode in servers}
    for _ in range(rounds):
        for mode, address in servers.items():
            results[mode].append(drive(address, per_round, concurrency))
    runs = []
    for mode, parts in results.items():
        run = Run(
            mode=mode,
            requests=per_round * rounds,
            errors=sum(errors for errors, _, _ in parts),
            seconds=sum(seconds for _, seconds, _ in parts),
            latencies_ms=tuple(latency for _, _, latencies in parts for latency in latencies),
            round_throughputs=tuple(per_round / seconds for _, seconds, _ in parts),
        )
        print(
            f"{mode:>12}: {run.throughput:8.1f} req/s  p50 {run.percentile(50):6.1f} ms  "
            f"p95 {run.percentile(95):6.1f} ms  errors {run.errors}  rounds "
            + " ".join(f"{t:.0f}" for t in run.round_throughputs),
            flush=True,
        )
        runs.append(run)
    return runs


def render(runs: list[Run], parameters: Path, concurrency: int, rounds: int) -> str:
    plain, batched = runs
    speedup = batched.throughput / plain.throughput
    lines = [
        "# Dynamic batching in modelserver",
        "",
        f"Recorded {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `bench/bench_batching.py` "
        f"on {os.cpu_count()} CPU cores ({platform.machine()}, "
        f"Python {platform.python_version()}).",
        "",
        f"Model `digits` (conv net, input 1x28x28x1 float per call), concurrency {concurrency} "
        "(asyncio gRPC client on one channel, same machine), after a warm-up. Both servers run "
        f"side by side and the load alternates between them in {rounds} rounds. Server flags "
        f"for both: `{' '.join(COMMON_FLAGS[2:])} --grpc_max_threads={concurrency}`. The "
        "machine is shared (other test suites may run meanwhile); the per-round figures show "
        "how much its speed varied.",
        "",
        "| mode | requests | errors | throughput (req/s) | per round (req/s) | p50 (ms) "
        "| p95 (ms) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for run in runs:
        per_round = ", ".join(f"{t:.0f}" for t in run.round_throughputs)
        lines.append(
            f"| {run.mode} | {run.requests} | {run.errors} | {run.throughput:.1f} | {per_round} | "
            f"{run.percentile(50):.1f} | {run.percentile(95):.1f} |"
        )
    verdict = "meets" if speedup >= BUDGET else "MISSES"
    lines += [
        "",
        f"Speed-up with batching: **{speedup:.2f}x** ({verdict} the >= {BUDGET:.0f}x budget).",
        "",
        f"Batching parameters (`{parameters.relative_to(ROOT)}`):",
        "",
        "```",
        parameters.read_text().strip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batching-parameters", type=Path, default=DEFAULT_PARAMETERS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    if not (DIGITS / "1" / "saved_model.pb").exists():
        parser.error(f"{DIGITS} has no exported version; run `python models/export.py` first")

    parameters = options.batching_parameters.resolve()
    # Enough handler threads that every client call is in the server at once in both
    # modes; with batching, a batch can only merge calls that are waiting in the server.
    threads = f"--grpc_max_threads={options.concurrency}"
    batching = ["--enable_batching", f"--batching_parameters_file={parameters}"]
    with (
        model_server(args=[*COMMON_FLAGS, threads]) as plain,
        model_server(args=[*COMMON_FLAGS, threads, *batching]) as batched,
    ):
        runs = measure(
            {"no batching": plain.address, "batching": batched.address},
            options.requests,
            options.rounds,
            options.concurrency,
            options.warmup,
        )
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(render(runs, parameters, options.concurrency, options.rounds))
    print(f"wrote {options.output}")
    return 0 if all(run.errors == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
