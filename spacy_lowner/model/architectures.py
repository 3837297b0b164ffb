"""Registered thinc architectures."""
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)

import numpy
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, PyTorchWrapper_v3, get_array_module, xp2torch
from thinc.layers.chain import forward as chain_forward
from thinc.types import Floats2d, Ints1d

from ..errors import NonFiniteScoresError
from ..registry import lowner_head_modules
from ..settings import Fraction, NonNegativeInt, PositiveInt
from .batch import pad_features
from .channels import doc_domain
from .head import TaggerHead, deserialize_head, serialize_head

# Tokens per prediction window (`window` of the architectures): spaCy's CNN tok2vec holds about
# 19 KB per token while it predicts, so a window takes about 80 MB whatever the doc's length.
DEFAULT_WINDOW = 4096
# Tokens of context a window is run with on each side beyond the tokens it keeps: far more
# than a CNN tok2vec's receptive field (depth x window_size, 4 in the shipped configs), so a
# window's vectors and tag scores are those of the whole doc; a contextual head module
# (BiLSTM, self-attention) sees this much past each edge instead of the whole doc.
WINDOW_CONTEXT = 64


@dataclass(frozen=True)
class Windows:
    """How prediction cuts a doc longer than `length` tokens: windows of `length` tokens, each
    run with `context` tokens more on both sides, whose kept parts are put back together.

    It sits in the model's attrs as an object msgpack cannot write, so thinc leaves it out of
    the saved model: the window of the config, not of the pipeline's first save, applies."""

    length: int
    context: int = WINDOW_CONTEXT

    def cuts(self, n_tokens: int) -> Iterator["Cut"]:
        """The windows of a doc of n_tokens tokens, in order."""
        for start in range(0, n_tokens, self.length):
            end = min(n_tokens, start + self.length)
            run = slice(max(0, start - self.context), min(n_tokens, end + self.context))
            yield Cut(run=run, keep=slice(start - run.start, end - run.start), kept=slice(start, end))


class Cut(NamedTuple):
    """One window: the tokens it runs on (`run`, a slice of the doc), and the ones it keeps, as
    a slice of the window (`keep`) and of the doc (`kept`)."""

    run: slice
    keep: slice
    kept: slice


@registry.architectures("spacy_lowner.WindowedTok2Vec.v1")
def build_windowed_tok2vec(
    embed: Model[List[Doc], List[Floats2d]],
    encode: Model[List[Floats2d], List[Floats2d]],
    window: PositiveInt = DEFAULT_WINDOW,
) -> Model[List[Doc], List[Floats2d]]:
    """spaCy's Tok2Vec.v2 (the same layers and weights, so that a pipeline or `spacy pretrain`
    weights saved with it load, and the other way round) that predicts a doc longer than
    `window` tokens a window at a time: its temporary memory is bounded by the window instead
    of growing with the doc (about 19 KB per token). For the tok2vec component that
    `lowner_ner` listens to; an inline tok2vec is windowed by the TokenTagger itself.

    embed, encode: as in spacy.Tok2Vec.v2.
    window: tokens per window (each run with 64 tokens of context on both sides).
    """
    tok2vec = registry.architectures.get("spacy.Tok2Vec.v2")(embed, encode)
    tok2vec.replace_callbacks(_windowed_chain_forward, init=tok2vec.init)
    tok2vec.attrs["windows"] = Windows(window)
    return tok2vec


def _windowed_chain_forward(model: Model, docs: List[Doc], is_train: bool):
    windows = model.attrs["windows"]
    if is_train or all(len(doc) <= windows.length for doc in docs):
        return chain_forward(model, docs, is_train)
    return predict_in_windows(lambda batch: chain_forward(model, batch, False)[0], docs, windows), _predicted_in_windows


def _predicted_in_windows(d_output):
    raise NotImplementedError("a tok2vec predicts in windows only when not training")


