"""A small AdvPicker teacher for the tests of the language_adversarial objective, `pick` and its
CLI: a lowner_ner pipeline (small CNN) trained with the supervised loss on 30 WeiboNER
sentences (domain "source") and the language discriminator against the other 30 as unlabeled
text (domain "target"), saved to disk with the discriminator kept."""
from pathlib import Path

import spacy
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.model.channels import set_domain

OBJECTIVES = {
    "supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"},
    "language_adversarial": {"@lowner_objectives": "spacy_lowner.language_adversarial.v1", "hidden_width": 16},
}


def language_examples(nlp, train_docs) -> list:
    """The first 30 docs labeled, of domain "source"; the other 30 as text, of domain "target"."""
    examples = []
    for i, doc in enumerate(train_docs[:60]):
        reference = doc.copy() if i < 30 else tokens_only(doc, nlp.vocab)
        set_domain(reference, "source" if i < 30 else "target")
        examples.append(Example(tokens_only(reference, nlp.vocab), reference))
    # source and target docs in every batch of 10
    return [examples[j] for pair in zip(range(30), range(30, 60)) for j in pair]


def adversarial_pipeline(weibo_docs, small_cnn, seed: int = 0):
    """The teacher pipeline, initialised (untrained), its examples and its optimizer."""
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    model = {"@architectures": "spacy_lowner.TokenTagger.v3", "hidden_width": 16, "tok2vec": small_cnn}
    nlp.add_pipe("lowner_ner", config={"model": model, "objectives": OBJECTIVES, "default_domain": "target"})
    examples = language_examples(nlp, train_docs)
    fix_random_seed(seed)
    optimizer = nlp.initialize(lambda: examples)
    return nlp, examples, optimizer


def train_teacher(path: Path, weibo_docs, small_cnn, seed: int = 0, epochs: int = 4) -> Path:
    """Train the teacher for a few epochs in batches of 10 and save it to `path`."""
    nlp, examples, optimizer = adversarial_pipeline(weibo_docs, small_cnn, seed)
    for _ in range(epochs):
        for start in range(0, len(examples), 10):
            nlp.update(examples[start : start + 10], sgd=optimizer)
    nlp.to_disk(path)
    return path
