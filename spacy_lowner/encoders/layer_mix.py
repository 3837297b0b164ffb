"""A BERT whose output is a learned mix of all its layers, for any listener to read.

The last layer of multilingual-e5 was tuned for sentence embeddings: a linear probe reads
entities from it no better than from the embeddings, while the mean of all layers is the best
feature by far. spacy-transformers' listeners read `last_hidden_state` and pass a gradient to it
alone, so the mix has to happen inside the model: `LayerMixBertModel` is a `BertModel` whose
`last_hidden_state` is gamma * sum_k softmax(s)_k h_k over the embeddings and every layer (ELMo's
scalar mix), s starting at 0 (the plain mean) and gamma at 1. Both are parameters of the
transformer, trained and saved with it. Two settings of the folder's config vary that: the
probe's mean left the embeddings out (`layer_mix_first` 1: layers 1..N only), and a mix that
starts from the last layer (`layer_mix_start` "last": 90% of the weight) begins as the plain
encoder, so that what it learns is all that separates the two.

The mix is switched on by the encoder folder: `python -m spacy_lowner encoder mix FOLDER OUTPUT`
writes a copy whose config names this model type. It is registered with transformers' Auto
classes when spacy_lowner is imported, which loading or training a pipeline with `lowner_ner`
always does.
"""
import json
import math
from pathlib import Path
from typing import Optional

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, BertModel
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

from ..settings import PositiveFloat, check_setting
from ..tools.outputs import check_outputs, edited_copy
from .folder import write_json

MODEL_TYPE = "lowner_layer_mix_bert"


START_WEIGHTS = ("mean", "last")
LAST_LAYER_SHARE = 0.9  # of the weight, where the mix starts from the last layer


class LayerMixConfig(BertConfig):
    """BertConfig + the mix's settings. `layer_mix_rate`: the mixing logits are this times their
    parameter, so they move at this multiple of the transformer's learning rate (at 2e-4 over
    1000 steps an unscaled logit could move by 0.2 at most, leaving the mix where it started).
    `layer_mix_first`: the first hidden state mixed (0 the embeddings, 1 the first layer).
    `layer_mix_start`: "mean" (equal weights) or "last" (the last layer holds 90%)."""

    model_type = MODEL_TYPE

    def __init__(self, layer_mix_rate: float = 10.0, layer_mix_first: int = 0, layer_mix_start: str = "mean", **kwargs):
        super().__init__(**kwargs)
        self.layer_mix_rate = layer_mix_rate
        self.layer_mix_first = layer_mix_first
        self.layer_mix_start = layer_mix_start

    @property
    def mixed_states(self) -> int:
        return self.num_hidden_layers + 1 - self.layer_mix_first


class LayerMixBertModel(BertModel):
    config_class = LayerMixConfig

    def __init__(self, config: LayerMixConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer=add_pooling_layer)
        self.layer_logits = nn.Parameter(torch.zeros(config.mixed_states))
        # shape (1,), not (): thinc's optimizer takes len() of every parameter
        self.layer_scale = nn.Parameter(torch.ones(1))

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        # BertModel's __init__ calls this before the mix exists; from_pretrained calls it again
        # for weights the folder lacks: the mix starts where its config says.
        if module is self and hasattr(self, "layer_logits"):
            with torch.no_grad():
                self.layer_logits.copy_(start_logits(self.config))
                self.layer_scale.fill_(1.0)

    def layer_weights(self) -> torch.Tensor:
        return torch.softmax(self.layer_logits * self.config.layer_mix_rate, dim=0)

    def forward(self, *args, **kwargs):
        kwargs.update(output_hidden_states=True, return_dict=True)
        output = super().forward(*args, **kwargs)
        weights = self.layer_weights()
        states = output.hidden_states[self.config.layer_mix_first :]
        mixed = sum(weight * hidden for weight, hidden in zip(weights, states))
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=self.layer_scale * mixed, pooler_output=output.pooler_output
        )


def start_logits(config: LayerMixConfig) -> torch.Tensor:
    """The mixing logits before training: all equal, or the last layer's raised so that its
    softmax weight is LAST_LAYER_SHARE (the others share the rest)."""
    logits = torch.zeros(config.mixed_states)
    if config.layer_mix_start == "last" and config.mixed_states > 1:
        others = config.mixed_states - 1
        logits[-1] = math.log(LAST_LAYER_SHARE * others / (1 - LAST_LAYER_SHARE)) / config.layer_mix_rate
    return logits


AutoConfig.register(MODEL_TYPE, LayerMixConfig)
AutoModel.register(LayerMixConfig, LayerMixBertModel)


def make_layer_mix_folder(source: Path, output: Path, rate: float = 10.0, first: int = 0, start: str = "mean") -> Path:
    """Copy the BERT encoder folder `source` to `output` with the layer mix switched on (all
    or nothing: the copy is made beside `output` and renamed into place): hidden states
    `first`..N mixed, starting from `start` ("mean" or "last")."""
    source, output = Path(source), Path(output)
    # NaN or a negative rate would be written into config.json and break every forward pass;
    # 0 would divide by zero and leave the mix where it starts.
    check_setting("the mixing rate (--rate)", rate, PositiveFloat)
    if first not in (0, 1):
        raise ValueError(f"the mix starts at the embeddings (0) or the first layer (1), not {first}")
    if start not in START_WEIGHTS:
        raise ValueError(f"the mix starts from one of {', '.join(START_WEIGHTS)}, not {start!r}")
    check_outputs([output], [source])
    settings = {"layer_mix_rate": rate, "layer_mix_first": first, "layer_mix_start": start}
    if output.exists():
        existing = _mix_settings(output)
        if existing == settings:  # a project step run again
            return output
        if existing is None:
            raise FileExistsError(f"{output} exists and is not a layer-mix encoder; give a new folder")
        raise FileExistsError(f"{output} is a layer-mix encoder with other settings ({existing}); give a new folder")
    config = json.loads((source / "config.json").read_text(encoding="utf8"))
    if config.get("model_type") not in ("bert", MODEL_TYPE):
        raise ValueError(f"{source} holds a {config.get('model_type')!r} model; the layer mix needs a BERT-type encoder")
    mixed_before = _mix_settings(source)
    if mixed_before and mixed_before["layer_mix_first"] != first:
        # its trained mixing weights are one per state it mixes
        raise ValueError(f"{source} mixes from hidden state {mixed_before['layer_mix_first']}; start from the plain encoder")
    config.update(model_type=MODEL_TYPE, architectures=[LayerMixBertModel.__name__], **settings)
    with edited_copy(source, output) as folder:
        write_json(folder / "config.json", config)
    return output


def _mix_settings(folder: Path) -> Optional[dict]:
    """The mix settings of a layer-mix folder (the defaults for what an older folder lacks),
    or None for any other folder."""
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf8")) if path.is_file() else {}
    if config.get("model_type") != MODEL_TYPE:
        return None
    defaults = LayerMixConfig()
    return {key: config.get(key, getattr(defaults, key)) for key in ("layer_mix_rate", "layer_mix_first", "layer_mix_start")}
