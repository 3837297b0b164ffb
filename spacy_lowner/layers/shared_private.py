"""A module shared by every domain beside one private module per domain, their outputs
concatenated (DATNet-P: a shared BiLSTM plus a source-private and a target-private one)."""
from typing import List, Sequence

import torch
from torch import nn

from ..registry import lowner_head_modules
from .head_module import HeadModule, HeadModuleBuilder, check_domains, rows_of


class SharedPrivate(HeadModule):
    """[shared(x); private_d(x)] for a doc of domain d: the private module of a domain sees
    only its own domain's docs, so it gets no gradient from any other domain's. The shared
    part comes first, so that an objective can read it as `output[..., :shared_width]` (the
    resource discriminator of DATNet-P reads the whole concatenation)."""

    def __init__(
        self, input_width: int, shared: HeadModuleBuilder, private: HeadModuleBuilder, domains: Sequence[str]
    ):
        super().__init__()
        if not domains:
            raise ValueError("spacy_lowner.shared_private.v1: give the domains that get a private module")
        self.domains = list(domains)
        self.shared = shared(input_width)
        self.private = nn.ModuleDict({name: private(input_width) for name in self.domains})
        self.shared_width = self.shared.output_width
        self.private_width = self.private[self.domains[0]].output_width
        self.output_width = self.shared_width + self.private_width

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor, domains: Sequence[str]) -> torch.Tensor:
        check_domains("spacy_lowner.shared_private.v1", domains, self.domains)
        private = vectors.new_zeros(*vectors.shape[:2], self.private_width)
        for name in self.domains:
            rows = rows_of(domains, name, vectors.device)
            if len(rows):
                own = self.private[name](vectors.index_select(0, rows), mask.index_select(0, rows), [name] * len(rows))
                private = private.index_copy(0, rows, own)
        return torch.cat([self.shared(vectors, mask, domains), private], dim=-1)

    def after_step(self) -> None:
        for module in [self.shared, *self.private.values()]:
            module.after_step()


@lowner_head_modules("spacy_lowner.shared_private.v1")
def make_shared_private(
    shared: HeadModuleBuilder, private: HeadModuleBuilder, domains: List[str]
) -> HeadModuleBuilder:
    """`shared` (a head module block) for every doc, and a copy of `private` (another block)
    for each of `domains`, concatenated."""

    def build(input_width: int) -> SharedPrivate:
        return SharedPrivate(input_width, shared, private, domains)

    return build
