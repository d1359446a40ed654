"""The web tier's conversion package must not load TensorFlow (2.9 s, ~600 MB per worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tfserving"


def test_importing_every_tfserving_module_does_not_execute_tensorflow():
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
    )
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras'))))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(result.stdout)

    assert "tfserving.client" in modules and "tfserving.codec" in modules
    # Only generated *_pb2 modules (and their empty parent packages) may be registered;
    # the package itself (tensorflow/__init__.py) and tensorflow.python never run.
    assert "tensorflow" not in loaded
    assert not [name for name in loaded if name.startswith("tensorflow.python")]
    assert not [name for name in loaded if name.startswith(("keras", "tf_keras"))]
    leaves = [name for name in loaded if not any(m.startswith(name + ".") for m in loaded)]
    assert leaves and all(name.endswith("_pb2") for name in leaves), leaves


def test_no_module_in_the_package_imports_tensorflow_directly():
    offending = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.lstrip().startswith(("import tensorflow", "from tensorflow"))
    ]

    assert offending == []
