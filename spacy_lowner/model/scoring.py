"""Entity-level scores with seqeval's span semantics, overall, per type and per type group.

A predicted entity counts only if its label, start and end all match a gold entity, as in
seqeval's default (non-strict) mode; the converters decode stray `I-` tags the way seqeval's
`get_entities` does, so the spans compared here are seqeval's spans. Docs whose reference
has no entity annotation (unlabeled text) are skipped, as in spaCy's own NER scorer.
"""
from collections import defaultdict
from typing import Any, Dict, Iterable

from spacy.scorer import PRFScore
from spacy.training import Example
from spacy.util import registry


def count_entities(examples: Iterable[Example]) -> Dict[str, PRFScore]:
    """True/false positives and false negatives per entity label."""
    counts: Dict[str, PRFScore] = defaultdict(PRFScore)
    for eg in examples:
        if not eg.reference.has_annotation("ENT_IOB"):
            continue
        gold = {(ent.label_, ent.start, ent.end) for ent in eg.reference.ents}
        for span in eg.get_aligned_spans_x2y(eg.predicted.ents):
            key = (span.label_, span.start, span.end)
            if key in gold:
                counts[span.label_].tp += 1
                gold.remove(key)
            else:
                counts[span.label_].fp += 1
        for label, _, _ in gold:
            counts[label].fn += 1
    return counts


def score_entities(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """`ents_p/r/f`, `ents_per_type` (shown by `spacy evaluate`), flat `ents_f_<LABEL>` keys
    that `[training.score_weights]` can show as training-table columns, and for labels of
    the form `TYPE.GROUP` (WeiboNER's `PER.NAM`, `PER.NOM`) micro scores per group
    (`ents_f_NAM`, `ents_p_NAM`, ...)."""
    counts = count_entities(examples)
    totals, groups = PRFScore(), defaultdict(PRFScore)
    for label, prf in counts.items():
        totals += prf
        if "." in label:
            groups[label.rsplit(".", 1)[1]] += prf
    if not len(totals):
        return {"ents_p": None, "ents_r": None, "ents_f": None, "ents_per_type": None}
    scores: Dict[str, Any] = {
        "ents_p": totals.precision,
        "ents_r": totals.recall,
        "ents_f": totals.fscore,
        "ents_per_type": {label: prf.to_dict() for label, prf in sorted(counts.items())},
    }
    for label, prf in sorted(counts.items()):
        scores[f"ents_f_{label}"] = prf.fscore
    for group, prf in sorted(groups.items()):
        for key, value in prf.to_dict().items():
            scores[f"ents_{key}_{group}"] = value
    return scores


def score_tokens(examples: Iterable[Example]) -> Dict[str, Any]:
    """Token-level scores as the KL-regulariser paper reports them: a token counts for label X
    if it lies in an entity of type X (B/I ignored); `tokens_macro_f` is the mean of the
    per-label F1 over the entity labels, O left out (it would dominate the mean)."""
    counts: Dict[str, PRFScore] = defaultdict(PRFScore)
    for eg in examples:
        if not eg.reference.has_annotation("ENT_IOB"):
            continue
        gold = eg.get_aligned("ENT_TYPE", as_string=True)
        for token, gold_label in zip(eg.predicted, gold):
            predicted = token.ent_type_
            if predicted and predicted == gold_label:
                counts[predicted].tp += 1
                continue
            if predicted:
                counts[predicted].fp += 1
            if gold_label:
                counts[gold_label].fn += 1
    if not counts:
        return {"tokens_macro_f": None}
    return {"tokens_macro_f": sum(prf.fscore for prf in counts.values()) / len(counts)}


def score_token_accuracy(examples: Iterable[Example]) -> Dict[str, Any]:
    """The KL-regulariser paper's other token-level score, its "accuracy without O"
    (`tokens_acc_no_o`): of the tokens inside a gold entity, the share predicted inside an
    entity of the same type (B/I ignored); tokens outside gold entities are left out."""
    correct = total = 0
    for eg in examples:
        if not eg.reference.has_annotation("ENT_IOB"):
            continue
        gold = eg.get_aligned("ENT_TYPE", as_string=True)
        for token, gold_label in zip(eg.predicted, gold):
            if gold_label:
                total += 1
                correct += token.ent_type_ == gold_label
    return {"tokens_acc_no_o": correct / total if total else None}


@registry.scorers("spacy_lowner.entity_scorer.v1")
def make_entity_scorer():
    return score_entities
