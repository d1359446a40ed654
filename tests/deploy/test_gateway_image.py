"""The gateway image: what the Dockerfile runs, copies and installs.

Without a Docker engine the build cannot run here, so the parts that could break it
are checked one by one: the files it copies pass .dockerignore, its pins match
requirements.txt, and the TensorFlow proto subset it ships is enough for the web tier.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

COPY_TF_PROTOS = ROOT / "deploy" / "image" / "copy_tf_protos.py"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", dockerfile.read_text())
    parsed = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            parsed.append((keyword.upper(), " ".join(arguments.split())))
    return parsed


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    parsed = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    return parsed[last_from:]


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement and not requirement.startswith("-"):
            name, separator, version = requirement.partition("==")
            assert separator, f"{path.name}: {requirement} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_healthcheck_fetches_healthz_on_the_exposed_port() -> None:
    stage = dict(final_stage(ROOT / "Dockerfile"))
    command = json.loads(stage["HEALTHCHECK"].split(" CMD ", 1)[1])

    assert stage["EXPOSE"] == "8000"
    assert command[:2] == ["python", "-c"]
    assert "Request('http://127.0.0.1:8000/healthz', headers={'Host': 'localhost'})" in command[2]


def test_image_runs_gunicorn_with_the_project_config_as_a_non_root_user() -> None:
    stage = final_stage(ROOT / "Dockerfile")
    settings = dict(stage)

    assert json.loads(settings["CMD"]) == [
        "gunicorn",
        "-c",
        "serving_project/gunicorn.conf.py",
        "serving_project.wsgi",
    ]
    assert (ROOT / "serving_project" / "gunicorn.conf.py").is_file()
    assert [arguments for keyword, arguments in stage if keyword == "USER"] == ["10001:10001"]


def test_image_defaults_to_production_mode_listening_on_all_interfaces() -> None:
    environment = dict(final_stage(ROOT / "Dockerfile"))["ENV"]

    assert "DJANGO_ENV=production" in environment.split()
    assert "GATEWAY_BIND=0.0.0.0:8000" in environment.split()


def test_static_files_are_collected_at_build_time() -> None:
    runs = [
        arguments for keyword, arguments in final_stage(ROOT / "Dockerfile") if keyword == "RUN"
    ]

    assert any("python manage.py collectstatic --noinput" in run for run in runs)


def admitted_by_whitelist(dockerignore: Path, source: str) -> bool:
    """Whether a whitelist-style .dockerignore ("*" then "!path" lines) admits ``source``."""
    lines = [line.strip() for line in dockerignore.read_text().splitlines()]
    assert "*" in lines, "expected a whitelist .dockerignore"
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    return any(source == path or source.startswith(f"{path}/") for path in allowed)


def copied_sources(dockerfile: Path) -> list[str]:
    sources = []
    for keyword, arguments in instructions(dockerfile):
        if keyword == "COPY" and not arguments.startswith("--from"):
            sources.extend(path.rstrip("/") for path in arguments.split()[:-1])
    return sources


def test_every_file_the_dockerfile_copies_exists_and_passes_dockerignore() -> None:
    sources = copied_sources(ROOT / "Dockerfile")

    assert "manage.py" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert admitted_by_whitelist(ROOT / ".dockerignore", source), source


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context() -> None:
    for path in (".env", ".venv", ".git", "tests", "var/db.sqlite3", "models/iris/1"):
        assert not admitted_by_whitelist(ROOT / ".dockerignore", path), path


def test_image_requirements_pin_the_versions_of_requirements_txt() -> None:
    project = requirement_pins(ROOT / "requirements.txt")
    gateway = requirement_pins(ROOT / "deploy" / "requirements-gateway.txt")
    protos = requirement_pins(ROOT / "deploy" / "requirements-protos.txt")

    assert sorted(protos) == ["tensorflow", "tensorflow-serving-api"]
    assert set(project) == (set(gateway) & set(project)) | set(protos)
    for name, version in (gateway | protos).items():
        if name in project:
            assert version == project[name], name


DOTTED_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def copied_python_packages(dockerfile: Path) -> list[str]:
    """The project's Python packages a Dockerfile copies (from the build context)."""
    return [
        source for source in copied_sources(dockerfile) if (ROOT / source / "__init__.py").is_file()
    ]


def top_level_modules(files: list[Path]) -> set[str]:
    """Top-level modules the files import, or name in dotted strings (settings)."""
    modules = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and DOTTED_PATH.match(str(node.value)):
                modules.add(node.value.split(".")[0])
    return modules


def python_files(packages: list[str]) -> list[Path]:
    return [path for name in packages for path in sorted((ROOT / name).rglob("*.py"))]


