"""The example of docs/adding-an-objective.md, run: entropy minimisation on unlabeled tokens
(Grandvalet & Bengio 2005), written as a new objective would be. If this test has to change,
the page has to change with it."""
from typing import Dict

import torch

from spacy_lowner.layers.losses import doc_mean
from spacy_lowner.model.batch import TaggerBatch
from spacy_lowner.model.head import TaggerHead
from spacy_lowner.objectives import Objective
from spacy_lowner.registry import lowner_objectives

# --- the objective file (spacy_lowner/objectives/entropy.py) -------------------------------


class EntropyObjective(Objective):
    """The entropy of the tagger's per-token distribution on unlabeled docs: lower is surer."""

    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        unlabeled = batch.unlabeled_tokens
        if not bool(unlabeled.any()):
            return {}
        probs = batch.marginals(head)
        entropy = -(probs * probs.clamp(min=1e-12).log()).sum(-1)
        return {"": self.weight * doc_mean(entropy, unlabeled)}


@lowner_objectives("example_entropy")
def make_entropy(weight: float = 0.1) -> EntropyObjective:
    """Entropy minimisation on the unlabeled tokens (weight: its factor in the summed loss)."""
    return EntropyObjective(weight)


# --- the partial config (configs/objectives/entropy.cfg) ------------------------------------

PARTIAL = """
[components.lowner_ner.objectives.entropy]
@lowner_objectives = "example_entropy"
weight = 0.1
"""

# --- the test ---------------------------------------------------------------------------------


def test_the_example_objective_trains_and_reaches_the_encoder(objective_pipeline):
    nlp, optimizer, labeled, unlabeled = objective_pipeline({"entropy": {"@lowner_objectives": "example_entropy"}})
    ner = nlp.get_pipe("lowner_ner")
    ner.measure_term_gradients = True
    first = nlp.update(labeled + unlabeled, sgd=optimizer)["lowner_ner_entropy"]
    assert ner.term_gradients["entropy"] > 0  # it reaches the tok2vec output
    for _ in range(10):
        last = nlp.update(unlabeled, sgd=optimizer)["lowner_ner_entropy"]
    assert last < first


def test_the_partial_composes(tmp_path):
    from pathlib import Path

    from spacy_lowner.training.compose import compose

    part = tmp_path / "entropy.cfg"
    part.write_text(PARTIAL, encoding="utf8")
    configs = Path(__file__).resolve().parents[2] / "configs"
    text = compose(configs / "weibo_cnn.cfg", [configs / "parts" / "mixed_batches.cfg", part])
    assert '@lowner_objectives = "example_entropy"' in text
