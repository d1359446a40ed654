"""Quiet start: TensorFlow's known start-up noise is filtered out; everything else shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from tests.support.processes import ROOT

ERROR_LEVEL = re.compile(
    r"^[EF]\d{4} "  # TensorFlow's C++ (absl) error and fatal lines
    r"|^\d{4}-\d\d-\d\d [\d:,]+ [EC] "  # the server's own error and critical lines
)


def test_a_healthy_start_prints_nothing_at_error_level(server, models_dir):
    lines = (models_dir / "server.log").read_text().splitlines()

    assert [line for line in lines if ERROR_LEVEL.search(line)] == []
    assert not any("absl::InitializeLog" in line or "cuInit" in line for line in lines)
    assert any(re.search(r"I modelserver\] TensorFlow \S+, devices: CPU:0", line) for line in lines)


# Writes TensorFlow's known noise and a line that is not, straight to file descriptor 2 as
# TensorFlow's C++ code does, then dies without any clean-up.
NATIVE_OUTPUT = textwrap.dedent(
    r"""
    import os
    from modelserver.startup_noise import filtered_native_stderr

    with filtered_native_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\n")
        os.write(2, b"E0000 00:00:1796221889.452879     886 cuda_platform.cc:52] failed call "
                    b"to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR "
                    b"(303)\n")
        os.write(2, b"E0000 00:00:1796221889.452999     886 some_op.cc:12] a real error\n")
        os._exit(3)
    """
)


def test_other_native_output_still_shows_even_if_the_process_dies_at_once():
    completed = subprocess.run(
        [sys.executable, "-c", NATIVE_OUTPUT],
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 3
    assert completed.stderr == (
        "E0000 00:00:1796221889.452999     886 some_op.cc:12] a real error\n"
    )


def test_tf_cpp_min_log_level_0_shows_everything():
    completed = subprocess.run(
        [sys.executable, "-c", NATIVE_OUTPUT],
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert len(completed.stderr.splitlines()) == 3
