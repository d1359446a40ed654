"""One loaded version of a SavedModel: a TensorFlow session over its graph, as TF Serving has.

TF Serving loads every SavedModel with TensorFlow's v1 loader (LoadSavedModel) into a
session and runs a signature by feeding and fetching its tensors by name. Doing the same
here, rather than calling the signature functions of tf.saved_model.load, is what makes
the server behave like TF Serving on any SavedModel:

- graphs written by TensorFlow 1.x load (the TF2 loader re-imports them and fails on
  graphs older TensorFlow versions wrote, e.g. TF 1.0's ParseExample);
- inputs are not checked against the signature's shapes (a [1] tensor fed to a [-1,1]
  input runs, as in TF Serving; a graph that cannot take it fails in the graph);
- dtype mismatches and failures inside the graph come back with the session's own
  status code and message ("Expects arg[0] to be float but string is provided").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
from tensorflow.python.client import pywrap_tf_session
from tensorflow.python.saved_model import loader_impl

from modelserver import tracing

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
SAVED_MODEL_FILENAMES = ("saved_model.pb", "saved_model.pbtxt")
# The tensors a session run feeds and fetches: what TF Serving's batching groups runs by.
TensorSignature = tuple[frozenset[str], frozenset[str]]


def _tensor_signature(signature: meta_graph_pb2.SignatureDef) -> TensorSignature:
    return (
        frozenset(info.name for info in signature.inputs.values()),
        frozenset(info.name for info in signature.outputs.values()),
    )


def saved_model_file(version_dir: Path) -> Path | None:
    """The SavedModel protobuf of a version folder, or None while it is not written yet."""
    for filename in SAVED_MODEL_FILENAMES:
        candidate = version_dir / filename
        if candidate.is_file():
            return candidate
    return None


def _saved_model_loader(path: Path) -> loader_impl.SavedModelLoader:
    """TensorFlow's Python v1 loader for a version folder, failing with the texts of its C++
    loader (tensorflow/cc/saved_model/reader.cc), which are what TF Serving reports."""
    file = saved_model_file(path)
    if file is None:
        raise tf.errors.NotFoundError(
            None,
            None,
            "Could not find SavedModel .pb or .pbtxt at supplied export directory path: "
            f"{path}. Check that the directory exists and that you have the right permissions "
            "for accessing it.",
        )
    try:
        loader = loader_impl.SavedModelLoader(str(path))
        meta_graphs = loader.saved_model.meta_graphs  # parsed here, on first use
    except OSError as error:
        kind = "text" if file.suffix == ".pbtxt" else "binary"
        raise tf.errors.DataLossError(None, None, f"Can't parse {file} as {kind} proto") from error
    if not any(set(meta_graph.meta_info_def.tags) == {SERVE_TAG} for meta_graph in meta_graphs):
        raise tf.errors.NotFoundError(
            None,
            None,
            f"Could not find meta graph def matching supplied tags: {{ {SERVE_TAG} }}. To inspect "
            "available tag-sets in the SavedModel, please use the SavedModel CLI: "
            "`saved_model_cli`",
        )
    return loader


def session_config(intra_op_threads: int = 0, inter_op_threads: int = 0) -> config_pb2.ConfigProto:
    """The session options TF Serving builds from --tensorflow_*_parallelism (0: TF decides)."""
    return config_pb2.ConfigProto(
        intra_op_parallelism_threads=intra_op_threads,
        inter_op_parallelism_threads=inter_op_threads,
    )


class Servable:
    """A loaded (model name, version): its session, signatures and the version's folder."""

    def __init__(
        self, name: str, version: int, path: Path, config: config_pb2.ConfigProto | None = None
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        loader = _saved_model_loader(path)
        graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=graph, config=config)
        try:
            # The loader restores the variables and runs the main (or legacy init) op, with
            # the asset files fed in, exactly as TF Serving's LoadSavedModel does.
            meta_graph = loader.load(self._session, [SERVE_TAG])
        except BaseException:
            self._session.close()
            raise
        self._graph = graph
        # Kept as protos: GetModelMetadata returns them verbatim, as TF Serving does.
        self.signature_defs: Mapping[str, meta_graph_pb2.SignatureDef] = dict(
            meta_graph.signature_def
        )
        self._signature_keys: dict[TensorSignature, str] = {}
        for key in sorted(self.signature_defs):
            self._signature_keys.setdefault(_tensor_signature(self.signature_defs[key]), key)
        self._endpoints: dict[tuple[str, bool], object] = {}

    def _endpoint(self, tensor_name: str, feed: bool) -> object:
        """The C-level handle of a graph tensor ("op:index"), looked up once per name.

        A name the graph lacks fails with the text TensorFlow's session gives for it
        (tensorflow/core/graph/subgraph.cc), since the handle cannot even be built.
        """
        key = (tensor_name, feed)
        endpoint = self._endpoints.get(key)
        if endpoint is not None:
            return endpoint
        op_name, _, index_text = tensor_name.partition(":")
        index = int(index_text) if index_text.isdigit() else 0
        try:
            operation = self._graph.get_operation_by_name(op_name)
        except (KeyError, ValueError):
            if feed:
                raise tf.errors.NotFoundError(
                    None, None, f"FeedInputs: unable to find feed output {tensor_name}"
                ) from None
            raise tf.errors.NotFoundError(
                None, None, f"FetchOutputs node {tensor_name}: not found"
            ) from None
        outputs = len(operation.outputs)
        if not feed and outputs == 0:
            raise tf.errors.InvalidArgumentError(
                None,
                None,
                f"Tried to fetch data for '{tensor_name}', which produces no output.  To run "
                f"to a node but not fetch any data, pass '{tensor_name}' as an argument to the "
                "'target_node_names' argument of the Session::Run API.",
            )
        if index >= outputs:
            raise tf.errors.InvalidArgumentError(
                None,
                None,
                f"FeedInputs: {tensor_name} should have output index < {outputs}, not {index}"
                if feed
                else f"FetchOutputs {tensor_name}: output index too large, must be < {outputs}",
            )
        endpoint = self._endpoints[key] = operation.outputs[index]._as_tf_output()
        return endpoint

    @tracing.traced_run
    def run(self, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]) -> dict[str, np.ndarray]:
        """One session run: feed arrays to tensors by name, return the fetched tensors.

        Nothing is checked or converted on the way in (Session.run would check shapes and
        cast dtypes); TensorFlow's session does what TF Serving's session does.
        """
        feed_dict = {self._endpoint(name, feed=True): value for name, value in feeds.items()}
        fetch_list = [self._endpoint(name, feed=False) for name in fetches]
        results = pywrap_tf_session.TF_SessionRun_wrapper(
            self._session._session, None, feed_dict, fetch_list, [], None
        )
        return dict(zip(fetches, results, strict=True))

    def signature_key_for(self, feeds: Iterable[str], fetches: Iterable[str]) -> str | None:
        """A signature that feeds and fetches exactly these tensors, for log lines."""
        return self._signature_keys.get((frozenset(feeds), frozenset(fetches)))

    def close(self) -> None:
        """Release the session now (otherwise it goes when the last request drops the
        servable, which is what happens on unload)."""
        self._session.close()
