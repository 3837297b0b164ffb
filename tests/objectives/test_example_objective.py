"""The first example of docs/adding-an-objective.md, run from the page itself: entropy
minimisation on unlabeled tokens, written as a new objective would be. The page's Python and
config blocks are what this test executes, so the page cannot drift from the code."""
from pathlib import Path

import pytest

PAGE = "adding-an-objective.md"


@pytest.fixture
def page_objective(doc_blocks) -> dict:
    """Run the page's objective block (which registers the objective); its names."""
    namespace: dict = {}
    exec(compile(doc_blocks(PAGE, "python")[0], PAGE, "exec"), namespace)
    return namespace


def test_the_page_registers_the_objective_it_shows(page_objective):
    assert page_objective["make_entropy"]().weight == 0.1


def test_the_example_objective_trains_and_reaches_the_encoder(page_objective, objective_pipeline):
    nlp, optimizer, labeled, unlabeled = objective_pipeline({"entropy": {"@lowner_objectives": "spacy_lowner.entropy.v1"}})
    ner = nlp.get_pipe("lowner_ner")
    ner.measure_term_gradients = True
    first = nlp.update(labeled + unlabeled, sgd=optimizer)["lowner_ner_entropy"]
    assert ner.term_gradients["entropy"] > 0  # it reaches the tok2vec output
    for _ in range(10):
        last = nlp.update(unlabeled, sgd=optimizer)["lowner_ner_entropy"]
    assert last < first


def test_the_partial_composes(page_objective, doc_blocks, tmp_path):
    from spacy_lowner.training.compose import compose

    part = tmp_path / "entropy.cfg"
    part.write_text(doc_blocks(PAGE, "ini")[0], encoding="utf8")
    configs = Path(__file__).resolve().parents[2] / "configs"
    text = compose(configs / "weibo_cnn.cfg", [configs / "parts" / "mixed_batches.cfg", part])
    assert '@lowner_objectives = "spacy_lowner.entropy.v1"' in text
