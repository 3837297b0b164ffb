"""Inference speed of several pipelines, measured in one process in alternating rounds, so
that the ratio between them compares like with like (BENCHMARKS.md section 5)."""
import time
from pathlib import Path
from typing import Dict, Sequence

import spacy


def measure_speed(models: Dict[str, Path], texts: Sequence[str], rounds: int = 3) -> Dict[str, float]:
    """Words per second of `nlp.pipe` per model, the best of `rounds` alternating rounds."""
    pipelines = {name: spacy.load(path) for name, path in models.items()}
    n_words = {name: sum(len(doc) for doc in nlp.tokenizer.pipe(texts)) for name, nlp in pipelines.items()}
    best: Dict[str, float] = {}
    for nlp in pipelines.values():  # warm-up
        list(nlp.pipe(texts[:32]))
    for _ in range(rounds):
        for name, nlp in pipelines.items():
            start = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=64):
                pass
            best[name] = max(best.get(name, 0.0), n_words[name] / (time.perf_counter() - start))
    return best
