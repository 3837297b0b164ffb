"""The KL regularisers as their paper runs them: a second training phase, after the tagger has
been trained (BERT NER with KL regularisers; the authors' code, AdamStein97/Semi-Supervised-BERT-NER).

From a trained pipeline it runs N pairs of steps: one step on a KL term over an unlabeled
batch, with an optimizer of its own, then one supervised step over a labeled batch, with
another (the pipeline's own objectives, as its training ran them); 40 pairs for the
data-distribution KL (`prior`), 80 for the confidence KL, as in the paper. By default, as
there, the encoder is frozen and only the lowner_ner head trains, and, as in the authors' code,
the confidence KL's sharpened target is not held constant and neither term is averaged (the
confidence KL is a sum over the batch's tokens, the prior KL one value per batch).

With `kl_steps = 0` it is the control: the same continuation, with the same labeled batches in
the same order, and no KL step. Dev is scored before the first pair and every `eval_every`
pairs; the pipeline that scores best (the one loaded, if no pair beats it) and the last one are
saved. The paper picks no checkpoint: it reports the last.

The optimizers are thinc's Adam, not torch.optim.Adam: with the encoder training, a step goes
through `nlp.update`, which steps a tok2vec or transformer only with a thinc optimizer, and one
kind of optimizer in both modes keeps them comparable. They are fresh and set as the authors'
Keras Adam is: no weight decay, no gradient clipping, no averages.
"""
import random
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from thinc.api import Adam, Optimizer

from ..component.pipe import LowNERTagger
from ..component.runner import ObjectiveRunner
from ..corpora.docs import tokens_only
from ..layers.losses import doc_mean, kl_divergence
from ..model.batch import TaggerBatch, training_batch
from ..model.head import TaggerHead
from ..model.scoring import score_entities, score_token_accuracy, score_tokens
from ..objectives import Objective, ObjectiveContext
from ..objectives.kl_confidence import sharpen, sharpened_target
from ..objectives.kl_prior import make_kl_prior
from .pseudo_labels import find_tagger

TERMS = ("prior", "confidence")
# The paper's number of (KL step, supervised step) pairs for each term.
PAPER_PAIRS = {"prior": 40, "confidence": 80}
# "sum": the authors' (the confidence KL summed over the tokens, the prior KL one value per
# batch); "doc_mean": the objectives' scale (per unlabeled doc, layers/losses.py).
REDUCTIONS = ("sum", "doc_mean")
# The dev score that picks the best pair, the one `spacy train` picks lowner_ner's model-best by.
SELECTION_SCORE = "ents_f"


