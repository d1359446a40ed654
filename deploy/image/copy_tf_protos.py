"""Copy into an image only the TensorFlow proto modules that tensorflow-serving-api needs.

The generated ``tensorflow_serving`` modules import their messages from
``tensorflow.core...`` (tensor, example, meta graph, config protos). The real
``tensorflow`` wheel weighs about 1.9 GB installed, yet those modules are about
0.3 MB of pure-Python ``*_pb2.py`` files. The gateway image therefore installs
tensorflow-serving-api with ``--no-deps`` and this script copies, from a
throw-away TensorFlow installation in the build stage, exactly the ``*_pb2``
modules reachable from tensorflow-serving-api's imports (followed
transitively), plus empty package ``__init__`` files.

The ``tensorflow/__init__.py`` written here raises ImportError: the web tier
loads the protos without executing it (see tfserving/protos.py),
so any other ``import tensorflow`` in the image fails loudly instead of
half-working.

Usage: copy_tf_protos.py --tensorflow-from DIR --serving-api DIR --to DIR
(each DIR is a site-packages style directory holding the named package).
"""

from __future__ import annotations

import argparse
import ast
import shutil
from collections.abc import Iterable
from pathlib import Path

STUB_INIT = '''"""Only TensorFlow's protocol buffer modules are installed in this image."""

raise ImportError(
    "this image ships only the tensorflow.core *_pb2 modules that "
    "tensorflow-serving-api needs; load them through tfserving.protos"
)
'''


def tensorflow_imports(source_file: Path, site_packages: Path) -> set[str]:
    """Dotted names of the ``tensorflow.*`` modules a generated file imports.

    ``from a.b import c`` names module ``a.b.c`` when that file exists, else
    (``import *`` or a symbol) module ``a.b`` itself.
    """
    tree = ast.parse(source_file.read_text(encoding="utf-8"), filename=str(source_file))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("tensorflow."):
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    is_module = module_path(site_packages, submodule).is_file()
                    modules.add(submodule if is_module else node.module)
        elif isinstance(node, ast.Import):
            modules.update(a.name for a in node.names if a.name.startswith("tensorflow."))
    return modules


def required_proto_modules(tensorflow_from: Path, entry_files: Iterable[Path]) -> set[str]:
    """The transitive closure of ``tensorflow.*`` modules imported by ``entry_files``."""
    pending = set().union(*(tensorflow_imports(path, tensorflow_from) for path in entry_files))
    required: set[str] = set()
    while pending:
        module = pending.pop()
        path = module_path(tensorflow_from, module)
        if not path.is_file():
            raise FileNotFoundError(f"{module} is imported but {path} does not exist")
        required.add(module)
        pending |= tensorflow_imports(path, tensorflow_from) - required
    return required


def module_path(site_packages: Path, module: str) -> Path:
    return site_packages.joinpath(*module.split(".")).with_suffix(".py")


def copy_tensorflow_protos(tensorflow_from: Path, serving_api: Path, target: Path) -> list[Path]:
    """Copy the required proto modules into ``target/tensorflow``; return the copied files."""
    entry_files = sorted((serving_api / "tensorflow_serving").rglob("*_pb2*.py"))
    if not entry_files:
        raise FileNotFoundError(f"no tensorflow_serving *_pb2 modules under {serving_api}")
    copied = []
    for module in sorted(required_proto_modules(tensorflow_from, entry_files)):
        destination = module_path(target, module)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module_path(tensorflow_from, module), destination)
        copied.append(destination)
    package_root = target / "tensorflow"
    for directory in {path.parent for path in copied}:
        while directory != package_root:
            (directory / "__init__.py").touch()
            directory = directory.parent
    (package_root / "__init__.py").write_text(STUB_INIT, encoding="utf-8")
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tensorflow-from", type=Path, required=True)
    parser.add_argument("--serving-api", type=Path, required=True)
    parser.add_argument("--to", type=Path, required=True)
    args = parser.parse_args()
    copied = copy_tensorflow_protos(args.tensorflow_from, args.serving_api, args.to)
    size = sum(path.stat().st_size for path in copied)
    print(f"copied {len(copied)} tensorflow proto modules ({size / 1e6:.2f} MB) to {args.to}")


if __name__ == "__main__":
    main()
