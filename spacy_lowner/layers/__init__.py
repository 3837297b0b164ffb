"""Torch building blocks (CRF, decoders) used by the NER model."""