def predict_in_windows(predict: Callable[[List[Doc]], List[Floats2d]], docs: Sequence[Doc], windows: Windows) -> List[Floats2d]:
    """What `predict(docs)` gives, with each doc longer than the window predicted a window at a
    time (plus its context) and its windows' vectors put together; the other docs in one call."""
    vectors: List[Optional[Floats2d]] = [None] * len(docs)
    short = [i for i, doc in enumerate(docs) if len(doc) <= windows.length]
    if short:
        for i, doc_vectors in zip(short, predict([docs[i] for i in short])):
            vectors[i] = doc_vectors
    for i, doc in enumerate(docs):
        if vectors[i] is None:
            vectors[i] = _predict_long_doc(predict, doc, windows)
    return vectors


def _predict_long_doc(predict: Callable[[List[Doc]], List[Floats2d]], doc: Doc, windows: Windows) -> Floats2d:
    # as_doc computes the doc's array for every window unless given it (a second per window
    # on a 1M-token doc): computed once here.
    heads = doc._get_array_attrs()
    array = doc.to_array(heads)
    output = None
    for cut in windows.cuts(len(doc)):
        kept = predict([doc[cut.run].as_doc(array_head=heads, array=array)])[0][cut.keep]
        if output is None:  # filled in place: a list of parts and their concatenation would be two copies
            output = get_array_module(kept).empty((len(doc), kept.shape[1]), dtype=kept.dtype)
        output[cut.kept] = kept
    return output


@registry.architectures("spacy_lowner.TokenTagger.v1")
def build_token_tagger(
    tok2vec: Model[List[Doc], List[Floats2d]], hidden_width: NonNegativeInt = 0, dropout: Fraction = 0.1
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
    return _token_tagger(tok2vec, TaggerHead(hidden_width=hidden_width, dropout=dropout), DEFAULT_WINDOW)


@registry.architectures("spacy_lowner.TokenTagger.v2")
def build_token_tagger_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: NonNegativeInt = 0,
    dropout: Fraction = 0.1,
    window: PositiveInt = DEFAULT_WINDOW,
) -> Model[List[Doc], List[Ints1d]]:
    """v1, plus a slot for a learned token transform (layers/transforms.py) that an objective
    installs, that is saved with the pipeline and that prediction applies to the docs of its
    domains (e.g. a cross-lingual mapping). Modules objectives add for training only stay
    unsaved, as in v1.

    tok2vec: gives one vector per token.
    hidden_width: width of a LeakyReLU hidden layer before the tag scores; 0 for a linear head.
    dropout: dropout on the token vectors (and after the hidden layer).
    window: prediction runs a doc longer than this many tokens a window at a time through an
        inline tok2vec and the head (not a listened one: see spacy_lowner.WindowedTok2Vec.v1).
    """
    head = TaggerHead(hidden_width=hidden_width, dropout=dropout, transform_slot=True)
    return _token_tagger(tok2vec, head, window)


@registry.architectures("spacy_lowner.TokenTagger.v3")
def build_token_tagger_v3(
    tok2vec: Model[List[Doc], List[Floats2d]],
    # Typed Any because confection type-checks a dict of promises before resolving them;
    # each value is checked to be a head module builder below.
    modules: Dict[str, Any] = {},  # noqa: B006  (confection needs a literal default)
    hidden_width: NonNegativeInt = 0,
    dropout: Fraction = 0.1,
    window: PositiveInt = DEFAULT_WINDOW,
) -> Model[List[Doc], List[Ints1d]]:
    """A token tagger whose head is a stack of head modules (a BiLSTM, self-attention, a map
    per domain, shared and private modules per domain: layers/), each a named block such as

        [components.lowner_ner.model.modules]

        [components.lowner_ner.model.modules.bilstm]
        @lowner_head_modules = "spacy_lowner.bilstm.v1"
        width = 200

    applied in the order of their blocks between the token vectors and the hidden layer,
    saved with the pipeline and used at prediction. With no module it is v2 without the
    transform slot. Docs of a domain whose training corpus has other entity types get a tag
    projection and CRF of their own (the component's label sets per domain).

    tok2vec: gives one vector per token.
    modules: the head modules by name, in order.
    hidden_width: width of a LeakyReLU hidden layer before the tag scores; 0 for a linear head.
    dropout: dropout on the token vectors (and after the hidden layer).
    window: prediction runs a doc longer than this many tokens a window at a time through an
        inline tok2vec and the head, as in v2.
    """
    for name, builder in modules.items():
        if name == "input":
            raise ValueError(
                'TokenTagger.v3: "input" names the head\'s input among its stack outputs; give modules.input another name'
            )
        if not callable(builder):
            raise ValueError(
                f"TokenTagger.v3: modules.{name} is not a head module; give it a block with "
                f'@lowner_head_modules = "<name>" (registered: {sorted(lowner_head_modules.get_all())})'
            )
    head = TaggerHead(hidden_width=hidden_width, dropout=dropout, modules=modules)
    return _token_tagger(tok2vec, head, window)


