"""A BERT whose output is a learned mix of all its layers, for any listener to read.

The last layer of multilingual-e5 was tuned for sentence embeddings: a linear probe reads
entities from it no better than from the embeddings, while the mean of all layers is the best
feature by far. spacy-transformers' listeners read `last_hidden_state` and pass a gradient to it
alone, so the mix has to happen inside the model: `LayerMixBertModel` is a `BertModel` whose
`last_hidden_state` is gamma * sum_k softmax(s)_k h_k over the embeddings and every layer (ELMo's
scalar mix), s starting at 0 (the plain mean) and gamma at 1. Both are parameters of the
transformer, trained and saved with it.

The mix is switched on by the encoder folder: `python -m spacy_lowner encoder mix FOLDER OUTPUT`
writes a copy whose config names this model type. It is registered with transformers' Auto
classes when spacy_lowner is imported, which loading or training a pipeline with `lowner_ner`
always does.
"""
import json
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, BertModel
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

from ..outputs import check_outputs, edited_copy
from .folder import write_json

MODEL_TYPE = "lowner_layer_mix_bert"


class LayerMixConfig(BertConfig):
    """BertConfig + `layer_mix_rate`: the mixing logits are this times their parameter, so they
    move at this multiple of the transformer's learning rate (at 2e-4 over 1000 steps an
    unscaled logit could move by 0.2 at most, leaving the mix where it started)."""

    model_type = MODEL_TYPE

    def __init__(self, layer_mix_rate: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.layer_mix_rate = layer_mix_rate


class LayerMixBertModel(BertModel):
    config_class = LayerMixConfig

    def __init__(self, config: LayerMixConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer=add_pooling_layer)
        self.layer_logits = nn.Parameter(torch.zeros(config.num_hidden_layers + 1))
        # shape (1,), not (): thinc's optimizer takes len() of every parameter
        self.layer_scale = nn.Parameter(torch.ones(1))

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        # BertModel's __init__ calls this before the mix exists; from_pretrained calls it again
        # for weights the folder lacks: the mix starts as the plain mean.
        if module is self and hasattr(self, "layer_logits"):
            with torch.no_grad():
                self.layer_logits.zero_()
                self.layer_scale.fill_(1.0)

    def layer_weights(self) -> torch.Tensor:
        return torch.softmax(self.layer_logits * self.config.layer_mix_rate, dim=0)

    def forward(self, *args, **kwargs):
        kwargs.update(output_hidden_states=True, return_dict=True)
        output = super().forward(*args, **kwargs)
        weights = self.layer_weights()
        mixed = sum(weight * hidden for weight, hidden in zip(weights, output.hidden_states))
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=self.layer_scale * mixed, pooler_output=output.pooler_output
        )


AutoConfig.register(MODEL_TYPE, LayerMixConfig)
AutoModel.register(LayerMixConfig, LayerMixBertModel)


def make_layer_mix_folder(source: Path, output: Path, rate: float = 10.0) -> Path:
    """Copy the BERT encoder folder `source` to `output` with the layer mix switched on (all
    or nothing: the copy is made beside `output` and renamed into place)."""
    source, output = Path(source), Path(output)
    check_outputs([output], [source])
    if output.exists():
        if _is_layer_mix(output):  # a project step run again
            return output
        raise FileExistsError(f"{output} exists and is not a layer-mix encoder; give a new folder")
    config = json.loads((source / "config.json").read_text(encoding="utf8"))
    if config.get("model_type") not in ("bert", MODEL_TYPE):
        raise ValueError(f"{source} holds a {config.get('model_type')!r} model; the layer mix needs a BERT-type encoder")
    config.update(model_type=MODEL_TYPE, architectures=[LayerMixBertModel.__name__], layer_mix_rate=rate)
    with edited_copy(source, output) as folder:
        write_json(folder / "config.json", config)
    return output


def _is_layer_mix(folder: Path) -> bool:
    config = folder / "config.json"
    return config.is_file() and json.loads(config.read_text(encoding="utf8")).get("model_type") == MODEL_TYPE
