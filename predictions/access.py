"""Which models a caller may use: a small value, cached per user."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelAccess:
    every_model: bool = False
    model_names: frozenset[str] = frozenset()

    def allows(self, model_name: str) -> bool:
        return self.every_model or model_name in self.model_names


NO_ACCESS = ModelAccess()
FULL_ACCESS = ModelAccess(every_model=True)
