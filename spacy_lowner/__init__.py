"""spacy-lowner: low-resource named entity recognition for spaCy v3."""
# Registers the layer-mixing BERT with transformers' Auto classes: a pipeline whose encoder
# folder names it must find it before its transformer loads.
from .encoders import layer_mix  # noqa: F401
