"""Short real training runs of the shipped configs, through `spacy train`'s own code path."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin

REPO_ROOT = Path(__file__).resolve().parents[2]


def train_100_steps(config, output, paths, overrides):
    """`spacy train` of a shipped config for 100 steps, scoring dev every 50."""
    train(
        REPO_ROOT / "configs" / config,
        output,
        overrides={
            **{f"paths.{key}": str(value) for key, value in paths.items()},
            "training.max_steps": 100,
            "training.eval_frequency": 50,
            **overrides,
        },
    )


@pytest.fixture(scope="module")
def weibo_docbins(tmp_path_factory, weibo_docs):
    _, train_docs, dev_docs = weibo_docs
    folder = tmp_path_factory.mktemp("weibo_docbins")
    DocBin(docs=train_docs).to_disk(folder / "train.spacy")
    DocBin(docs=dev_docs).to_disk(folder / "dev.spacy")
    return folder


@pytest.mark.parametrize(
    "config,overrides",
    [
        ("weibo_trf.cfg", {"training.optimizer.learn_rate.initial_rate": 5e-4, "training.optimizer.learn_rate.warmup_steps": 20}),
        ("weibo_cnn.cfg", {}),
    ],
)
def test_short_training_run_learns(tmp_path, weibo_docbins, tiny_encoder, config, overrides):
    output = tmp_path / "training"
    paths = {"train": weibo_docbins / "train.spacy", "dev": weibo_docbins / "dev.spacy", "encoder": tiny_encoder}
    train_100_steps(config, output, paths, overrides)
    # Untrained, dev F1 is ~0 (0.0 and 0.004 at step 0 for these two configs).
    performance = spacy.load(output / "model-best").meta["performance"]
    assert performance["ents_f"] > 0.1
    nlp = spacy.load(output / "model-last")
    assert "lowner_ner" in nlp.pipe_names


@pytest.mark.parametrize(
    "config,overrides",
    [
        ("weibo_trf_ssgan.cfg", {"training.optimizer.learn_rate.initial_rate": 5e-4, "training.optimizer.learn_rate.warmup_steps": 20}),
        # batches of ~5 labeled and ~5 unlabeled sentences
        ("weibo_cnn_ssgan.cfg", {"training.batcher.size": 250}),
    ],
)
def test_short_ssgan_run_with_unlabeled_docs_learns(tmp_path, low_resource_docbins, tiny_encoder, config, overrides):
    output = tmp_path / "training"
    paths = {
        "train": low_resource_docbins / "labeled.spacy",
        "unlabeled": low_resource_docbins / "unlabeled.spacy",
        "dev": low_resource_docbins / "dev.spacy",
        "encoder": tiny_encoder,
    }
    train_100_steps(config, output, paths, overrides)
    # Untrained, dev F1 is ~0; the unlabeled docs must neither stop training nor reach the scores.
    performance = spacy.load(output / "model-best").meta["performance"]
    assert performance["ents_f"] > 0.05
    nlp = spacy.load(output / "model-last")
    assert "ssgan_fake_logit" not in str(nlp.get_pipe("lowner_ner").head.state_dict().keys())


@pytest.mark.parametrize(
    "learn_rate,message",
    [
        # the first step makes the weights non-finite: stops before the first evaluation
        ("1e30", "the optimizer step made .* non-finite"),
        # the weights blow up over a few steps: stops at the first NaN scores or third NaN loss
        ("1000", "non-finite (loss|tag scores)"),
    ],
)
def test_poisoned_learning_rate_stops_training_with_a_clear_error(tmp_path, weibo_docbins, learn_rate, message):
    output = tmp_path / "training"
    args = [
        sys.executable, "-m", "spacy", "train", str(REPO_ROOT / "configs" / "weibo_cnn.cfg"), "--output", str(output),
        "--paths.train", str(weibo_docbins / "train.spacy"), "--paths.dev", str(weibo_docbins / "dev.spacy"),
        "--training.max_steps", "20", "--training.eval_frequency", "10",
        "--training.optimizer.learn_rate", learn_rate,
    ]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert re.search(f"lowner_ner: .*{message}", last_line)
    if learn_rate == "1e30":
        assert not (output / "model-best").exists()