def _token_tagger(tok2vec: Model, head_module_: TaggerHead, window: int) -> Model:
    head = PyTorchWrapper_v3(head_module_, serialize_model=serialize_head, deserialize_model=deserialize_head)
    return Model(
        "lowner_token_tagger",
        forward,
        init=init,
        layers=[tok2vec, head],
        refs={"tok2vec": tok2vec, "head": head},
        attrs={"windows": Windows(window)},
    )


def head_module(model: Model) -> TaggerHead:
    return model.get_ref("head").shims[0]._model


def check_loaded(model: Model) -> None:
    """thinc restores a model's references from the saved file: a damaged byte there can leave
    `head` or `tok2vec` pointing at another layer, which loads without an error."""
    if model.get_ref("tok2vec") is not model.layers[0] or model.get_ref("head") is not model.layers[1]:
        raise ValueError("the saved model's layers are not where its references say: the file is damaged")


def init(model: Model, X: List[Doc] = None, Y=None) -> None:
    # The head is sized by the component (it knows the labels and the decoder).
    model.get_ref("tok2vec").initialize(X=X)


def forward(model: Model, docs: List[Doc], is_train: bool):
    if is_train:
        raise NotImplementedError("lowner_ner trains through its update() method")
    head = head_module(model)
    paths = [numpy.zeros(0, dtype="int64") for _ in docs]
    for indices, mask, scores in score_docs(model, docs):
        with torch.no_grad():
            _unpad_into(paths, indices, head.decode(scores, mask), mask)
    return paths, _no_backprop


def predict_with_marginals(model: Model, docs: List[Doc]) -> Tuple[List[Ints1d], List[Floats2d]]:
    """What `predict` gives (each doc's decoded tag ids) and, from the same tag scores, each
    doc's (n_tokens, n_tags) distribution over tags per token (CRF marginals, or the softmax
    with that decoder)."""
    head = head_module(model)
    windows = model.attrs["windows"]
    paths = [numpy.zeros(0, dtype="int64") for _ in docs]
    marginals = [numpy.zeros((0, head.n_tags), dtype="float32") for _ in docs]
    for indices, mask, scores in score_docs(model, docs):
        with torch.no_grad():
            _unpad_into(paths, indices, head.decode(scores, mask), mask)
            if scores.shape[1] <= windows.length:
                _unpad_into(marginals, indices, head.marginals(scores, mask), mask)
            else:
                marginals[indices[0]] = _windowed_marginals(head, scores, windows)
    return paths, marginals


def _windowed_marginals(head: TaggerHead, scores: torch.Tensor, windows: Windows) -> Floats2d:
    """The (T, n_tags) marginals of one long doc's (1, T, n_tags) scores, a window (with its
    context) at a time: the CRF's forward-backward keeps about 2 KB per token. A window's
    context makes its marginals those of the whole doc to float precision: the CRF forgets
    what lies 64 tokens away. (Viterbi decoding runs over the whole doc, exact: it keeps 8
    bytes per tag per token.)"""
    parts = []
    for cut in windows.cuts(scores.shape[1]):
        window = scores[:, cut.run]
        mask = torch.ones(window.shape[:2], dtype=torch.bool, device=window.device)
        parts.append(head.marginals(window, mask)[0, cut.keep].cpu().numpy())
    return numpy.concatenate(parts)


