"""How strongly each loss term reaches the encoder: the norm of its gradient at the tok2vec
output over the first steps of a real training run, beside the supervised term's. A term
whose gradient is ~1e-4 of the supervised one is switched off in effect, whatever its weight
says (BENCHMARKS.md section 3)."""
import statistics
from pathlib import Path
from typing import Callable, Dict, List

from spacy.schemas import ConfigSchemaTraining
from spacy.training.loop import create_train_batches
from spacy.util import registry

from .cost import build_for_training
from .systems import System


def term_gradients(
    system: System,
    overrides: Dict[str, str],
    folder: Path,
    steps: int = 50,
    component: str = "lowner_ner",
    log: Callable = print,
) -> List[Dict[str, float]]:
    """Per step, {term: norm of its gradient at the encoder output}, over `steps` updates of
    a run of `system` with its own reader, batcher, dropout and optimizer."""
    nlp, optimizer, config = build_for_training(system, overrides, folder)
    training = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    corpus = registry.resolve({"train": config["corpora"]["train"]})["train"]
    ner = nlp.get_pipe(component)
    ner.measure_term_gradients = True
    per_step: List[Dict[str, float]] = []
    batches = create_train_batches(nlp, corpus, training["batcher"], training["max_epochs"])
    for step, (_, batch) in zip(range(steps), batches):
        ner.term_gradients = {}
        nlp.update(batch, sgd=optimizer, drop=training["dropout"], losses={})
        per_step.append(dict(ner.term_gradients))
        if step % 10 == 0:
            log(f"  step {step}: " + ", ".join(f"{term} {norm:.3g}" for term, norm in ner.term_gradients.items()))
    return per_step


def gradient_table(per_step: List[Dict[str, float]], reference: str = "supervised") -> str:
    """Per term: the steps it had, its mean gradient norm and the median of its per-step ratio
    to the reference term's."""
    lines = [f"| term | steps | mean gradient norm | median ratio to {reference} |", "|---|---|---|---|"]
    for term in dict.fromkeys(term for step in per_step for term in step):
        values = [step[term] for step in per_step if term in step]
        ratios = [step[term] / step[reference] for step in per_step if term in step and step.get(reference, 0) > 0]
        ratio = f"{statistics.median(ratios):.3g}" if ratios else "-"
        lines.append(f"| {term} | {len(values)} | {statistics.mean(values):.3g} | {ratio} |")
    return "\n".join(lines)
