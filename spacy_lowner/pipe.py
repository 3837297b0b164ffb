"""The trainable NER component `lowner_ner`."""
import warnings
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional

import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.training.iob_utils import biluo_tags_to_spans
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, get_torch_default_device, set_dropout_rate
from thinc.types import Ints1d

from .architectures import head_module
from .batch import training_batch
from .layers.head import DECODERS, TaggerHead
from .objectives import Objective
from .registry import lowner_objectives
from .tags import SCHEMES, TagScheme

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_lowner.TokenTagger.v1"
hidden_width = 0
dropout = 0.1

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


@Language.factory(
    "lowner_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_MODEL,
        "scheme": "BIO",
        "decoder": "crf",
        "objectives": {"supervised": {"@lowner_objectives": "supervised", "weight": 1.0}},
        "scorer": {"@scorers": "spacy_lowner.entity_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_lowner_ner(
    nlp: Language,
    name: str,
    model: Model,
    scheme: str,
    decoder: str,
    # Typed Any because confection 1.3 type-checks a dict of promises before resolving them;
    # LowNERTagger checks that every value is an Objective.
    objectives: Dict[str, Any],
    scorer: Optional[Callable],
) -> "LowNERTagger":
    """A token-tagging NER component for low-resource training.

    model: a `spacy_lowner.TokenTagger.v1` over any tok2vec.
    scheme: "BIO" or "BIOES", the tags derived from the entity labels.
    decoder: "crf" (a CRF restricted to valid tag transitions) or "softmax"
        (token scores decoded by Viterbi under the same restrictions).
    objectives: the training objectives by name; all their losses are summed each step.
    scorer: entity-level P/R/F, overall and per type.
    """
    return LowNERTagger(
        nlp.vocab, model, name, scheme=scheme, decoder=decoder, objectives=objectives, scorer=scorer
    )


class LowNERTagger(TrainablePipe):
    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "lowner_ner",
        *,
        scheme: str = "BIO",
        decoder: str = "crf",
        objectives: Optional[Dict[str, Objective]] = None,
        scorer: Optional[Callable] = None,
    ):
        if scheme not in SCHEMES:
            raise ValueError(f"{name}: unknown scheme '{scheme}', use one of {SCHEMES}")
        if decoder not in DECODERS:
            raise ValueError(f"{name}: unknown decoder '{decoder}', use one of {DECODERS}")
        if not objectives:
            raise ValueError(f"{name}: configure at least one objective, e.g. 'supervised'")
        for key, objective in objectives.items():
            if not isinstance(objective, Objective):
                raise ValueError(
                    f"{name}: objectives.{key} is not an objective; give it a block with "
                    f'@lowner_objectives = "<name>" (registered: {sorted(lowner_objectives.get_all())})'
                )
        self.vocab = vocab
        self.model = model
        self.name = name
        self.objectives = objectives
        self.scorer = scorer
        self.cfg: Dict = {"labels": [], "scheme": scheme, "decoder": decoder}
        self._scheme_key: Optional[tuple] = None  # what the cached TagScheme was built from

    @property
    def labels(self) -> tuple:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def scheme(self) -> TagScheme:
        # Built again only when the labels change (add_label, from_disk), not on every batch.
        key = (self.labels, self.cfg["scheme"])
        if self._scheme_key != key:
            self._scheme, self._scheme_key = TagScheme(*key), key
        return self._scheme

    @property
    def head(self) -> TaggerHead:
        return head_module(self.model)

    def add_label(self, label: str) -> int:
        if label in self.cfg["labels"]:
            return 0
        self.cfg["labels"] = sorted(self.cfg["labels"] + [label])
        return 1

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Collect the labels (or take them from `[initialize.components.<name>.labels]`,
        needed when the training corpus is streamed), size the head and the objectives."""
        validate_get_examples(get_examples, "LowNERTagger.initialize")
        if labels is None:
            labels = sorted(
                {ent.label_ for eg in get_examples() for ent in eg.reference.ents}
            )
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(
                f"{self.name}: no entity labels found in the training data; "
                f"give them in [initialize.components.{self.name}.labels]"
            )
        doc_sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)
        width = self.model.get_ref("tok2vec").predict(doc_sample)[0].shape[1]
        head = self.head
        head.build(n_in=int(width), scheme=self.scheme.to_dict(), decoder=self.cfg["decoder"])
        head.to(get_torch_default_device())
        for objective in self.objectives.values():
            objective.initialize(head, self.scheme, get_examples)

    def predict(self, docs: Iterable[Doc]) -> List[Ints1d]:
        return self.model.predict(list(docs))

    def set_annotations(self, docs: Iterable[Doc], tag_ids: List[Ints1d]) -> None:
        scheme = self.scheme
        for doc, ids in zip(docs, tag_ids):
            doc.ents = biluo_tags_to_spans(doc, scheme.to_biluo(ids.tolist()))

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Sum every objective's loss terms into one loss, backpropagate it once through the
        head and once through the tok2vec, then let the optimizer step."""
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "LowNERTagger.update")
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        set_dropout_rate(self.model, drop)
        tokvecs, backprop_tokvecs = self.model.get_ref("tok2vec").begin_update(docs)
        batch = training_batch(examples, tokvecs, self.scheme)
        head = self.head
        head.train()
        terms: Dict[str, torch.Tensor] = {}
        for objective in self.objectives.values():
            terms.update(objective(batch, head))
        if not terms:
            return losses
        total = torch.stack(list(terms.values())).sum()
        if not torch.isfinite(total):
            warnings.warn(f"{self.name}: skipped a batch with a non-finite loss ({terms})")
            return losses
        total.backward()
        backprop_tokvecs(batch.input_gradients())
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += float(total.detach())
        reported = {key: float(value.detach()) for key, value in terms.items()}
        for objective in self.objectives.values():
            reported.update(objective.report())
        for key, value in reported.items():
            losses[f"{self.name}_{key}"] = losses.get(f"{self.name}_{key}", 0.0) + value
        return losses
