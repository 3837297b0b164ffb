"""Torch layers: the CRF, losses, gradient reversal, the head modules of TokenTagger.v3 and
the modules objectives keep with a pipeline.

Importing them here registers them (`@lowner_head_modules`, `@lowner_kept_modules`) before
any config or saved head names one; those of other packages register through the entry point
groups `spacy_lowner_head_modules` and `spacy_lowner_kept_modules`.
"""
from . import bilstm, domain_map, mlp, self_attention, shared_private  # noqa: F401
