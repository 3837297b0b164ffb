"""A bidirectional LSTM over the token vectors (DATNet's shared and private BiLSTMs; the
cross-lingual paper's BiLSTM before its attention)."""
from functools import partial
from typing import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..registry import lowner_head_modules
from .head_module import HeadModule, HeadModuleBuilder


class BiLSTM(HeadModule):
    """`width` is the output width: each direction has width / 2 units, as DATNet's "BiLSTM 200"
    (100 forward, 100 backward). Sequences are packed, so padding never reaches the backward
    direction of a shorter doc."""

    def __init__(self, input_width: int, width: int = 200, depth: int = 1, dropout: float = 0.0):
        super().__init__()
        if width < 2 or width % 2:
            raise ValueError(f"spacy_lowner.bilstm.v1: width must be an even number >= 2, got {width}")
        if depth < 1:
            raise ValueError(f"spacy_lowner.bilstm.v1: depth must be >= 1, got {depth}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"spacy_lowner.bilstm.v1: dropout must be in [0, 1), got {dropout}")
        self.lstm = nn.LSTM(
            input_width, width // 2, num_layers=depth, bidirectional=True, batch_first=True,
            dropout=dropout if depth > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.output_width = width

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor, domains: Sequence[str]) -> torch.Tensor:
        # An empty doc is packed as one step and zeroed by the mask afterwards.
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(vectors, lengths, batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=vectors.shape[1])
        return self.dropout(output) * mask.unsqueeze(-1)


@lowner_head_modules("spacy_lowner.bilstm.v1")
def make_bilstm(width: int = 200, depth: int = 1, dropout: float = 0.0) -> HeadModuleBuilder:
    """A BiLSTM of `width` outputs (width / 2 per direction) and `depth` layers; `dropout` on
    its output (and between its layers)."""
    return partial(BiLSTM, width=width, depth=depth, dropout=dropout)