def not_provided_by(modules: set[str], image_packages: set[str]) -> set[str]:
    """Third-party modules whose installed distribution is not among image_packages."""
    distributions = metadata.packages_distributions()
    missing = set()
    for module in modules - set(sys.stdlib_module_names):
        provided_by = {
            re.sub(r"[-_.]+", "-", name).lower() for name in distributions.get(module, ())
        }
        # Unresolvable names are the project's own packages or not modules at all.
        if provided_by and provided_by.isdisjoint(image_packages):
            missing.add(f"{module} ({', '.join(sorted(provided_by))})")
    return missing


def project_packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")}


def test_the_image_copies_every_project_package_the_web_tier_imports() -> None:
    copied = copied_python_packages(ROOT / "Dockerfile")
    files = [*python_files(copied), ROOT / "manage.py"]
    # What the web tier needs of the project; a package moved to the top level (such as
    # the TF Serving client) needs its COPY line and its "!" line in .dockerignore.
    imported = top_level_modules(files) & project_packages()

    assert {"serving_project", "predictions"} <= set(copied)
    assert imported - set(copied) == set()


def test_every_package_the_web_tier_imports_is_installed_in_the_image() -> None:
    image_packages = set(requirement_pins(ROOT / "deploy" / "requirements-gateway.txt"))
    # Installed without dependencies; "tensorflow" is the copied proto subset, which
    # test_image_proto_subset_is_all_the_web_tier_loads checks.
    image_packages |= {"tensorflow-serving-api", "tensorflow"}
    files = [*python_files(copied_python_packages(ROOT / "Dockerfile")), ROOT / "manage.py"]

    assert not_provided_by(top_level_modules(files), image_packages) == set()


def installed_tensorflow_site_packages() -> Path:
    # find_spec on the top-level name locates the package without executing it.
    spec = importlib.util.find_spec("tensorflow")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).parent


def copy_tf_protos(tensorflow_from: Path, to: Path) -> subprocess.CompletedProcess[str]:
    serving_api = Path(importlib.util.find_spec("tensorflow_serving").origin).parents[1]
    arguments = ["--tensorflow-from", tensorflow_from, "--serving-api", serving_api, "--to", to]
    return subprocess.run(
        [sys.executable, str(COPY_TF_PROTOS), *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
    )


PROBE_IMAGE_PROTOS = """
import sys
from tfserving.protos import predict_pb2, tensor_pb2, types_pb2
request = predict_pb2.PredictRequest()
request.model_spec.name = "half_plus_two"
request.inputs["x"].CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0]))
loaded_from = sorted({
    str(module.__file__).split("/tensorflow/")[0]
    for name, module in sys.modules.items() if name.startswith("tensorflow.")
})
try:
    import tensorflow
    outcome = "imported"
except ImportError as error:
    outcome = str(error)
parsed = predict_pb2.PredictRequest.FromString(request.SerializeToString())
print(parsed.model_spec.name, parsed.inputs["x"].float_val[0], loaded_from, outcome, sep="\\n")
"""


def test_image_proto_subset_is_all_the_web_tier_loads(tmp_path: Path) -> None:
    copied = copy_tf_protos(installed_tensorflow_site_packages(), tmp_path)
    assert copied.returncode == 0, copied.stderr

    # The copy comes first on the path and shadows the full TensorFlow, as in the image.
    probe = subprocess.run(
        [sys.executable, "-c", PROBE_IMAGE_PROTOS],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": ""},
    )

    model_name, value, loaded_from, outcome = probe.stdout.splitlines()
    assert (model_name, value) == ("half_plus_two", "1.0")
    assert loaded_from == repr([str(tmp_path)])
    assert outcome.startswith("this image ships only the tensorflow.core *_pb2 modules")
    assert len(list((tmp_path / "tensorflow").rglob("*_pb2.py"))) < 60


def test_copy_tf_protos_fails_naming_a_missing_proto_module(tmp_path: Path) -> None:
    incomplete = tmp_path / "incomplete"
    (incomplete / "tensorflow" / "core" / "framework").mkdir(parents=True)

    result = copy_tf_protos(incomplete, tmp_path / "out")

    assert result.returncode == 1
    assert "FileNotFoundError: tensorflow.core." in result.stderr


@pytest.mark.parametrize(
    "dockerfile",
    [
        ROOT / "Dockerfile",
        ROOT / "deploy" / "models-image" / "Dockerfile",
        ROOT / "deploy" / "proxy" / "Dockerfile",
    ],
)
def test_base_images_are_pinned_to_a_release(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    images = re.findall(r"^(?:ARG PYTHON_IMAGE=|FROM )(\S+:\S+)", text, flags=re.MULTILINE)

    assert images
    for image in images:
        assert re.search(r":\d+\.\d+\.\d+(-[a-z]+)*$", image), image
