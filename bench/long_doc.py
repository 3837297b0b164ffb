"""Memory and time of one long document through a pipeline (`python -m bench long-doc`).

spaCy accepts docs of up to `nlp.max_length` characters (1,000,000 by default). Each pipeline
is measured in a fresh process, since peak memory is a process's high-water mark: it loads
the pipeline, notes its peak resident memory, tags one doc of the given length made of real
text, and notes the peak and the seconds again. What the doc costs is the difference (the
Doc's own tokens, about 200 bytes each, included). Linux and macOS (the `resource` module).
"""
import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

import spacy

from spacy_lowner.training.readers import read_unlabeled


@dataclass
class LongDocRun:
    pipeline: str
    chars: int
    tokens: int
    entities: int
    seconds: float
    loaded_mb: float  # peak resident memory once the pipeline is loaded
    peak_mb: float  # and once the doc is tagged

    @property
    def doc_mb(self) -> float:
        return self.peak_mb - self.loaded_mb


TEXT_SUFFIXES = (".txt", ".jsonl", ".spacy")


def read_text(path: Path) -> str:
    """The text of a .txt, .jsonl or .spacy file, a doc per line."""
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ValueError(f"{path}: give the text as a {', '.join(TEXT_SUFFIXES)} file")
    return "\n".join(doc.text for doc in read_unlabeled(path, spacy.blank("xx")))


def long_text(text: str, chars: int) -> str:
    """`text` repeated until it is `chars` characters long."""
    if not text:
        raise ValueError("the text to make the long doc from is empty")
    return (text * (chars // len(text) + 1))[:chars]


def measure_long_doc(pipeline: Path, text: str) -> LongDocRun:
    """Tag one doc of `text` with the pipeline, in a process of its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure, (str(pipeline), text))


def _measure(pipeline: str, text: str) -> LongDocRun:
    nlp = spacy.load(pipeline)
    nlp.max_length = max(nlp.max_length, len(text))
    loaded = _peak_mb()
    start = time.perf_counter()
    doc = nlp(text)
    seconds = time.perf_counter() - start
    return LongDocRun(pipeline, len(text), len(doc), len(doc.ents), seconds, loaded, _peak_mb())


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KB on Linux


def long_doc_table(runs: Sequence[LongDocRun]) -> str:
    """A markdown table of the runs."""
    rows: List[str] = [
        "| pipeline | characters | tokens | entities | seconds | peak memory (MB) | of it the doc (MB) | per token (KB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        rows.append(
            f"| {run.pipeline} | {run.chars:,} | {run.tokens:,} | {run.entities:,} | {run.seconds:.1f} | "
            f"{run.peak_mb:,.0f} | {run.doc_mb:,.0f} | {run.doc_mb * 1024 / max(run.tokens, 1):.2f} |"
        )
    return "\n".join(rows)
