"""Training objectives of `lowner_ner`: one module per objective, each a registered factory.

Every module in this folder but the shared pieces (base.py, schedules.py) is imported here, so
an objective is registered by writing its file: no list to extend. Objectives of other packages register through the entry point group
`spacy_lowner_objectives` (see registry.py).
"""
import importlib
import pkgutil

from ..registry import lowner_objectives
from .base import Objective, ObjectiveContext

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "schedules"):  # the shared pieces register nothing
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Objective", "ObjectiveContext"]

# The names objectives had before they were versioned: pipelines and configs saved with them
# still resolve.
UNVERSIONED = ("supervised", "ssgan", "kl_prior", "kl_confidence", "mean_teacher")
for _name in UNVERSIONED:
    lowner_objectives.register(_name, func=lowner_objectives.get(f"spacy_lowner.{_name}.v1"))
