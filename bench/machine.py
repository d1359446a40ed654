"""The machine a benchmark ran on, for the results header."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "Django",
    "djangorestframework",
    "djangorestframework-simplejwt",
    "gunicorn",
    "grpcio",
    "protobuf",
    "numpy",
    "orjson",
    "tensorflow",
    "tensorflow-serving-api",
)


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    packages: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        versions = ", ".join(f"{name} {version}" for name, version in self.packages)
        return (
            f"{self.cpu}, {self.cores} cores, {self.memory_gib:.0f} GiB RAM; {self.system}; "
            f"Python {self.python}; {versions}"
        )


def _cpu_model() -> str:
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        match = None
    return match.group(1).strip() if match else platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    except OSError:
        match = None
    return int(match.group(1)) / 1024**2 if match else 0.0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def this_machine() -> Machine:
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        memory_gib=_memory_gib(),
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
        python=platform.python_version(),
        packages=tuple((name, _version(name)) for name in PACKAGES),
    )


def load_average() -> float:
    """The 1-minute load average: other work on the machine while the bench ran."""
    return os.getloadavg()[0]
