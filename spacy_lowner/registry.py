"""The registry of training objectives.

An objective is found by name in a config block such as

    [components.lowner_ner.objectives.supervised]
    @lowner_objectives = "supervised"

Objectives of other packages register through the entry point group
`spacy_lowner_objectives`, the way spacy-transformers adds `span_getters`.
"""
import catalogue
from spacy.util import registry

registry.lowner_objectives = catalogue.create(  # type: ignore[attr-defined]
    "spacy", "lowner_objectives", entry_points=True
)
lowner_objectives = registry.lowner_objectives  # type: ignore[attr-defined]
