"""The set-up of TF Serving's own tests (tensorflow_model_server_test_base.py), for our server.

- The test models, as TensorflowModelServerTestBase names them, from models/testdata/
  (written by models/testdata/export.py; README.md there lists what each one answers).
- ModelServers.run, TF Serving's RunServer: one model server per distinct set of
  arguments, started on free ports on first use and kept for the test session.
- failed_start: run a server that is expected not to start, and return its output.

Tests of other parts of TF Serving's suite (its REST API, for one) can reuse these.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.processes import ROOT, ModelServerProcess, free_port, model_server

TESTDATA = ROOT / "models" / "testdata"
# TF Serving's saved_model_half_plus_two_cpu: a TF1 graph, version 123.
HALF_PLUS_TWO = TESTDATA / "half_plus_two"
# saved_model_half_plus_two_tf2_cpu: a TF2 tf.Module, every signature of the predict method.
HALF_PLUS_TWO_TF2 = TESTDATA / "half_plus_two_tf2"
# saved_model_half_plus_three: y = 0.5 x + 3 in TensorFlow 1.0's graph dialect.
HALF_PLUS_THREE = TESTDATA / "half_plus_three"
# saved_model_half_plus_two_2_versions: 123 (0.5 x + 2) and 124 (0.5 x + 3).
HALF_PLUS_TWO_2_VERSIONS = TESTDATA / "half_plus_two_2_versions"
# half_plus_two counting its session runs ("runs" signature), with a warmup file of one
# predict, classify, regress and multi-inference request.
HALF_PLUS_TWO_WARMUP = TESTDATA / "half_plus_two_warmup"

GOOD_MODEL_CONFIG = """
model_config_list: {{
  config: {{
    name: "half_plus_two",
    base_path: "{half_plus_two}",
    model_platform: "tensorflow"
  }},
  config: {{
    name: "half_plus_three",
    base_path: "{half_plus_three}",
    model_platform: "tensorflow"
  }}
}}
"""
BAD_MODEL_CONFIG = "improperly formatted file"


def model_version(model_path: Path) -> int:
    """TF Serving's _GetModelVersion: the one version folder's number."""
    return int(sorted(os.listdir(model_path))[0])


class ModelServers:
    """Model servers by their arguments, as TensorflowModelServerTestBase.RunServer keeps
    them: a test asking for a server with the same arguments gets the running one."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._servers: dict[tuple, ModelServerProcess] = {}
        self._logs: dict[tuple, Path] = {}
        self._stack = contextlib.ExitStack()

    def run(
        self,
        model_name: str | None,
        model_path: Path | None,
        *,
        model_config_file: Path | None = None,
        model_config_file_poll_period: int | None = None,
        args: Sequence[str] = (),
    ) -> ModelServerProcess:
        key = (model_name, model_path, model_config_file, model_config_file_poll_period, *args)
        if key not in self._servers:
            command = list(_model_args(model_name, model_path, model_config_file))
            if model_config_file_poll_period is not None:
                command.append(
                    f"--model_config_file_poll_wait_seconds={model_config_file_poll_period}"
                )
            command.extend(args)
            log = self._workdir / f"server-{len(self._servers)}.log"
            self._servers[key] = self._stack.enter_context(model_server(args=command, log_path=log))
            self._logs[key] = log
        return self._servers[key]

    def log_of(self, server: ModelServerProcess) -> str:
        """Everything the server has written so far (stdout and stderr)."""
        for key, running in self._servers.items():
            if running is server:
                return self._logs[key].read_text()
        raise KeyError(server)

    def close(self) -> None:
        # Signal every server first, so they shut down side by side, not one after another.
        for server in self._servers.values():
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        self._stack.close()


def _model_args(
    model_name: str | None, model_path: Path | None, model_config_file: Path | None
) -> Sequence[str]:
    if model_config_file is not None:
        return [f"--model_config_file={model_config_file}"]
    if model_path is None:
        raise ValueError("Both model_config_file and model_path cannot be empty!")
    return [f"--model_name={model_name}", f"--model_base_path={model_path}"]


def failed_start(
    model_name: str | None,
    model_path: Path | None,
    *,
    model_config_file: Path | None = None,
    args: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """Run a model server that should refuse to start; return its exit code and output."""
    command = [
        sys.executable,
        "-m",
        "modelserver",
        f"--port={free_port()}",
        *_model_args(model_name, model_path, model_config_file),
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
