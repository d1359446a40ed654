"""Loading one version as TF Serving's SavedModel loader does: a session, then warmup.

The manager calls a VersionLoader for every version it loads (and again for each retry),
so the version only becomes AVAILABLE once its warmup requests have run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tensorflow.core.protobuf import config_pb2

from modelserver.inference import RunOptions
from modelserver.servable import Servable
from modelserver.warmup import warm_up


@dataclass(frozen=True)
class VersionLoader:
    """``--enable_model_warmup``, ``--num_request_iterations_for_warmup`` and the session
    options, applied to each version loaded."""

    session_config: config_pb2.ConfigProto | None = None
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 0
    method_name_check: bool = False

    def __call__(self, name: str, version: int, path: Path) -> Servable:
        servable = Servable(name, version, path, self.session_config)
        if self.enable_model_warmup:
            try:
                # Unbatched: the requests run one after another, so batching could only add
                # its timeout to each of them.
                warm_up(
                    servable,
                    RunOptions(method_name_check=self.method_name_check),
                    self.num_request_iterations_for_warmup,
                )
            except BaseException:
                servable.close()
                raise
        return servable