@dataclass
class KLPhaseSettings:
    """term: "prior" (the data-distribution KL) or "confidence".
    pairs: the number of pairs; None: the paper's (40 for prior, 80 for confidence).
    kl_steps: KL steps per pair, 1 as in the paper; 0 is the control (supervised steps only).
    batch_size: docs per batch, labeled and unlabeled (the paper: 128 sentences).
    learn_rate, kl_learn_rate: of the supervised and of the KL optimizer (the authors': 1e-3).
    freeze_encoder: only the lowner_ner head trains, on the encoder's output in inference mode
        (the paper's frozen BERT); False: both steps go through `nlp.update` and train the
        encoder too.
    stop_gradient: hold the confidence KL's sharpened target constant, as the kl_confidence
        objective does; the authors' code does not.
    reduction: "sum" (the authors') or "doc_mean" (the objectives' scale), see REDUCTIONS.
    eval_every: score dev every this many pairs, and after the last (the authors scored
        every 10).
    seed: the batch order and the dropout masks.
    """

    term: str = "confidence"
    pairs: Optional[int] = None
    kl_steps: int = 1
    batch_size: int = 128
    learn_rate: float = 0.001
    kl_learn_rate: float = 0.001
    freeze_encoder: bool = True
    stop_gradient: bool = False
    reduction: str = "sum"
    eval_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if self.term not in TERMS:
            raise ValueError(f"the KL term must be one of {', '.join(TERMS)}, got {self.term!r}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"the reduction must be one of {', '.join(REDUCTIONS)}, got {self.reduction!r}")
        if self.stop_gradient and self.term != "confidence":
            raise ValueError("stop_gradient applies to the confidence KL only (the prior KL's target is the fixed prior)")
        for name in ("pairs", "batch_size", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.kl_steps < 0:
            raise ValueError(f"kl_steps must be 0 (the control) or more, got {self.kl_steps}")
        for name in ("learn_rate", "kl_learn_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be above 0, got {getattr(self, name)}")

    @property
    def n_pairs(self) -> int:
        return PAPER_PAIRS[self.term] if self.pairs is None else self.pairs


@dataclass
class Checkpoint:
    """The dev scores after `pair` pairs (0: the pipeline as loaded), with the mean KL and
    supervised losses of the steps since the previous checkpoint (None where there were none)."""

    pair: int
    scores: Dict[str, float]
    kl_loss: Optional[float] = None
    supervised_loss: Optional[float] = None

    @property
    def score(self) -> float:
        return self.scores.get(SELECTION_SCORE, 0.0)


@dataclass
class KLPhaseResult:
    """Every checkpoint, the best on dev (saved as model-best) and the steps taken."""

    curve: List[Checkpoint]
    best: Checkpoint
    kl_steps: int
    supervised_steps: int

    def to_dict(self) -> Dict:
        return asdict(self)


def kl_loss(
    term: str,
    probs: torch.Tensor,
    tokens: torch.Tensor,
    prior: Optional[torch.Tensor] = None,
    *,
    stop_gradient: bool = False,
    reduction: str = "sum",
) -> torch.Tensor:
    """A KL term of the tag distributions `probs` (B, T, K) at `tokens` (B, T, bool).

    prior: KL(prior || mean of the distributions), `prior` (K,) the tag frequencies.
    confidence: the sum over the tokens of KL(p || q), p the sharpened q (kl_confidence.py),
        with or without the gradient through p.
    reduction: "sum" leaves both as they are (the authors'); "doc_mean" divides the confidence
        KL by the docs that have tokens and multiplies the prior KL by the tokens per such doc,
        the scale of the kl_confidence and kl_prior objectives.
    """
    n_docs = tokens.any(1).sum().clamp(min=1)
    selected = probs[tokens]
    if term == "prior":
        value = kl_divergence(prior, selected.mean(0))
        return value if reduction == "sum" else value * len(selected) / n_docs
    target = torch.zeros_like(probs)
    target[tokens] = sharpened_target(selected) if stop_gradient else sharpen(selected)
    values = kl_divergence(target, probs)
    return (values * tokens).sum() if reduction == "sum" else doc_mean(values, tokens)


class KLTerm(Objective):
    """A KL term on the unlabeled tokens of a batch, as an objective, so that with the encoder
    training it runs through the component's own update."""

    def __init__(self, term: str, stop_gradient: bool = False, reduction: str = "sum"):
        super().__init__()
        self.term = term
        self.stop_gradient = stop_gradient
        self.reduction = reduction
        self.prior: Optional[torch.Tensor] = None

    def initialize(self, context: ObjectiveContext) -> None:
        if self.term == "prior":
            # The kl_prior objective's prior: the labeled docs' tag frequencies, smoothed.
            source = make_kl_prior()
            source.initialize(context)
            self.prior = source.prior

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        tokens = batch.unlabeled_tokens
        if not bool(tokens.any()):
            return {}
        probs = batch.marginals(head)
        value = kl_loss(self.term, probs, tokens, self.prior, stop_gradient=self.stop_gradient, reduction=self.reduction)
        return {"": value}


def paper_adam(learn_rate: float) -> Optimizer:
    """A fresh Adam set as the authors' Keras Adam: no weight decay, clipping or averages."""
    return Adam(learn_rate, L2=0.0, grad_clip=0.0, use_averages=False)


def frozen_batch(nlp: Language, name: str, examples: Sequence[Example]) -> TaggerBatch:
    """`examples` as the head of the component `name` trains on them, with the encoder in
    inference mode (no dropout, no gradient: the paper's frozen BERT): the components before it
    (a tok2vec or transformer its listener reads) annotate copies of the docs, then its tok2vec
    predicts. Copies, so that the docs kept for later passes do not keep a transformer's output."""
    component: LowNERTagger = nlp.get_pipe(name)
    names = nlp.pipe_names
    docs = nlp.pipe((tokens_only(eg.predicted, nlp.vocab) for eg in examples), disable=names[names.index(name) :])
    annotated = [Example(doc, eg.reference) for doc, eg in zip(docs, examples)]
    tokvecs = component.model.get_ref("tok2vec").predict([eg.predicted for eg in annotated])
    return training_batch(annotated, tokvecs, component.scheme, component.domain_schemes)


@contextmanager
def objectives_of(component: LowNERTagger, runner: ObjectiveRunner) -> Iterator[None]:
    """The component trains with `runner`'s objectives while the block runs."""
    trained = component.runner
    component.runner = runner
    try:
        yield
    finally:
        component.runner = trained


def dev_scores(nlp: Language, dev: Sequence[Example]) -> Dict[str, float]:
    """Entity P/R/F (and per type and group) and the paper's token-level scores (macro F1
    without O, accuracy without O) of the pipeline on copies of the dev docs."""
    predicted = nlp.pipe(tokens_only(eg.predicted, nlp.vocab) for eg in dev)
    examples = [Example(doc, eg.reference) for doc, eg in zip(predicted, dev)]
    scores = {**score_entities(examples), **score_tokens(examples), **score_token_accuracy(examples)}
    return {key: value for key, value in scores.items() if isinstance(value, float)}


def shuffled_batches(examples: Sequence[Example], size: int, rng: random.Random) -> Iterator[List[Example]]:
    """Batches of `size` examples without end, each pass over them in a new order from `rng`
    (the last batch of a pass may be smaller)."""
    while True:
        order = list(examples)
        rng.shuffle(order)
        yield from minibatch(order, size=size)


def training_dropout(nlp: Language) -> float:
    """[training] dropout of the pipeline's config, what `spacy train` gave nlp.update (0 if unset)."""
    value = nlp.config.get("training", {}).get("dropout", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


class KLPhase:
    """The second training phase on a trained pipeline `nlp` (changed in place).

    labeled: examples whose reference docs carry entity annotation; unlabeled: examples whose
    reference docs carry none (as the readers give them). component: the lowner_ner
    component's name, if the pipeline has several.
    """

    def __init__(
        self,
        nlp: Language,
        labeled: Sequence[Example],
        unlabeled: Sequence[Example],
        settings: KLPhaseSettings,
        component: Optional[str] = None,
    ):
        self.nlp = nlp
        self.name = find_tagger(nlp, component)
        self.component: LowNERTagger = nlp.get_pipe(self.name)
        self.settings = settings
        self.labeled = _with_tokens(labeled, annotated=True, what="labeled")
        self.unlabeled = _with_tokens(unlabeled, annotated=False, what="unlabeled") if settings.kl_steps else []
        term = KLTerm(settings.term, settings.stop_gradient, settings.reduction)
        self.kl_runner = ObjectiveRunner(self.name, {f"kl_{settings.term}": term})
        self.kl_runner.initialize(
            ObjectiveContext(self.name, self.component.head, self.component.scheme, lambda: self.labeled)
        )
        self.kl_optimizer = paper_adam(settings.kl_learn_rate)
        self.optimizer = paper_adam(settings.learn_rate)
        # Components after the tagger take no part in its training.
        names = nlp.pipe_names
        self.later = names[names.index(self.name) + 1 :]
        self.kl_steps = 0
        self.supervised_steps = 0

    def kl_step(self, examples: Sequence[Example]) -> float:
        """One step of the KL optimizer on the KL term of unlabeled `examples`; its loss."""
        self.kl_steps += 1
        return self._step(self.kl_runner, examples, self.kl_optimizer)

    def supervised_step(self, examples: Sequence[Example]) -> float:
        """One step of the supervised optimizer on the pipeline's own objectives over labeled
        `examples`; the summed loss."""
        self.supervised_steps += 1
        return self._step(self.component.runner, examples, self.optimizer)

    def _step(self, runner: ObjectiveRunner, examples: Sequence[Example], sgd: Optimizer) -> float:
        with objectives_of(self.component, runner):
            if self.settings.freeze_encoder:
                return self._head_step(examples, sgd)
            losses = self.nlp.update(list(examples), sgd=sgd, drop=training_dropout(self.nlp), exclude=self.later)
            return losses.get(self.name, 0.0)

    def _head_step(self, examples: Sequence[Example], sgd: Optimizer) -> float:
        """The component's update with the encoder frozen: its objectives' loss on the frozen
        encoder's output, backpropagated into the head only. `finish_update` steps only
        weights that have a gradient, and the encoder gets none."""
        batch = frozen_batch(self.nlp, self.name, examples)
        head = self.component.head
        head.train()
        terms = self.component.runner.loss(batch, head, self.component.step)
        if not terms:
            return 0.0
        total = torch.stack(list(terms.values())).sum()
        total.backward()
        self.component.runner.batch_accepted()
        self.component.finish_update(sgd)
        return float(total.detach())

    def run(
        self,
        dev: Sequence[Example],
        output: Path,
        progress: Optional[Callable[[Checkpoint, Checkpoint], None]] = None,
    ) -> KLPhaseResult:
        """Score dev, run the pairs, score dev every `eval_every` pairs and after the last, and
        save the best pipeline on dev to output/model-best and the last to output/model-last.
        progress: called with each checkpoint and the best one so far."""
        settings = self.settings
        if not any(eg.reference.ents for eg in dev):
            raise ValueError("the dev docs have no gold entities to pick the best pair by")
        output.mkdir(parents=True, exist_ok=True)
        fix_random_seed(settings.seed)
        # One stream each, so that the control sees the labeled batches of the KL run in its order.
        labeled = shuffled_batches(self.labeled, settings.batch_size, random.Random(settings.seed))
        unlabeled = shuffled_batches(self.unlabeled, settings.batch_size, random.Random(settings.seed))
        best = self._checkpoint(Checkpoint(0, dev_scores(self.nlp, dev)), output / "model-best", progress, None)
        curve = [best]
        kl_losses: List[float] = []
        supervised_losses: List[float] = []
        for pair in range(1, settings.n_pairs + 1):
            kl_losses += [self.kl_step(next(unlabeled)) for _ in range(settings.kl_steps)]
            supervised_losses.append(self.supervised_step(next(labeled)))
            if pair % settings.eval_every and pair != settings.n_pairs:
                continue
            point = Checkpoint(pair, dev_scores(self.nlp, dev), _mean(kl_losses), _mean(supervised_losses))
            curve.append(point)
            best = self._checkpoint(point, output / "model-best", progress, best)
            kl_losses, supervised_losses = [], []
        self._save(curve[-1], output / "model-last")
        return KLPhaseResult(curve, best, self.kl_steps, self.supervised_steps)

    def _checkpoint(
        self, point: Checkpoint, path: Path, progress: Optional[Callable], best: Optional[Checkpoint]
    ) -> Checkpoint:
        """Save the pipeline to `path` if `point` beats `best` (or there is none yet); the best."""
        if best is None or point.score > best.score:
            best = point
            self._save(point, path)
        if progress is not None:
            progress(point, best)
        return best

    def _save(self, point: Checkpoint, path: Path) -> None:
        # As `spacy train` does: the dev scores go in meta.json's performance.
        self.nlp.meta["performance"] = dict(point.scores)
        self.nlp.to_disk(path)


def _with_tokens(examples: Sequence[Example], *, annotated: bool, what: str) -> List[Example]:
    """The examples with at least one token, checked to be labeled (or unlabeled) throughout."""
    kept = [eg for eg in examples if len(eg.predicted)]
    if not kept:
        raise ValueError(f"no {what} docs with any tokens")
    wrong = sum(eg.reference.has_annotation("ENT_IOB") != annotated for eg in kept)
    if wrong:
        state = "no" if annotated else "entity"
        raise ValueError(f"{wrong} of the {what} docs have {state} annotation")
    return kept


def _mean(values: List[float]) -> Optional[float]:
    return mean(values) if values else None
