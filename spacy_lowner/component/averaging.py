"""Make `[training.optimizer] use_averages = true` reach the weights of torch layers.

With averages on, thinc's optimizer keeps a moving average of every parameter it updates, and
spaCy evaluates and saves the model under `nlp.use_params(optimizer.averages)`. For a torch
layer (a spacy-transformers encoder, this plugin's tagger head) the average is kept under the
key `(shim.id, parameter name)`, but thinc 8.3's `PyTorchShim.use_params` looks for string keys
`"pytorch_{shim.id}_{name}"`, finds none and leaves the live weights in place: averaging silently
does nothing for any torch layer. `spacy_lowner.average_torch_weights.v1`, run as
`[initialize] after_init`, gives each torch shim of the pipeline a `use_params` that reads the
optimizer's own keys. Parameters without an average (one that never had a gradient, like an
unused pooler) and buffers keep their live values.
"""
import contextlib
import warnings
from types import MethodType
from typing import Callable, Dict, Iterator, Tuple

import torch
from spacy.language import Language
from spacy.util import registry
from thinc.api import Model, PyTorchShim, xp2torch
from thinc.types import FloatsXd

CALLBACK = "spacy_lowner.average_torch_weights.v1"


@registry.callbacks(CALLBACK)
def make_average_torch_weights() -> Callable[[Language], Language]:
    """After the pipeline is initialised, let its torch layers take the optimizer's averages."""

    def average_torch_weights(nlp: Language) -> Language:
        for shim in torch_shims(nlp):
            shim.use_params = MethodType(use_averaged_params, shim)
        return nlp

    return average_torch_weights


def torch_shims(nlp: Language) -> Iterator[PyTorchShim]:
    """Every torch shim in the pipeline's models, once each."""
    seen = set()
    for _, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if not isinstance(model, Model):
            continue
        for node in model.walk():
            for shim in node.shims:
                if isinstance(shim, PyTorchShim) and id(shim) not in seen:
                    seen.add(id(shim))
                    yield shim


@contextlib.contextmanager
def use_averaged_params(shim: PyTorchShim, params: Dict[Tuple[int, str], FloatsXd]):
    """Copy the averages of `shim`'s parameters into its torch module for the duration."""
    averaged = [
        (weight, params[(shim.id, name)])
        for name, weight in shim._model.named_parameters()
        if (shim.id, name) in params
    ]
    backup = [weight.detach().clone() for weight, _ in averaged]
    with torch.no_grad():
        for weight, average in averaged:
            weight.copy_(xp2torch(average, device=weight.device))
    try:
        yield
    finally:
        with torch.no_grad():
            for (weight, _), live in zip(averaged, backup):
                weight.copy_(live)


def warn_if_averages_miss_torch(nlp: Language) -> None:
    """Warn when the config asks for averaged weights without the callback: the averages would
    reach thinc layers (a CNN tok2vec) but not the tagger head, a mismatched pair."""
    config = nlp.config
    averages = config.get("training", {}).get("optimizer", {}).get("use_averages") is True
    after_init = config.get("initialize", {}).get("after_init") or {}
    if averages and after_init.get("@callbacks") != CALLBACK:
        warnings.warn(
            "[training.optimizer] use_averages = true, but thinc 8.3 applies the averages to no torch layer "
            "(the tagger head, a transformer): set [initialize] after_init = "
            f'{{"@callbacks":"{CALLBACK}"}} (configs/parts/averaged_weights.cfg does both)'
        )
