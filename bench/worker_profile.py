"""Where a gateway worker's CPU goes: py-spy samples of the gunicorn workers under load.

py-spy attaches from outside (no change to the gateway), samples every worker
thread that holds the GIL (``--gil``: the Python CPU time, not threads waiting on
gRPC or sockets), and writes collapsed stacks. ``by_step`` attributes each
sample to the innermost frame that names a known step of a request (JWT check,
codec, gRPC call, audit, ...) and reports milliseconds per request.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLES_PER_SECOND = 1000


@dataclass(frozen=True)
class Step:
    name: str
    frames: tuple[str, ...] = ()  # a sample inside one of these frames belongs to the step
    leaf: tuple[str, ...] = ()  # ...or whose innermost frame is one of these (own time only)


# Threads other than the request threads, recognised anywhere in the stack.
THREAD_STEPS = (
    Step(
        "audit writer thread (one INSERT or COPY every AUDIT_FLUSH_SECONDS)",
        (r"^AuditWriter\._run ",),
    ),
    Step(
        "gunicorn main loop (accept, poll, hand connections to threads)", (r"^ThreadWorker\.run ",)
    ),
)
# Request threads: each sample goes to the step of its innermost matching frame, so a
# step nested in another (JWT decoding inside DRF's dispatch) is counted once, in itself.
REQUEST_STEPS = (
    Step("URL conf import (a worker's first request after fork)", (r"^<module> \(",)),
    Step(
        "JWT verification (simplejwt, PyJWT)",
        (r"^JWTAuthentication\.", r"^JWTStateless", r"^VerifiedJWTAuthentication\."),
    ),
    Step("grant check (cache lookup)", (r"^authorize \(predictions/access/grants",)),
    Step("throttles", (r"^APIView\.check_throttles ",)),
    Step(
        "request body: parse JSON, validate, build TensorProto",
        (r"^parse_predict_request ", r"^Request\._load_data_and_files ", r"^SignatureCache\."),
    ),
    Step("gRPC Predict call (Python side)", (r"^PredictionClient\.",)),
    Step(
        "render response (codec + orjson)",
        (r"^render_predict_response ", r"^Response\.rendered_content "),
    ),
    Step(
        "audit record on the request thread (build, queue)",
        (
            r"\(predictions/audit/(entry|writer)\.py\)$",
            r"^declared_length \(predictions/api/middleware",
        ),
        (r"^AuditMiddleware\.",),
    ),
    Step(
        "Prometheus metrics",
        (r"\(predictions/operations/metrics\.py\)$", r"\(prometheus_client/"),
        (r"^MetricsMiddleware\.",),
    ),
    Step("URL routing", (r"^BaseHandler\.resolve_request ",)),
    Step("gunicorn access log", (r"^(Access)?Logger\.access ",)),
    Step(
        "gunicorn: HTTP parsing, response writing",
        (r"^ThreadWorker\.handle_request ", r"^ThreadWorker\.handle "),
    ),
    Step("Django middleware and DRF dispatch (the rest)", (r"^WSGIHandler\.__call__ ",)),
)
OTHER = "other"


@dataclass(frozen=True)
class Profile:
    samples: Counter[str]  # collapsed stack -> samples
    requests: int
    seconds: float
    # CPU per request of the gunicorn processes meanwhile, from /proc (every thread,
    # with or without the GIL, user and system).
    measured_cpu_ms: float

    @property
    def total_samples(self) -> int:
        return sum(self.samples.values())

    def ms_per_request(self, samples: int) -> float:
        return samples / SAMPLES_PER_SECOND / self.requests * 1e3


def py_spy() -> str | None:
    """The py-spy executable beside this Python, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_recording(master_pid: int, seconds: float, output: Path) -> subprocess.Popen:
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    return subprocess.Popen(
        [
            executable,
            "record",
            f"--pid={master_pid}",
            "--subprocesses",  # the workers, not the master
            "--gil",
            "--nonblocking",  # do not pause the workers to sample them
            f"--rate={SAMPLES_PER_SECOND}",
            f"--duration={max(1, round(seconds))}",
            "--format=raw",
            f"--output={output}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def read_collapsed(path: Path) -> Counter[str]:
    samples: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            samples[stack] += int(count)
    return samples


def _frames(stack: str) -> list[str]:
    """Frames root first, without py-spy's process entries and line numbers."""
    return [
        re.sub(r":\d+\)$", ")", frame)
        for frame in stack.split(";")
        if not frame.startswith("process ")
    ]


def _matches(patterns: Sequence[str], frame: str) -> bool:
    return any(re.search(pattern, frame) for pattern in patterns)


def _step_of(frames: Sequence[str]) -> str:
    for step in THREAD_STEPS:
        if any(_matches(step.frames, frame) for frame in frames):
            return step.name
    if frames:
        for step in REQUEST_STEPS:
            if _matches(step.leaf, frames[-1]):
                return step.name
    for frame in reversed(frames):
        for step in REQUEST_STEPS:
            if _matches(step.frames, frame):
                return step.name
    return OTHER


def by_step(profile: Profile) -> list[tuple[str, int]]:
    steps: Counter[str] = Counter()
    for stack, count in profile.samples.items():
        steps[_step_of(_frames(stack))] += count
    order = [step.name for step in (*REQUEST_STEPS, *THREAD_STEPS)] + [OTHER]
    return [(name, steps[name]) for name in order if steps[name]]


def hottest_functions(profile: Profile, limit: int = 25) -> list[tuple[str, int, int]]:
    """(function, inclusive samples, own samples), by inclusive samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in profile.samples.items():
        frames = _frames(stack)
        if not frames:
            continue
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    # Thread and gunicorn start-up frames enclose everything: they tell nothing.
    skip = re.compile(
        r"^(Thread\.|_worker |_WorkItem|_run_code |_run_module_as_main |<module> \(gunicorn|"
        r"run \(gunicorn|Arbiter\.|(Base)?Application\.run |(Thread)?Worker\.init_process )"
    )
    rows = [(f, n, own[f]) for f, n in inclusive.most_common() if not skip.search(f)]
    return rows[:limit]


def render(profile: Profile, title: str) -> str:
    total = profile.total_samples
    lines = [
        f"# {title}",
        "",
        f"py-spy --gil --rate {SAMPLES_PER_SECOND}: {total} samples of GIL-holding worker "
        f"threads in {profile.seconds:.1f} s, about {profile.requests} requests, i.e. "
        f"{profile.ms_per_request(total):.2f} ms of sampled Python time per request, while "
        f"/proc counted {profile.measured_cpu_ms:.2f} ms of CPU per request for the gunicorn "
        "processes. The difference is time without the GIL (gRPC's C core, system calls, "
        "GIL hand-overs between threads) plus what py-spy's GIL sampling misses: checked "
        "against a known busy loop, it under-counts short bursts several times over. Read "
        "the shares, not the absolute milliseconds; for costs, compare runs with a step "
        "removed (the audit rows of README.md are one such comparison).",
        "",
        "| step | sampled ms per request | share |",
        "| --- | ---: | ---: |",
    ]
    for step, count in by_step(profile):
        if count / total < 0.005:
            continue  # a step that did not show (the URL conf, once preloaded)
        lines.append(
            f"| {step} | {profile.ms_per_request(count):.3f} | {count / total * 100:.0f}% |"
        )
    lines += [
        "",
        "Hottest functions (inclusive = with callees):",
        "",
        "| function | inclusive ms/request | own ms/request |",
        "| --- | ---: | ---: |",
    ]
    for function, inclusive, own in hottest_functions(profile):
        name = function.replace("|", "\\|")
        lines.append(
            f"| `{name}` | {profile.ms_per_request(inclusive):.3f} "
            f"| {profile.ms_per_request(own):.3f} |"
        )
    return "\n".join(lines) + "\n"
