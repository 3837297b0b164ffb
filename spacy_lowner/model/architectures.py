"""Registered thinc architectures."""
from typing import List, Optional, Tuple

import numpy
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, PyTorchWrapper_v3
from thinc.types import Floats2d, Ints1d

from ..errors import NonFiniteScoresError
from .batch import TaggerBatch, pad_features
from .channels import doc_domain
from .head import TaggerHead, deserialize_head, serialize_head


@registry.architectures("spacy_lowner.TokenTagger.v1")
def build_token_tagger(
    tok2vec: Model[List[Doc], List[Floats2d]], hidden_width: int = 0, dropout: float = 0.1
) -> Model[List[Doc], List[Ints1d]]:
    """A token tagger over any tok2vec (a transformer or tok2vec listener, or an inline one).
    Kept so that pipelines saved with it load; new configs use v2.

    tok2vec: gives one vector per token.
    hidden_width: width of a LeakyReLU hidden layer before the tag scores; 0 for a linear head.
    dropout: dropout on the token vectors (and after the hidden layer).

    The model predicts tag ids per doc. Training does not go through its forward pass:
    `lowner_ner.update()` runs the tok2vec and the head's torch module directly so that every
    objective shares one backward pass.
    """
    return _token_tagger(tok2vec, TaggerHead(hidden_width=hidden_width, dropout=dropout))


@registry.architectures("spacy_lowner.TokenTagger.v2")
def build_token_tagger_v2(
    tok2vec: Model[List[Doc], List[Floats2d]], hidden_width: int = 0, dropout: float = 0.1
) -> Model[List[Doc], List[Ints1d]]:
    """v1, plus a slot for a learned token transform (layers/transforms.py) that an objective
    installs, that is saved with the pipeline and that prediction applies to the docs of its
    domains (e.g. a cross-lingual mapping). Modules objectives add for training only stay
    unsaved, as in v1.

    tok2vec: gives one vector per token.
    hidden_width: width of a LeakyReLU hidden layer before the tag scores; 0 for a linear head.
    dropout: dropout on the token vectors (and after the hidden layer).
    """
    return _token_tagger(tok2vec, TaggerHead(hidden_width=hidden_width, dropout=dropout, transform_slot=True))


def _token_tagger(tok2vec: Model, head_module_: TaggerHead) -> Model:
    head = PyTorchWrapper_v3(head_module_, serialize_model=serialize_head, deserialize_model=deserialize_head)
    return Model(
        "lowner_token_tagger",
        forward,
        init=init,
        layers=[tok2vec, head],
        refs={"tok2vec": tok2vec, "head": head},
    )


def head_module(model: Model) -> TaggerHead:
    return model.get_ref("head").shims[0]._model


def init(model: Model, X: List[Doc] = None, Y=None) -> None:
    # The head is sized by the component (it knows the labels and the decoder).
    model.get_ref("tok2vec").initialize(X=X)


def forward(model: Model, docs: List[Doc], is_train: bool):
    if is_train:
        raise NotImplementedError("lowner_ner trains through its update() method")
    paths = [numpy.zeros(0, dtype="int64") for _ in docs]
    scored = score_docs(model, docs)
    if scored is not None:
        filled, batch, scores = scored
        with torch.no_grad():
            _unpad_into(paths, filled, head_module(model).decode(scores, batch.mask), batch.lengths)
    return paths, _no_backprop


def predict_with_marginals(model: Model, docs: List[Doc]) -> Tuple[List[Ints1d], List[Floats2d]]:
    """What `predict` gives (each doc's decoded tag ids) and, from the same tag scores, each
    doc's (n_tokens, n_tags) distribution over tags per token (CRF marginals, or the softmax
    with that decoder)."""
    head = head_module(model)
    paths = [numpy.zeros(0, dtype="int64") for _ in docs]
    marginals = [numpy.zeros((0, head.n_tags), dtype="float32") for _ in docs]
    scored = score_docs(model, docs)
    if scored is not None:
        filled, batch, scores = scored
        with torch.no_grad():
            _unpad_into(paths, filled, head.decode(scores, batch.mask), batch.lengths)
            _unpad_into(marginals, filled, head.marginals(scores, batch.mask), batch.lengths)
    return paths, marginals


def _unpad_into(outputs: list, filled: List[int], padded: torch.Tensor, lengths: List[int]) -> None:
    """outputs[filled[j]] = padded[j] cut to its doc's length, as a numpy array."""
    for i, rows, n in zip(filled, padded.cpu().numpy(), lengths):
        outputs[i] = rows[:n]


def score_docs(model: Model, docs: List[Doc]) -> Optional[Tuple[List[int], TaggerBatch, torch.Tensor]]:
    """The head's tag scores (B, T, n_tags) for the non-empty docs, with their indices in docs
    and their padded batch; None if every doc is empty."""
    # Empty docs never reach the tok2vec: spacy-transformers' pooling fails on a batch whose
    # docs are all empty.
    filled = [i for i, doc in enumerate(docs) if len(doc)]
    if not filled:
        return None
    head = head_module(model)
    tokvecs = model.get_ref("tok2vec").predict([docs[i] for i in filled])
    batch = pad_features(tokvecs, requires_grad=False)
    head.eval()
    with torch.no_grad():
        scores = head(batch.features, [doc_domain(docs[i]) for i in filled])
    if not bool(torch.isfinite(scores[batch.mask]).all()):
        # A model whose weights diverged would otherwise tag everything O, silently.
        raise NonFiniteScoresError(
            "lowner_ner: the model gives non-finite tag scores (its weights are broken, e.g. "
            "by training that diverged); retrain it with a lower learning rate"
        )
    return filled, batch, scores


def _no_backprop(d_output):
    raise NotImplementedError("lowner_ner trains through its update() method")
