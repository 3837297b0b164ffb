"""Training objectives of `lowner_ner`: one module per objective, each a registered factory."""
from ..registry import lowner_objectives  # noqa: F401  (creates the registry before configs resolve)
from .base import Objective

__all__ = ["Objective"]
