"""Reading env files (.env.example, the compose stack's .env)."""

from __future__ import annotations

from pathlib import Path


def env_file_values(path: Path) -> dict[str, str]:
    """NAME=value lines of an env file, comments and blank lines skipped."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            if not separator:
                raise ValueError(f"{path.name}: not NAME=value: {line!r}")
            values[name.strip()] = value.strip()
    return values
