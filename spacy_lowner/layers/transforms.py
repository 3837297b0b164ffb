"""Learned token transforms: a map of token vectors that the head applies before its hidden
layer to the docs of some domains, saved with the pipeline and used at prediction.

A cross-lingual objective learns a mapping of one language's token vectors into the other's
space during training; the same mapping must then serve prediction. `TokenTagger.v2` keeps one
such transform in a slot of the head; objectives install it (`TaggerHead.install_transform`),
and the head rebuilds it from its config when the pipeline is loaded.

A doc's domain comes from `doc.user_data["lowner_domain"]` (see model/channels.py); a doc without one
counts as `default_domain`.
"""
from typing import Any, Dict, Optional, Sequence

import torch
from torch import nn


class TokenTransform(nn.Module):
    """The base: knows which docs it applies to and how to describe itself for saving."""

    kind = ""

    def __init__(self, width: int, domains: Sequence[str], default_domain: Optional[str] = None):
        super().__init__()
        if not domains:
            raise ValueError(f"{self.kind} transform: give the domains it applies to")
        self.width = width
        self.domains = list(domains)
        self.default_domain = default_domain

    def applies_to(self, domains: Sequence[Optional[str]]) -> torch.Tensor:
        """(B,) bool: which docs, by their domain (None: no domain given), it transforms."""
        resolved = [self.default_domain if domain is None else domain for domain in domains]
        return torch.tensor([domain in self.domains for domain in resolved], dtype=torch.bool)

    def config(self) -> Dict[str, Any]:
        return {"kind": self.kind, "width": self.width, "domains": self.domains, "default_domain": self.default_domain}


class LinearTransform(TokenTransform):
    """A square linear map without bias, starting as the identity."""

    kind = "linear"

    def __init__(self, width: int, domains: Sequence[str], default_domain: Optional[str] = None):
        super().__init__(width, domains, default_domain)
        self.linear = nn.Linear(width, width, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(width))

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.linear(vectors)


TRANSFORMS = {LinearTransform.kind: LinearTransform}


def build_transform(config: Dict[str, Any]) -> TokenTransform:
    """A transform from what `TokenTransform.config()` saved."""
    config = dict(config)
    kind = config.pop("kind")
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown token transform {kind!r}; known: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[kind](**config)
