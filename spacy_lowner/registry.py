"""The registries of training objectives and head modules.

An objective is found by name in a config block such as

    [components.lowner_ner.objectives.supervised]
    @lowner_objectives = "spacy_lowner.supervised.v1"

Objectives of other packages register through the entry point group
`spacy_lowner_objectives`, the way spacy-transformers adds `span_getters`.
"""
import catalogue
from spacy.util import registry

registry.lowner_objectives = catalogue.create(  # type: ignore[attr-defined]
    "spacy", "lowner_objectives", entry_points=True
)
lowner_objectives = registry.lowner_objectives  # type: ignore[attr-defined]

# Head modules: the steps of a TokenTagger.v3 head between the tok2vec and the tag scores
# (layers/head_module.py), found by name in config blocks such as
#
#     [components.lowner_ner.model.*.bilstm]
#     @lowner_head_modules = "spacy_lowner.bilstm.v1"
#
# and from other packages through the entry point group `spacy_lowner_head_modules`.
registry.lowner_head_modules = catalogue.create(  # type: ignore[attr-defined]
    "spacy", "lowner_head_modules", entry_points=True
)
lowner_head_modules = registry.lowner_head_modules  # type: ignore[attr-defined]

# Modules an objective keeps with the pipeline for a later command (TaggerHead.keep_module):
# the saved head stores each one's kind and settings and rebuilds it from here at load.
registry.lowner_kept_modules = catalogue.create(  # type: ignore[attr-defined]
    "spacy", "lowner_kept_modules", entry_points=True
)
lowner_kept_modules = registry.lowner_kept_modules  # type: ignore[attr-defined]
