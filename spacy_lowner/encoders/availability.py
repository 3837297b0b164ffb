"""Fail at once when a transformer's encoder can be neither read from disk nor downloaded.

A mistyped encoder folder ("assets/encoders/me5-zh-2" for "...-2l") looks like a Hugging Face
model name to transformers, which then retries the unreachable hub for about a minute before
it fails with a message about the network. `spacy_lowner.check_encoders.v1`, run as
`[initialize] before_init`, looks first: a folder that exists, a model in the local Hugging Face
cache, or a reachable hub are fine; anything else stops with the name, and how to build an
offline encoder there.
"""
import os
import socket
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

from confection import ConfigValidationError
from spacy.language import Language
from spacy.util import registry
from thinc.api import Model

# How long to wait for the hub before calling it unreachable.
HUB_TIMEOUT_SECONDS = 3.0


@registry.callbacks("spacy_lowner.check_encoders.v1")
def make_check_encoders() -> Callable[[Language], Language]:
    """Check, before the pipeline is initialised, that every transformer's encoder is there."""

    def check_encoders(nlp: Language) -> Language:
        for component, name in transformer_names(nlp):
            problem = encoder_problem(name)
            if problem:
                raise ConfigValidationError(
                    title=f"The encoder of '{component}' cannot be loaded",
                    errors=[{"loc": ["components", component, "model", "name"], "msg": problem}],
                    show_config=False,
                )
        return nlp

    return check_encoders


def transformer_names(nlp: Language) -> Iterator[tuple]:
    """(component, model name) of every spacy-transformers model not loaded yet."""
    for component, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if not isinstance(model, Model):
            continue
        for node in model.walk():
            if "has_transformer" in node.attrs and not node.attrs["has_transformer"]:
                yield component, node.attrs["name"]


def encoder_problem(name: str) -> str:
    """Why `name` cannot be loaded, or "" if it can (as far as can be told without loading it)."""
    path = Path(name)
    if path.is_dir():
        return ""
    if path.exists():
        return f"{name} is a file; give the encoder's folder"
    if _in_hub_cache(name):
        return ""
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0") or os.environ.get(
        "TRANSFORMERS_OFFLINE", "0"
    ) not in ("", "0")
    if not offline and _hub_reachable():
        return ""
    return (
        f"{name} is not a folder here, and the Hugging Face hub is not reachable to download a model "
        f"of that name. Check the path, or build an offline encoder there: "
        f"python -m spacy_lowner encoder build me5-zh {name} --layers 2"
    )


def _in_hub_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # not a valid repository name
        return False


def _hub_reachable() -> bool:
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=HUB_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False
