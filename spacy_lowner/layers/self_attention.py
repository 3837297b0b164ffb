"""Self-attention over a doc's tokens, with or without position information (the
cross-lingual paper's attention layer after its BiLSTM, and its ablation without positions)."""
import math
from functools import partial
from typing import Sequence

import torch
from torch import nn

from ..registry import lowner_head_modules
from .head_module import HeadModule, HeadModuleBuilder


def sinusoid_positions(length: int, width: int, device: torch.device) -> torch.Tensor:
    """(length, width) sine/cosine position codes (Vaswani et al. 2017): no weights, any length."""
    positions = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(1)
    rates = torch.exp(torch.arange(0, width, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / width))
    codes = torch.zeros(length, width, device=device)
    codes[:, 0::2] = torch.sin(positions * rates)
    codes[:, 1::2] = torch.cos(positions * rates)[:, : width // 2]
    return codes


class SelfAttention(HeadModule):
    """Multi-head scaled dot-product attention of every token over the doc's real tokens, added
    to its input and layer-normalised (the width is kept). With `positions`, sine/cosine
    position codes are added to the attention's input, so that order matters to it; without
    them it sees the tokens as a set (what the BiLSTM before it encodes of order remains)."""

    def __init__(self, input_width: int, heads: int = 1, positions: bool = True, dropout: float = 0.0):
        super().__init__()
        if heads < 1 or input_width % heads:
            raise ValueError(
                f"spacy_lowner.self_attention.v1: heads ({heads}) must divide the input width ({input_width})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"spacy_lowner.self_attention.v1: dropout must be in [0, 1), got {dropout}")
        self.attention = nn.MultiheadAttention(input_width, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(input_width)
        self.positions = positions
        self.output_width = input_width

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor, domains: Sequence[str]) -> torch.Tensor:
        queries = vectors
        if self.positions:
            queries = vectors + sinusoid_positions(vectors.shape[1], vectors.shape[2], vectors.device)
        # A doc with no tokens would attend to nothing (a softmax over no keys is NaN): let it
        # attend to its first (padding) position; the mask zeroes its output anyway.
        padding = ~mask
        padding[:, 0] = padding[:, 0] & mask.any(1)
        attended, _ = self.attention(queries, queries, vectors, key_padding_mask=padding, need_weights=False)
        return self.norm(vectors + attended) * mask.unsqueeze(-1)


@lowner_head_modules("spacy_lowner.self_attention.v1")
def make_self_attention(heads: int = 1, positions: bool = True, dropout: float = 0.0) -> HeadModuleBuilder:
    """Self-attention with `heads` heads (they must divide the input width), position codes
    switched by `positions`, `dropout` on the attention weights."""
    return partial(SelfAttention, heads=heads, positions=positions, dropout=dropout)
