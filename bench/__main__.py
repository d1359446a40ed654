"""python -m bench [--quick] [--profile] [--skip-codec] [--skip-batching]

Runs every benchmark of the performance budgets in one go and writes bench/results/:
README.md (the budgets table and every figure, with the machine), the latency
plot, codec.md (bench_codec.py) and batching.md (bench_batching.py). A full run
takes a few minutes on 2 cores; --quick shortens every measurement (to check the
harness, not to record results).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench import gateway_bench, report, worker_profile  # noqa: E402
from bench.machine import load_average, this_machine  # noqa: E402
from bench.report import BatchingSummary, CodecRow  # noqa: E402

RESULTS = ROOT / "bench" / "results"

FULL = gateway_bench.Plan(
    concurrencies=(1, 8, 32), duration=4.0, warmup=1.0, rounds=2, cold_starts=3, profile=False
)
QUICK = gateway_bench.Plan(
    concurrencies=(1, 8, 32),
    duration=1.5,
    warmup=0.5,
    rounds=1,
    cold_starts=1,
    profile=False,
    app_cost_requests=600,
)


def run_batching(quick: bool) -> BatchingSummary:
    """bench_batching.py's measurement (two model servers, batching on and off)."""
    from bench import bench_batching
    from serving_project.processes import model_server

    requests, rounds, warmup, concurrency = (1600, 2, 100, 32) if quick else (8000, 4, 300, 32)
    parameters = bench_batching.DEFAULT_PARAMETERS
    threads = f"--grpc_max_threads={concurrency}"
    batching = ["--enable_batching", f"--batching_parameters_file={parameters}"]
    with (
        model_server(args=[*bench_batching.COMMON_FLAGS, threads]) as plain,
        model_server(args=[*bench_batching.COMMON_FLAGS, threads, *batching]) as batched,
    ):
        runs = bench_batching.measure(
            {"no batching": plain.address, "batching": batched.address},
            requests,
            rounds,
            concurrency,
            warmup,
        )
    bench_batching.RESULTS.write_text(bench_batching.render(runs, parameters, concurrency, rounds))
    unbatched, with_batching = runs
    return BatchingSummary(
        plain_throughput=unbatched.throughput,
        batched_throughput=with_batching.throughput,
        errors=unbatched.errors + with_batching.errors,
        budget=bench_batching.BUDGET,
    )


def run_codec(quick: bool) -> list[CodecRow]:
    """bench_codec.py's measurement; imported late because it imports TensorFlow."""
    from bench import bench_codec

    repeats = 5 if quick else 30
    results = bench_codec.run(repeats)
    bench_codec.write_report(results, bench_codec.decode_components(repeats), repeats)
    rows = []
    for case, ours, naive in results:
        mbps, speedup = ours.megabytes_per_second, naive.median_seconds / ours.median_seconds
        if case.kind == "decode":
            budget = (
                f">= {bench_codec.DECODE_BUDGET_MBPS:.0f} MB/s and "
                f">= {bench_codec.DECODE_BUDGET_SPEEDUP:.0f}x"
            )
            passed = (
                mbps >= bench_codec.DECODE_BUDGET_MBPS
                and speedup >= bench_codec.DECODE_BUDGET_SPEEDUP
            )
        elif case.kind == "strings":
            budget = f">= {bench_codec.DECODE_BUDGET_MBPS:.0f} MB/s"
            passed = mbps >= bench_codec.DECODE_BUDGET_MBPS
        else:
            budget = f">= {bench_codec.ENCODE_BUDGET_MBPS:.0f} MB/s"
            passed = mbps >= bench_codec.ENCODE_BUDGET_MBPS
        rows.append(CodecRow(case.name, mbps, speedup, budget, passed))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="short measurements (a minute)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile the gateway workers with py-spy"
    )
    parser.add_argument("--skip-codec", action="store_true")
    parser.add_argument("--skip-batching", action="store_true")
    parser.add_argument(
        "--workdir", type=Path, help="keep the database and logs here (default: a temporary dir)"
    )
    options = parser.parse_args(argv)
    if options.profile and worker_profile.py_spy() is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    plan = QUICK if options.quick else FULL
    plan = gateway_bench.Plan(**{**plan.__dict__, "profile": options.profile})

    started, clock, load_before = datetime.now(UTC), time.monotonic(), load_average()
    machine = this_machine()
    print(f"Machine: {machine.describe()}", flush=True)
    if options.workdir is not None:
        options.workdir.mkdir(parents=True, exist_ok=True)
    gateway = gateway_bench.run(plan, options.workdir)
    batching = None if options.skip_batching else run_batching(options.quick)
    codec = None if options.skip_codec else run_codec(options.quick)
    run = report.Run(
        command="python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        quick=options.quick,
        started=started,
        seconds=time.monotonic() - clock,
        machine=machine,
        load_before=load_before,
        load_after=load_average(),
        gateway=gateway,
        codec=codec,
        batching=batching,
    )
    readme = report.write(run, RESULTS)
    print(f"\nwrote {readme.relative_to(ROOT)}\n")
    for what, measured, budget, mark in report.budget_rows(run):
        print(f"{mark.strip('*'):7}  {what}: {measured} (budget {budget})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
