"""The labeled-ratio splits: for each ratio and seed, one low-resource split
(spacy_lowner.training.sampling: every entity type present) is drawn and shared by every
system; the rest of train, plus any extra unlabeled text, is the unlabeled part. A split can
label a count of sentences instead (`bench ratios --counts`, DATNet's 10 to 1000 target
sentences). The sweep (bench/sweep.py) trains each system on it; each run records which docs
its split labeled.
"""
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from spacy_lowner.tools.outputs import write_files
from spacy_lowner.training.sampling import sample_labeled, write_split

# What the unlabeled part of a split holds: the rest of train (and any extra text), or that
# without the texts of dev and test, so that a method reading unlabeled text never reads a
# sentence it is scored on (WeiboNER's train repeats 40 of its 270 test sentences).
UNLABELED_POOLS = ("all", "no-dev-test")


@dataclass(frozen=True)
class Split:
    """A cell's training files and the record its runs keep of them: a ratio's split, or all
    of train as labeled (no unlabeled file, no record)."""

    labeled: Path
    unlabeled: Optional[Path] = None
    record: Optional[Dict[str, Any]] = None


def split_folder(output: Path, ratio: Optional[float], seed: int, pool: str = "all", count: Optional[int] = None) -> Path:
    """Where a sweep keeps the split of (ratio, seed), or of (count, seed): one folder per
    unlabeled pool."""
    size = f"n{count}" if count is not None else f"r{ratio}"
    return output / "splits" / (f"{size}-seed{seed}" + ("" if pool == "all" else f"-{pool}"))


def make_split(
    train_path: Path,
    ratio: Optional[float],
    seed: int,
    folder: Path,
    extra_unlabeled: Optional[Path] = None,
    leave_out: Sequence[Path] = (),
    count: Optional[int] = None,
) -> Split:
    """Write labeled.spacy, unlabeled.spacy and split.json (the record) for one (ratio, seed)
    into folder, or reuse the ones written before (the sampler is deterministic, so they
    would be the same). With nothing left over (ratio 1.0, no extra text) the unlabeled text
    is the labeled docs' own text: the text a semi-supervised method can use is then the
    training text itself. leave_out: DocBins (dev and test) whose texts are taken out of the
    unlabeled part.

    count: label that many sentences instead of a ratio (ratio None). Every entity type is
    labeled where the count allows; where the sentences covering them are more than the
    count, the split keeps the first `count` of them (the rarest types first) instead of
    failing, and its record says which types it labeled (labeled_types) and which it lacks
    (missing_types)."""
    split = Split(folder / "labeled.spacy", folder / "unlabeled.spacy")
    record_file = folder / "split.json"
    if split.labeled.exists() and split.unlabeled.exists() and record_file.exists():
        return replace(split, record=json.loads(record_file.read_text()))
    vocab = Vocab()
    docs = _read(train_path, vocab)
    extra = _read(extra_unlabeled, vocab) if extra_unlabeled else []
    sampled = sample_labeled(docs, ratio=ratio, count=count, seed=seed, cover_all=count is None)
    if not sampled.unlabeled and not extra:
        extra = [docs[i] for i in sampled.labeled]
    left_out = {doc.text for path in leave_out for doc in _read(path, vocab)}
    pool = replace(sampled, unlabeled=[i for i in sampled.unlabeled if docs[i].text not in left_out])
    kept_extra = [doc for doc in extra if doc.text not in left_out]
    write_split(docs, pool, split.labeled, split.unlabeled, extra_unlabeled=kept_extra)
    record: Dict[str, Any] = {
        "labeled_docs": len(sampled.labeled),
        "labeled_sha256": labeled_hash(sampled.labeled),
        "unlabeled_docs": len(pool.unlabeled) + len(kept_extra),
    }
    if count is not None:  # a count may be too few sentences for every type (a ratio's split has them all)
        labeled_types = sorted({ent.label_ for i in sampled.labeled for ent in docs[i].ents})
        record["labeled_types"] = labeled_types
        record["missing_types"] = [label for label in sampled.types if label not in labeled_types]
    if leave_out:  # the docs whose text is a dev or test text (bench/cli.py --unlabeled-pool)
        record["unlabeled_left_out"] = len(sampled.unlabeled) + len(extra) - record["unlabeled_docs"]
    write_files({record_file: json.dumps(record, indent=2).encode("utf8")})
    return replace(split, record=record)


def labeled_hash(indices: Sequence[int]) -> str:
    """sha256 of the labeled doc indices (0-based, into train), sorted and comma-joined: two
    runs with the same hash learnt from the same labeled docs."""
    return hashlib.sha256(",".join(str(i) for i in sorted(indices)).encode("ascii")).hexdigest()


def _read(path: Path, vocab: Vocab) -> List[Doc]:
    return list(DocBin().from_disk(path).get_docs(vocab))
