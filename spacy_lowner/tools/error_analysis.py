"""Where a tagger fails: gold against predicted entities, error by error.

Each doc's gold and predicted entities are matched in the usual order of NER error analysis:
exact matches first (`correct`), then the same span with another label (`wrong_type`), then
overlapping spans, largest overlap first (`wrong_boundary` when the label agrees,
`wrong_type_and_boundary` when it does not); what is left is `missed` (gold) and `spurious`
(predicted). Precision is correct / predicted and recall correct / gold, as in the scorer.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.training import Example

KINDS = ("correct", "wrong_type", "wrong_boundary", "wrong_type_and_boundary", "missed", "spurious")
ERROR_KINDS = KINDS[1:]
# The label of "no entity" in the confusion table.
NONE = "—"

Span = Tuple[int, int, str]  # start, end (token offsets), label


@dataclass
class Match:
    kind: str
    gold: Optional[Span]
    predicted: Optional[Span]

    @property
    def label(self) -> str:
        """The label the match counts under: the gold one, or the predicted one if spurious."""
        return (self.gold or self.predicted)[2]  # type: ignore[index]


def match_entities(gold: Sequence[Span], predicted: Sequence[Span]) -> List[Match]:
    """Pair the entities of one doc (see the module docstring)."""
    gold_left, pred_left = list(gold), list(predicted)
    matches: List[Match] = []

    def take(g: Span, p: Span, kind: str) -> None:
        gold_left.remove(g)
        pred_left.remove(p)
        matches.append(Match(kind, g, p))

    for p in list(pred_left):
        if p in gold_left:
            take(p, p, "correct")
    for p in list(pred_left):
        same_span = [g for g in gold_left if g[:2] == p[:2]]
        if same_span:
            take(same_span[0], p, "wrong_type")
    overlaps = sorted(
        ((min(g[1], p[1]) - max(g[0], p[0]), g, p) for g in gold_left for p in pred_left if g[0] < p[1] and p[0] < g[1]),
        key=lambda item: -item[0],
    )
    for _, g, p in overlaps:
        if g in gold_left and p in pred_left:
            take(g, p, "wrong_boundary" if g[2] == p[2] else "wrong_type_and_boundary")
    matches += [Match("missed", g, None) for g in gold_left]
    matches += [Match("spurious", None, p) for p in pred_left]
    return matches


def entity_spans(doc) -> List[Span]:
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


@dataclass
class DocErrors:
    index: int
    matches: List[Match]

    @property
    def n_errors(self) -> int:
        return sum(m.kind != "correct" for m in self.matches)


@dataclass
class ErrorReport:
    docs: List[DocErrors] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # kind -> count
    by_label: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # label -> kind -> count
    confusion: Counter = field(default_factory=Counter)  # (gold label, predicted label) -> count
    n_gold: int = 0
    n_predicted: int = 0

    def add(self, index: int, matches: List[Match]) -> None:
        self.docs.append(DocErrors(index, matches))
        for m in matches:
            self.counts[m.kind] += 1
            self.by_label[m.label][m.kind] += 1
            self.confusion[(m.gold[2] if m.gold else NONE, m.predicted[2] if m.predicted else NONE)] += 1
            self.n_gold += m.gold is not None
            self.n_predicted += m.predicted is not None

    @property
    def labels(self) -> List[str]:
        return sorted(self.by_label)

    def groups(self) -> Dict[str, Counter]:
        """Counts per label group (WeiboNER's TYPE.NAM / TYPE.NOM -> NAM, NOM)."""
        groups: Dict[str, Counter] = defaultdict(Counter)
        for label, counts in self.by_label.items():
            if "." in label:
                groups[label.rsplit(".", 1)[1]].update(counts)
        return dict(sorted(groups.items()))

    def scores(self) -> Dict[str, float]:
        correct = self.counts["correct"]
        p = correct / self.n_predicted if self.n_predicted else 0.0
        r = correct / self.n_gold if self.n_gold else 0.0
        return {"ents_p": p, "ents_r": r, "ents_f": 2 * p * r / (p + r) if p + r else 0.0}

    def worst_docs(self, limit: int) -> List[DocErrors]:
        """The first `limit` (at least 1) docs with at least one error, most errors first (then corpus order)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")  # a slice [:-5] would drop the last 5 instead
        with_errors = [d for d in self.docs if d.n_errors]
        return sorted(with_errors, key=lambda d: (-d.n_errors, d.index))[:limit]

    def to_dict(self) -> Dict:
        return {
            "scores": self.scores(),
            "n_gold": self.n_gold,
            "n_predicted": self.n_predicted,
            "counts": {kind: self.counts[kind] for kind in KINDS},
            "by_label": {label: {kind: self.by_label[label][kind] for kind in KINDS} for label in self.labels},
            "by_group": {group: {kind: counts[kind] for kind in KINDS} for group, counts in self.groups().items()},
            "confusion": [{"gold": g, "predicted": p, "count": n} for (g, p), n in sorted(self.confusion.items())],
            "docs_with_errors": sum(1 for d in self.docs if d.n_errors),
        }


def analyse(examples: Iterable[Example]) -> ErrorReport:
    """The error report of predicted (eg.predicted) against gold (eg.reference) entities;
    docs without entity annotation are skipped, as the scorer skips them."""
    report = ErrorReport()
    for i, eg in enumerate(examples):
        if not eg.reference.has_annotation("ENT_IOB"):
            continue
        predicted = [(s.start, s.end, s.label_) for s in eg.get_aligned_spans_x2y(eg.predicted.ents)]
        report.add(i, match_entities(entity_spans(eg.reference), predicted))
    return report
