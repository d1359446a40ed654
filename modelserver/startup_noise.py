"""Quiet start: TensorFlow's start-up output, filtered to what matters.

Importing TensorFlow and finding its devices prints lines that TF_CPP_MIN_LOG_LEVEL cannot
hide (they are written before absl logging is initialised) and, on a machine without a
GPU driver, an error-level "failed call to cuInit" that reads like a failure although the
server is fine on the CPU. While TensorFlow starts, native stderr therefore goes through a
small filter process that drops exactly these known lines and passes every other line on
at once, so a real error still shows, even one printed just before the server dies (the
filter drains the pipe until it closes). Afterwards stderr is the terminal's again, and the
server logs the devices TensorFlow found instead.

``TF_CPP_MIN_LOG_LEVEL=0`` (TensorFlow's "show everything") turns the filter off.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

# An absl log line: severity, date, time, thread, file:line] message.
_PREFIX = r"[IWEF]\d{4} \S+\s+\d+ [\w.]+:\d+\] "
NOISE = (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    _PREFIX + r"oneDNN custom operations are on\. .*",
    _PREFIX + r"Could not find cuda drivers on your machine, GPU will not be used\.",
    _PREFIX + r"failed call to cuInit: .*",
)

# Runs in the filter process (python -S: no site packages, starts in milliseconds). It
# ignores SIGINT and SIGTERM, so a Ctrl-C meant for the server cannot cut its output.
_FILTER_PROGRAM = """
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
noise = re.compile("|".join("(?:%s)" % p for p in sys.argv[1:]))
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    if not noise.fullmatch(line.rstrip(b"\\r\\n").decode("utf-8", "replace")):
        out.write(line)
        out.flush()
"""


def _wanted() -> bool:
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0").strip() not in ("", "0")


@contextlib.contextmanager
def filtered_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 through the noise filter for the duration of the block."""
    if not _wanted():
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    try:
        filter_process = subprocess.Popen(
            [sys.executable, "-S", "-c", _FILTER_PROGRAM, *NOISE],
            stdin=subprocess.PIPE,
            stdout=terminal,
            stderr=terminal,
        )
    except OSError:
        os.close(terminal)
        yield  # no filter is better than no server
        return
    assert filter_process.stdin is not None
    os.dup2(filter_process.stdin.fileno(), 2)
    filter_process.stdin.close()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # closes the pipe's last write end: the filter drains and exits
        os.close(terminal)
        filter_process.wait()
