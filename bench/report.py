"""bench/results/README.md (the budgets, every figure, the machine) and the latency plot."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from matplotlib.figure import Figure

from bench.gateway_bench import AUDIT_CONCURRENCY, BARE_DRF, MEMORY_REQUESTS, GatewayResults
from bench.load import LoadResult
from bench.machine import Machine

OVERHEAD_BUDGET_MS = 1.5
# The gateway's CPU per tiny predict against a bare DRF POST view's under the same
# gunicorn settings, and the p50 it adds at concurrency 1 against the direct call's.
FRAMEWORK_RATIO_BUDGET = 1.5
ADDED_P50_RATIO_BUDGET = 1.0
# Throughput at the top concurrency through the gateway against BentoML serving the same
# SavedModel itself (bench/bentoml_peer.py).
PEER_THROUGHPUT_BUDGET = 1.5
RSS_BUDGET_MB = 120.0
START_BUDGET_SECONDS = 1.5
PLOT_NAME = "latency_vs_concurrency.png"


@dataclass(frozen=True)
class CodecRow:
    case: str
    ours_mbps: float
    speedup: float
    budget: str
    passed: bool


@dataclass(frozen=True)
class BatchingSummary:
    plain_throughput: float
    batched_throughput: float
    errors: int
    budget: float

    @property
    def speedup(self) -> float:
        return self.batched_throughput / self.plain_throughput


@dataclass(frozen=True)
class Run:
    command: str
    quick: bool
    started: datetime
    seconds: float
    machine: Machine
    load_before: float
    load_after: float
    gateway: GatewayResults
    codec: Sequence[CodecRow] | None
    batching: BatchingSummary | None


def verdict(passed: bool) -> str:
    return "PASS" if passed else "**MISS**"


def budget_rows(run: Run) -> list[tuple[str, str, str, str]]:
    """(what, measured, budget, verdict) for every performance budget (the README lists them)."""
    gateway = run.gateway
    overhead = gateway.overhead_ms
    direct, through = gateway.result("direct", 1), gateway.result("gateway", 1)
    rss = gateway.memory_after_requests.max_rss_mb
    to_healthz = statistics.median(gateway.start_to_healthz)
    to_predict = statistics.median(gateway.start_to_predict)
    top = max(result.concurrency for result in gateway.comparison)
    at_top = gateway.result("gateway", top)
    gateway_errors = sum(
        r.errors for r in [*gateway.comparison, *gateway.audit] if r.target != "direct"
    )
    tensorflow = (
        gateway.memory_after_requests.tensorflow_files + gateway.memory_after_load.tensorflow_files
    )
    added_ratio = overhead / direct.percentile(50)
    gateway_cpu = gateway.result("audit background (default)", AUDIT_CONCURRENCY)
    bare = gateway.result(BARE_DRF, AUDIT_CONCURRENCY)
    framework_ratio = gateway_cpu.cpu_ms_per_request("gateway") / bare.cpu_ms_per_request("gateway")
    in_process = {cost.name: cost for cost in gateway.app_costs}
    app_ratio = in_process["gateway"].cpu_ms / in_process[BARE_DRF].cpu_ms
    rows = [
        (
            "gateway overhead, p50, concurrency 1 (gateway p50 - direct gRPC p50)",
            f"{overhead:.2f} ms ({through.percentile(50):.2f} - {direct.percentile(50):.2f})",
            f"<= {OVERHEAD_BUDGET_MS} ms",
            verdict(overhead <= OVERHEAD_BUDGET_MS),
        ),
        (
            "p50 the gateway adds at concurrency 1, against the direct gRPC call's p50",
            f"{added_ratio:.2f}x ({overhead:.2f} ms / {direct.percentile(50):.2f} ms)",
            f"<= {ADDED_P50_RATIO_BUDGET:.1f}x",
            verdict(added_ratio <= ADDED_P50_RATIO_BUDGET),
        ),
        (
            f"gateway CPU per tiny predict (JWT, audit), against a bare DRF POST view "
            f"under the same gunicorn settings, concurrency {AUDIT_CONCURRENCY}",
            f"{framework_ratio:.2f}x ({gateway_cpu.cpu_ms_per_request('gateway'):.2f} ms / "
            f"{bare.cpu_ms_per_request('gateway'):.2f} ms)",
            f"<= {FRAMEWORK_RATIO_BUDGET:.1f}x",
            verdict(framework_ratio <= FRAMEWORK_RATIO_BUDGET),
        ),
        (
            "the same, in-process (WSGI app called directly, no gunicorn; bench/app_cost.py)",
            f"{app_ratio:.2f}x ({in_process['gateway'].cpu_ms:.2f} ms / "
            f"{in_process[BARE_DRF].cpu_ms:.2f} ms)",
            "recorded",
            verdict(True),
        ),
        (
            f"web worker RSS after {MEMORY_REQUESTS:,} requests (largest worker)",
            f"{rss:.1f} MB",
            f"<= {RSS_BUDGET_MB:.0f} MB",
            verdict(rss <= RSS_BUDGET_MB),
        ),
        (
            "gunicorn start to first answered request (/healthz), median",
            f"{to_healthz:.2f} s",
            f"<= {START_BUDGET_SECONDS} s",
            verdict(to_healthz <= START_BUDGET_SECONDS),
        ),
        (
            "gunicorn start to first answered predict (JWT, gRPC), median",
            f"{to_predict:.2f} s",
            f"<= {START_BUDGET_SECONDS} s",
            verdict(to_predict <= START_BUDGET_SECONDS),
        ),
        (
            "TensorFlow in gunicorn processes (files mapped whose path has `tensorflow`)",
            ", ".join(sorted(set(tensorflow))) or "none",
            "none",
            verdict(not tensorflow),
        ),
    ]
    for row in run.codec or ():
        rows.append(
            (
                f"codec: {row.case}",
                f"{row.ours_mbps:.0f} MB/s, {row.speedup:.1f}x the naive path",
                row.budget,
                verdict(row.passed),
            )
        )
    rows.append(
        (
            f"throughput at concurrency {top} through the gateway, tiny model",
            f"{at_top.throughput:.0f} req/s; {gateway_errors} error responses in the whole run",
            "recorded; no error responses",
            verdict(gateway_errors == 0),
        )
    )
    peer = gateway.peer_result(top)
    what = (
        f"throughput at concurrency {top} through the gateway (JWT, audit), against BentoML "
        "serving the same SavedModel (no auth)"
    )
    budget = f">= {PEER_THROUGHPUT_BUDGET:.1f}x"
    if peer is None:
        rows.append((what, gateway.peer_note, budget, "SKIPPED"))
    else:
        ratio = at_top.throughput / peer.throughput
        rows.append(
            (
                what,
                f"{ratio:.2f}x ({at_top.throughput:.0f} vs {peer.throughput:.0f} req/s)",
                budget,
                verdict(ratio >= PEER_THROUGHPUT_BUDGET and peer.errors == 0),
            )
        )
    if run.batching is not None:
        batching = run.batching
        rows.append(
            (
                "dynamic batching, concurrency 32, `digits` conv model",
                f"{batching.speedup:.2f}x ({batching.batched_throughput:.0f} vs "
                f"{batching.plain_throughput:.0f} req/s)",
                f">= {batching.budget:.0f}x",
                verdict(batching.speedup >= batching.budget and batching.errors == 0),
            )
        )
    return rows


def _load_table(results: Sequence[LoadResult]) -> list[str]:
    lines = [
        "| path | concurrency | requests | errors | p50 ms | p95 ms | p99 ms | req/s "
        "| client CPU ms/req | gateway CPU ms/req | model server CPU ms/req | other load (cores) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        servers = [
            f"{r.cpu_ms_per_request(group):.2f}" if group in r.server_cpu_seconds else "-"
            for group in ("gateway", "model server")
        ]
        lines.append(
            f"| {r.target} | {r.concurrency} | {r.requests} | {r.errors} | {r.percentile(50):.2f} "
            f"| {r.percentile(95):.2f} | {r.percentile(99):.2f} | {r.throughput:.0f} "
            f"| {r.client_cpu_ms_per_request:.3f} | {servers[0]} | {servers[1]} "
            f"| {r.other_cpu_cores:.2f} |"
        )
    return lines


def _peer_section(gateway: GatewayResults) -> list[str]:
    """BentoML against the gateway, concurrency by concurrency (bench/bentoml_peer.py)."""
    note = gateway.peer_note
    lines = [f"BentoML serving the same SavedModel itself ({note}), in the same rounds:"]
    if not gateway.peer:
        return lines
    lines += [
        "",
        "| concurrency | requests | errors | p50 ms | p99 ms | req/s | BentoML CPU ms/req "
        "| gateway req/s | gateway / BentoML |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for peer in sorted(gateway.peer, key=lambda r: r.concurrency):
        through = gateway.result("gateway", peer.concurrency)
        cpu = next(iter(peer.server_cpu_seconds), None)
        lines.append(
            f"| {peer.concurrency} | {peer.requests} | {peer.errors} | {peer.percentile(50):.2f} "
            f"| {peer.percentile(99):.2f} | {peer.throughput:.0f} "
            f"| {peer.cpu_ms_per_request(cpu) if cpu else float('nan'):.2f} "
            f"| {through.throughput:.0f} | {through.throughput / peer.throughput:.2f}x |"
        )
    return lines


def render(run: Run) -> str:
    gateway = run.gateway
    conf = gateway.gunicorn
    started = run.started.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"`{run.command}`, {started}, {run.seconds / 60:.1f} min"
        + (" (**quick run**: short measurements, for checking the harness)" if run.quick else "")
        + ".",
        "",
        f"Machine: {run.machine.describe()}.",
        "",
        f"1-minute load average {run.load_before:.2f} before and {run.load_after:.2f} after "
        "the run. The model server, the gateway and the load client share these cores; "
        "anything else running meanwhile shows up in the figures.",
        "",
        f"Gateway: gunicorn `{conf['worker_class']}`, {conf['workers']} workers x "
        f"{conf['threads']} threads (serving_project/gunicorn.conf.py), DJANGO_ENV=production "
        "(DEBUG off), SQLite database, local memory cache, access log on. Model server: "
        "`python -m modelserver --model_config_file=models/models.config`. What each figure "
        "means: bench/README.md.",
        "",
        "## Budgets",
        "",
        "| what | measured | budget | verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {what} | {measured} | {budget} | {mark} |"
        for what, measured, budget, mark in budget_rows(run)
    ]
    lines += ["", "## 1. Direct gRPC vs through the gateway (`half_plus_two`, 3 floats)", ""]
    ordered = sorted(gateway.comparison, key=lambda r: (r.concurrency, r.target != "direct"))
    lines += _load_table(ordered)
    lines += [
        "",
        "| concurrency | p50 overhead ms | p99 overhead ms | throughput, gateway / direct |",
    ]
    lines += ["| ---: | ---: | ---: | ---: |"]
    for concurrency in sorted({r.concurrency for r in gateway.comparison}):
        direct, through = (
            gateway.result("direct", concurrency),
            gateway.result("gateway", concurrency),
        )
        lines.append(
            f"| {concurrency} | {through.percentile(50) - direct.percentile(50):.2f} "
            f"| {through.percentile(99) - direct.percentile(99):.2f} "
            f"| {through.throughput / direct.throughput:.0%} |"
        )
    lines += ["", *_peer_section(gateway)]
    lines += [
        "",
        f"![latency and throughput against concurrency]({PLOT_NAME})",
        "",
        "CPU ms/req: CPU seconds used during the measurement by the client process, by the "
        "gunicorn master and workers together, and by the model server, divided by the "
        "requests answered. Other load: cores kept busy meanwhile by anything else on the "
        "machine (from /proc/stat); well above 0 means the row was measured on a busy machine.",
        "",
        "## Load client check",
        "",
        "The same client against a do-nothing HTTP server (`bench/null_server.py`, its "
        "ceiling on this machine) and against the gateway's `/healthz` (no auth, no gRPC):",
        "",
    ]
    lines += _load_table(gateway.calibration)
    null = max(
        (r for r in gateway.calibration if r.target == "null server"), key=lambda r: r.throughput
    )
    busiest = max(
        (r for r in gateway.comparison if r.target == "gateway"), key=lambda r: r.throughput
    )
    share = busiest.client_cpu_seconds / busiest.seconds
    lines += [
        "",
        f"The client reaches {null.throughput:.0f} req/s against the null server, "
        f"{null.throughput / busiest.throughput:.0f}x the gateway's best "
        f"({busiest.throughput:.0f} req/s at concurrency {busiest.concurrency}); while driving "
        f"the gateway it used {busiest.client_cpu_ms_per_request:.3f} ms CPU per request, "
        f"{share:.0%} of one core. The gateway figures are the gateway's, not the client's "
        "(on 2 cores that share still takes CPU the servers could use; see bench/README.md).",
        "",
        "## 2. Start-up and memory",
        "",
        "| measurement | each start (s) | median (s) |",
        "| --- | --- | ---: |",
        f"| gunicorn process started -> first 200 from /healthz | "
        f"{', '.join(f'{s:.3f}' for s in gateway.start_to_healthz)} "
        f"| {statistics.median(gateway.start_to_healthz):.3f} |",
        f"| gunicorn process started -> first 200 from a predict with a JWT | "
        f"{', '.join(f'{s:.3f}' for s in gateway.start_to_predict)} "
        f"| {statistics.median(gateway.start_to_predict):.3f} |",
        "",
    ]
    for title, memory in (
        (f"a fresh gateway after {MEMORY_REQUESTS:,} predictions on one keep-alive connection "
         "(so one worker served them all)", gateway.memory_after_requests),
        (f"the main gateway after the load runs ({memory_requests(gateway):,} predictions over "
         "its workers, which gunicorn recycles after `max_requests`)", gateway.memory_after_load),
    ):  # fmt: skip
        rss = ", ".join(f"{kib * 1024 / 1e6:.1f}" for kib in memory.rss_kib.values())
        lines.append(f"- Worker RSS (MB) in {title}: {rss}.")
    lines += [
        "- TensorFlow in the gunicorn master and workers: "
        + (
            "no mapped file has `tensorflow` in its path (no libtensorflow*, no "
            "_pywrap_tensorflow*); the same check does find gRPC's extension "
            f"(cygrpc: {'yes' if gateway.memory_after_requests.grpc_mapped else 'NO'})."
            if not gateway.memory_after_requests.tensorflow_files
            and not gateway.memory_after_load.tensorflow_files
            else "**mapped**: "
            + ", ".join(
                gateway.memory_after_requests.tensorflow_files
                + gateway.memory_after_load.tensorflow_files
            )
        ),
        "",
    ]
    lines += _codec_section(run)
    lines += _batching_section(run)
    lines += _audit_section(run)
    if gateway.profile_markdown is not None:
        lines += [
            "## Profile",
            "",
            "`python -m bench --profile` wrote [gateway_profile.md](gateway_profile.md) "
            "(py-spy over the gunicorn workers during predictions at concurrency 1).",
            "",
        ]
    return "\n".join(lines)


def memory_requests(gateway: GatewayResults) -> int:
    return gateway.memory_after_load.requests


def _codec_section(run: Run) -> list[str]:
    lines = ["## 3. Codec: JSON <-> TensorProto, 1x224x224x3 float32", ""]
    if run.codec is None:
        return [*lines, "Not run (`--skip-codec`); see [codec.md](codec.md) of an earlier run.", ""]
    lines += [
        "| case | ours MB/s | speed-up vs naive | budget | verdict |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for row in run.codec:
        lines.append(
            f"| {row.case} | {row.ours_mbps:.0f} | {row.speedup:.1f}x | {row.budget} "
            f"| {verdict(row.passed)} |"
        )
    return [*lines, "", "Details, and where the decode time goes: [codec.md](codec.md).", ""]


def _batching_section(run: Run) -> list[str]:
    lines = ["## 4. Model server dynamic batching, concurrency 32, `digits`", ""]
    if run.batching is None:
        return [
            *lines,
            "Not run (`--skip-batching`); see [batching.md](batching.md) of an earlier run.",
            "",
        ]
    batching = run.batching
    return [
        *lines,
        f"{batching.batched_throughput:.0f} req/s with batching, {batching.plain_throughput:.0f} "
        f"without: **{batching.speedup:.2f}x** (budget >= {batching.budget:.0f}x, "
        f"{verdict(batching.speedup >= batching.budget)}); {batching.errors} errors. Per-round "
        "figures, latencies and the batching parameters: [batching.md](batching.md).",
        "",
    ]


def _audit_section(run: Run) -> list[str]:
    audit = run.gateway.audit
    off = next(r for r in audit if r.target == "audit off")
    lines = [
        f"## 5. Audit-record cost and the framework's own, predictions at concurrency "
        f"{AUDIT_CONCURRENCY}",
        "",
        "*background* is the default: the request queues its record and a thread per worker "
        "writes the queue every AUDIT_FLUSH_SECONDS with one statement (COPY on PostgreSQL). "
        "*sync* is AUDIT_SYNC=1 (one INSERT and commit before each response). *off* is the "
        "project's settings without `AuditMiddleware` (`bench/gateway_settings.py`; the "
        "project itself has no off switch, since every request must leave a record). "
        "*bare DRF view* is a DRF "
        "`APIView` answering the same body with the same bytes, computed in Python "
        "(`bench/bare_drf_settings.py`: no middleware, no authentication, DRF's own JSON "
        "parser and renderer, no model server call) under the same gunicorn settings: what "
        "Django, DRF and gunicorn cost by themselves. The four run side by side against one "
        "SQLite database, alternating rounds.",
        "",
        "| audit | requests | errors | req/s | vs off | p50 ms | p99 ms | gateway CPU ms/req "
        "| other load (cores) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in audit:
        lines.append(
            f"| {r.target.removeprefix('audit ')} | {r.requests} | {r.errors} | {r.throughput:.0f} "
            f"| {r.throughput / off.throughput - 1:+.1%} | {r.percentile(50):.2f} "
            f"| {r.percentile(99):.2f} | {r.cpu_ms_per_request('gateway'):.2f} "
            f"| {r.other_cpu_cores:.2f} |"
        )
    return [*lines, ""]


def plot(gateway: GatewayResults, path: Path) -> None:
    # matplotlib's object API: no pyplot state, no display backend needed.
    figure = Figure(figsize=(10, 4))
    latency, throughput = figure.subplots(1, 2)
    for target, color in (("direct", "tab:blue"), ("gateway", "tab:orange")):
        results = sorted(
            (r for r in gateway.comparison if r.target == target), key=lambda r: r.concurrency
        )
        levels = [r.concurrency for r in results]
        label = "direct gRPC" if target == "direct" else "through the gateway (HTTP + JWT)"
        latency.plot(
            levels, [r.percentile(50) for r in results], "o-", color=color, label=f"{label}, p50"
        )
        latency.plot(
            levels, [r.percentile(99) for r in results], "o--", color=color, label=f"{label}, p99"
        )
        throughput.plot(levels, [r.throughput for r in results], "o-", color=color, label=label)
    for axes in (latency, throughput):
        axes.set_xscale("log", base=2)
        axes.set_xticks(levels, [str(level) for level in levels])
        axes.set_xlabel("concurrent requests")
        axes.grid(True, alpha=0.3)
    latency.set_yscale("log")
    latency.set_ylabel("latency (ms, log scale)")
    latency.set_title("Latency, half_plus_two")
    latency.legend(fontsize=7)
    throughput.set_ylabel("requests per second")
    throughput.set_ylim(bottom=0)
    throughput.set_title("Throughput")
    throughput.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})


def write(run: Run, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    plot(run.gateway, directory / PLOT_NAME)
    if run.gateway.profile_markdown is not None:
        (directory / "gateway_profile.md").write_text(run.gateway.profile_markdown)
    readme = directory / "README.md"
    readme.write_text(render(run))
    return readme
