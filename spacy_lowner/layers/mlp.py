"""A small feed-forward classifier (AdvPicker's language discriminator Linear-ReLU-Linear, the
word discriminator of the cross-lingual paper): a kind of module an objective can keep with
the pipeline (TaggerHead.keep_module), so that a later command can load and use it."""
import torch
from torch import nn

from ..registry import lowner_kept_modules


@lowner_kept_modules("spacy_lowner.mlp.v1")
class MLP(nn.Module):
    """input_width -> hidden_width (ReLU, dropout) -> output_width logits."""

    def __init__(self, input_width: int, hidden_width: int, output_width: int, dropout: float = 0.0):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_width, hidden_width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_width, output_width)
        )

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.layers(vectors)
