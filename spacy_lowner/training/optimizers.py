"""Adam with a learning rate per transformer layer (layer-wise decay) and a higher one for the
layers the task adds, for encoders whose top layers were tuned for something else.

A transformer's lower layers hold general features that a few hundred labeled sentences should
barely move, its top layers the most task-specific ones, and the tagger head starts from random
weights: one learning rate for all three is too high for the first or too low for the last.
Layer i of N learns at `layer_decay ** (N - 1 - i)` times the rate, the embeddings at
`layer_decay ** N`, and every parameter outside the transformer's layers (the tagger head, a
CNN tok2vec, a layer mix) at `head_factor` times it (Sun et al. 2019, "How to fine-tune BERT for
text classification?"; Zhang et al. 2021, "Revisiting few-sample BERT fine-tuning").

thinc's optimizer sees each parameter under the name its torch module gives it
(`encoder.layer.3.attention.self.query.weight`), so the scale is read from that name.
"""
import re
from typing import Tuple

from thinc.api import Optimizer
from thinc.optimizers import FloatOrSeq
from thinc.types import FloatsXd

LAYER = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")
EMBEDDINGS = re.compile(r"(?:^|\.)embeddings\.")


class LayerwiseOptimizer(Optimizer):
    def __init__(
        self, learn_rate: FloatOrSeq, *, num_layers: int, layer_decay: float, head_factor: float, frozen_layers: int = 0, **adam
    ):
        super().__init__(learn_rate, **adam)
        self.num_layers = num_layers
        self.layer_decay = layer_decay
        self.head_factor = head_factor
        self.frozen_layers = frozen_layers

    def lr_scale_of(self, name: str) -> float:
        """The factor on the learning rate of the parameter called `name`."""
        layer = LAYER.search(name)
        if layer:
            index = int(layer.group(1))
            if index >= self.num_layers:
                raise ValueError(
                    f"layerwise_adam: parameter {name!r} is in layer {index}, but num_layers is "
                    f"{self.num_layers}; set [training.optimizer] num_layers to the encoder's depth"
                )
            # A rate of 0 freezes: Adam and its weight decay both scale with the rate.
            return 0.0 if index < self.frozen_layers else self.layer_decay ** (self.num_layers - 1 - index)
        if EMBEDDINGS.search(name):
            return 0.0 if self.frozen_layers else self.layer_decay**self.num_layers
        return self.head_factor

    def __call__(self, key: Tuple[int, str], weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0):
        return super().__call__(key, weights, gradient, lr_scale=lr_scale * self.lr_scale_of(key[1]))


def layerwise_adam(
    learn_rate: FloatOrSeq = 0.001,
    *,
    num_layers: int,
    layer_decay: float = 0.9,
    head_factor: float = 1.0,
    frozen_layers: int = 0,
    L2: FloatOrSeq = 0.01,
    beta1: FloatOrSeq = 0.9,
    beta2: FloatOrSeq = 0.999,
    eps: FloatOrSeq = 1e-08,
    grad_clip: FloatOrSeq = 1.0,
    L2_is_weight_decay: bool = True,
    use_averages: bool = False,
) -> LayerwiseOptimizer:
    """Adam (thinc's, with the same settings) whose learning rate is scaled per parameter.

    num_layers: the transformer's depth (the encoder folder's `num_hidden_layers`).
    layer_decay: layer i learns at layer_decay ** (num_layers - 1 - i) times learn_rate, the
        embeddings at layer_decay ** num_layers; 1.0 switches the decay off.
    head_factor: the factor for every parameter outside the transformer's layers and embeddings.
    frozen_layers: the embeddings and the bottom `frozen_layers` layers do not move (a rate of
        0; AdvPicker freezes the embeddings and 3 of mBERT's 12 layers); 0 freezes nothing.
    """
    if num_layers < 1:
        raise ValueError(f"layerwise_adam: num_layers must be at least 1, got {num_layers}")
    if not 0 < layer_decay <= 1:
        raise ValueError(f"layerwise_adam: layer_decay must be in (0, 1], got {layer_decay}")
    if head_factor <= 0:
        raise ValueError(f"layerwise_adam: head_factor must be positive, got {head_factor}")
    if not 0 <= frozen_layers <= num_layers:
        raise ValueError(f"layerwise_adam: frozen_layers must be in [0, num_layers = {num_layers}], got {frozen_layers}")
    return LayerwiseOptimizer(
        learn_rate, num_layers=num_layers, layer_decay=layer_decay, head_factor=head_factor,
        frozen_layers=frozen_layers, L2=L2, beta1=beta1,
        beta2=beta2, eps=eps, grad_clip=grad_clip, L2_is_weight_decay=L2_is_weight_decay,
        use_averages=use_averages, use_radam=False,
    )
