"""A linear map per domain (the cross-lingual paper's orthogonal map of source-language word
vectors into the target's space): applied to the docs of its domains only."""
from functools import partial
from typing import List, Sequence

import torch
from torch import nn

from ..registry import lowner_head_modules
from .head_module import HeadModule, HeadModuleBuilder, rows_of


def nearest_orthogonal(weight: torch.Tensor) -> torch.Tensor:
    """U V^T for weight = U S V^T: the orthogonal matrix closest to `weight` in Frobenius norm
    (the Procrustes solution), the projection the cross-lingual paper applies after each step."""
    # In float64: LAPACK's float32 SVD fails to converge ("too many repeated singular values")
    # on some near-identity matrices, where every singular value is about 1, which is where the
    # map starts (384 wide, after one step in the learning-rate warmup).
    u, _, vh = torch.linalg.svd(weight.double())
    return (u @ vh).to(weight.dtype)


class DomainMap(HeadModule):
    """W_d x for the tokens of docs of domain d in `domains`; other docs pass unchanged. Each
    W_d starts as the identity (the map does nothing until training moves it); with
    `orthogonal`, W_d is projected back to the nearest orthogonal matrix after every optimizer
    step, so it rotates the vectors without stretching them (Xing et al. 2015)."""

    def __init__(self, input_width: int, domains: Sequence[str], orthogonal: bool = False):
        super().__init__()
        if not domains:
            raise ValueError("spacy_lowner.domain_map.v1: give the domains whose docs it maps")
        self.domains = list(domains)
        self.orthogonal = orthogonal
        self.maps = nn.ParameterDict({name: nn.Parameter(torch.eye(input_width)) for name in self.domains})
        self.output_width = input_width

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor, domains: Sequence[str]) -> torch.Tensor:
        output = vectors
        for name in self.domains:
            rows = rows_of(domains, name, vectors.device)
            if len(rows):
                output = output.index_copy(0, rows, vectors.index_select(0, rows) @ self.maps[name].T)
        return output

    def after_step(self) -> None:
        if self.orthogonal:
            with torch.no_grad():
                for weight in self.maps.values():
                    weight.copy_(nearest_orthogonal(weight))


@lowner_head_modules("spacy_lowner.domain_map.v1")
def make_domain_map(domains: List[str], orthogonal: bool = False) -> HeadModuleBuilder:
    """A square map for the docs of each of `domains` (identity start), kept orthogonal after
    each step with `orthogonal`."""
    return partial(DomainMap, domains=domains, orthogonal=orthogonal)
