"""Training objectives of `lowner_ner`: one module per objective, each a registered factory.

Every module in this folder is imported here, so an objective is registered by writing its
file: no list to extend. Objectives of other packages register through the entry point group
`spacy_lowner_objectives` (see registry.py).
"""
import importlib
import pkgutil

from ..registry import lowner_objectives  # noqa: F401  (creates the registry before configs resolve)
from .base import Objective, ObjectiveContext

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Objective", "ObjectiveContext"]
