"""What tracing and payload logging cost while they are off: the request path side by side
with the code before them.

    python -m bench.observability_off [--baseline REV] [--rounds 5] [--requests 2000]

Each variant runs in a fresh process against the same embedded model server: a user
with a grant and a JWT, then ``--requests`` predicts of ``half_plus_two`` through Django's
full middleware and DRF stack (the test client: no HTTP server, so only the gateway's own
code is timed), measuring the process's CPU time and the wall time per request. Variants,
interleaved round by round so machine noise falls on all of them alike:

- ``baseline``: REV (default: where this branch left main), checked out in a temporary
  git worktree;
- ``off``: this checkout, tracing off (no OTEL_TRACES_EXPORTER), no payload policy;
- ``policy, not sampled``: a payload policy for the model at sample rate 0 (the policy
  lookup and the sampling decision run, nothing is logged);
- ``tracing on``: OTEL_TRACES_EXPORTER=console into /dev/null, for scale.

The result is each round's median, summarised as the median and the minimum over rounds
(the minimum is the least disturbed by other work on a shared machine). A second table
times each hook the request path gained, alone and off, in a loop: what the end-to-end
figures cannot resolve under noise of a few hundred microseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from serving_project.processes import ROOT, model_server

RESULTS = ROOT / "bench" / "results" / "observability_off.md"

# Runs inside the checkout under test; uses only what both versions of the project have.
WORKER = r"""
import json, os, statistics, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serving_project.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
from predictions.access.tokens import GatewayTokenObtainPairSerializer
from predictions.models import ModelGrant
user = User.objects.create_user("bench")
ModelGrant.objects.create(user=user, model_name="*")
if os.environ.get("BENCH_POLICY"):
    from predictions.models import PayloadLoggingPolicy
    PayloadLoggingPolicy.objects.create(
        model_name="half_plus_two", sample_rate=0.0, errors="never"
    )
token = str(GatewayTokenObtainPairSerializer.get_token(user).access_token)
client = Client(HTTP_AUTHORIZATION="Bearer " + token)
body = b'{"instances": [1.0, 2.0, 5.0]}'
requests = int(sys.argv[1])
path = "/v1/models/half_plus_two:predict"
def predict():
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 200, response.content
for _ in range(200):
    predict()
cpu, wall = [], []
for _ in range(requests):
    started_cpu, started = time.process_time(), time.perf_counter()
    predict()
    cpu.append(time.process_time() - started_cpu)
    wall.append(time.perf_counter() - started)
result = {"cpu_us": statistics.median(cpu) * 1e6, "wall_us": statistics.median(wall) * 1e6}
print("BENCH_RESULT", json.dumps(result), flush=True)
"""


# The hooks on the request path, timed off (this checkout only).
HOOKS = r"""
import json, os, timeit
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serving_project.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from predictions.access.callers import Caller
from predictions.context import RequestContext
from predictions.payloads import policies
from predictions.payloads.capture import logged_exchange
from tfserving import tracing
from tfserving.models import ModelRef
context, ref = RequestContext(Caller(1, "bench"), "r1"), ModelRef("half_plus_two")
policies.policy_for("warm", None, None)
plain = lambda context, ref, body: {}
wrapped = logged_exchange(plain)
def span():
    with tracing.span("validate"):
        pass
hooks = {
    "tracing.span() (validate, authenticate, audit: 3 per request)": span,
    "tracing.current_trace_id() (audit entry)": tracing.current_trace_id,
    "@logged_exchange around a service, no policy": lambda: wrapped(context, ref, None),
    "the service itself without it (for reference)": lambda: plain(context, ref, None),
}
number = 200_000
result = {name: min(timeit.repeat(f, number=number, repeat=5)) / number * 1e9
          for name, f in hooks.items()}
print("BENCH_RESULT", json.dumps(result), flush=True)
"""


@contextlib.contextmanager
def baseline_checkout(revision: str) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(directory), revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield directory
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(directory)], cwd=ROOT, check=False
        )


def run_variant(
    checkout: Path,
    address: str,
    requests: int,
    extra: Mapping[str, str],
    scratch: Path,
    code: str = WORKER,
) -> dict[str, float]:
    database = scratch / f"bench-{os.getpid()}-{len(list(scratch.iterdir()))}.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "PAYLOAD_", "PROMETHEUS_MULTIPROC_DIR"))
    }
    env.update(
        {
            "PYTHONPATH": str(checkout),
            "DATABASE_URL": f"sqlite:///{database}",
            "TFSERVING_ADDRESS": address,
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(requests)],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    [line] = [line for line in result.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    return json.loads(line.removeprefix("BENCH_RESULT "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="", help="git revision (default: merge-base main)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    revision = (
        args.baseline
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    variants = {
        "baseline": {},
        "off": {},
        "policy, not sampled": {"BENCH_POLICY": "1"},
        "tracing on": {"OTEL_TRACES_EXPORTER": "console"},
    }
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    with (
        baseline_checkout(revision) as base,
        model_server() as server,
        tempfile.TemporaryDirectory() as scratch,
    ):
        for round_number in range(args.rounds):
            for name, extra in variants.items():
                checkout = base if name == "baseline" else ROOT
                figures[name].append(
                    run_variant(checkout, server.address, args.requests, extra, Path(scratch))
                )
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        hooks = run_variant(ROOT, server.address, 0, {}, Path(scratch), code=HOOKS)
    report = render(revision, args, figures, hooks)
    RESULTS.write_text(report)
    print(report)
    return 0


def render(revision: str, args: argparse.Namespace, figures: dict, hooks: dict) -> str:
    base = statistics.median(f["cpu_us"] for f in figures["baseline"])
    base_min = min(f["cpu_us"] for f in figures["baseline"])
    lines = [
        "# Tracing and payload logging while off: the request path side by side",
        "",
        f"`python -m bench.observability_off` ({args.rounds} rounds x {args.requests} predicts "
        f"of half_plus_two per variant, Django's test client, the embedded model server); "
        f"baseline `{revision[:12]}`.",
        "",
        "| variant | CPU per request, µs: median (rounds' range) | vs baseline | minimum "
        "| vs baseline | wall, µs (median) |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in figures.items():
        cpu = [run["cpu_us"] for run in runs]
        wall = statistics.median(run["wall_us"] for run in runs)
        median = statistics.median(cpu)
        lines.append(
            f"| {name} | {median:.0f} ({min(cpu):.0f}-{max(cpu):.0f}) | {median / base:.3f}x "
            f"| {min(cpu):.0f} | {min(cpu) / base_min:.3f}x | {wall:.0f} |"
        )
    lines += ["", "| hook, off | ns per call |", "|---|---|"]
    lines += [f"| {name} | {ns:.0f} |" for name, ns in hooks.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