def _unpad_into(outputs: list, indices: List[int], padded: torch.Tensor, mask: torch.Tensor) -> None:
    """outputs[indices[j]] = padded[j] cut to its doc's length, as a numpy array."""
    for i, rows, n in zip(indices, padded.cpu().numpy(), mask.sum(1).tolist()):
        outputs[i] = rows[:n]


def score_docs(model: Model, docs: List[Doc]) -> Iterator[Tuple[List[int], torch.Tensor, torch.Tensor]]:
    """The head's tag scores of the non-empty docs, a group at a time: (the docs' indices in
    `docs`, their (B, T) mask of real tokens, their (B, T, n_tags) scores). The docs up to the
    window's length are one padded group; a longer doc is a group of its own, run through an
    inline tok2vec and the head a window at a time, so that memory is bounded by the window
    (padded with it, every short doc of the batch would take the long doc's length too)."""
    # Empty docs never reach the tok2vec: spacy-transformers' pooling fails on a batch whose
    # docs are all empty.
    filled = [i for i, doc in enumerate(docs) if len(doc)]
    windows = model.attrs["windows"]
    short = [i for i in filled if len(docs[i]) <= windows.length]
    head = head_module(model)
    head.eval()
    if short:
        tokvecs = model.get_ref("tok2vec").predict([docs[i] for i in short])
        batch = pad_features(tokvecs, requires_grad=False)
        with torch.no_grad():
            scores = head(batch.features, [doc_domain(docs[i]) for i in short], batch.mask)
        yield short, batch.mask, _finite(scores, batch.mask)
    for i in filled:
        if len(docs[i]) > windows.length:
            mask, scores = _score_long_doc(model, head, docs[i], windows)
            yield [i], mask, _finite(scores, mask)


def _score_long_doc(model: Model, head: TaggerHead, doc: Doc, windows: Windows) -> Tuple[torch.Tensor, torch.Tensor]:
    """(1, T) mask and (1, T, n_tags) scores of a doc longer than the window, its tok2vec and
    head run a window at a time with the window's context. A listener reads what its upstream
    component computed for the whole doc (a transformer strides, spacy_lowner.WindowedTok2Vec.v1
    windows a CNN): only an inline tok2vec is windowed here."""
    tok2vec = model.get_ref("tok2vec")
    if _listens(tok2vec):
        vectors = tok2vec.predict([doc])[0]
    else:
        vectors = predict_in_windows(tok2vec.predict, [doc], windows)[0]
    rows = xp2torch(vectors).float()
    parts = []
    with torch.no_grad():
        for cut in windows.cuts(len(doc)):
            window = rows[cut.run].unsqueeze(0)
            mask = torch.ones(window.shape[:2], dtype=torch.bool, device=window.device)
            parts.append(head(window, [doc_domain(doc)], mask)[0, cut.keep])
    scores = torch.cat(parts).unsqueeze(0)
    return torch.ones(scores.shape[:2], dtype=torch.bool, device=scores.device), scores


def _listens(tok2vec: Model) -> bool:
    """Whether the tok2vec reads another component's output (spaCy's and spacy-transformers'
    listeners both name their upstream) rather than computing it from the doc."""
    return any(hasattr(node, "upstream_name") for node in tok2vec.walk())


def _finite(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not bool(torch.isfinite(scores[mask]).all()):
        # A model whose weights diverged would otherwise tag everything O, silently.
        raise NonFiniteScoresError(
            "lowner_ner: the model gives non-finite tag scores (its weights are broken, e.g. "
            "by training that diverged); retrain it with a lower learning rate"
        )
    return scores


def _no_backprop(d_output):
    raise NotImplementedError("lowner_ner trains through its update() method")
