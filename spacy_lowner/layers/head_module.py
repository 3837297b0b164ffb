"""What a head module is: one step of a `TokenTagger.v3` head between the tok2vec and the tag
scores, `(vectors, mask, domains) -> vectors`.

A config block names a registered function (registry.py, `@lowner_head_modules`) that returns
a builder: the module's input width is only known once the pipeline is initialised, so the
head calls `builder(input_width)` then, and again when a saved pipeline is loaded (its config
gives the same builders, its weights file the width). A module's `output_width` is the next
one's input width.
"""
from typing import Callable, List, Sequence

import torch
from torch import nn


class HeadModule(nn.Module):
    """One step of the head's stack.

    forward(vectors (B, T, D_in), mask (B, T) True on real tokens, domains: each doc's domain)
    -> (B, T, output_width), zero at padding. A doc's domain is the `domain` channel of its
    reference (training) or of the doc itself, else the component's `default_domain`.
    """

    output_width: int

    def after_step(self) -> None:
        """Called after each optimizer step: re-project weights that must keep a property
        (an orthogonal map) here."""


HeadModuleBuilder = Callable[[int], HeadModule]


def rows_of(domains: Sequence[str], domain: str, device: torch.device) -> torch.Tensor:
    """The indices of the docs of `domain`, as a (n,) long tensor."""
    return torch.tensor([i for i, name in enumerate(domains) if name == domain], dtype=torch.long, device=device)


def check_domains(module: str, domains: Sequence[str], known: List[str]) -> None:
    """A doc of a domain the module was not built for is an error, not a silent pass-through."""
    unknown = sorted({str(name) for name in domains if name not in known})
    if unknown:
        raise ValueError(
            f"{module}: docs of domain(s) {', '.join(unknown)}, but it was configured for {', '.join(known)}; "
            "add them to its `domains`, or set the component's `default_domain` for docs without one"
        )
