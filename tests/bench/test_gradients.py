import json
from pathlib import Path

from spacy.tokens import DocBin
from typer.testing import CliRunner

from bench.cli import app
from bench.gradients import gradient_table, term_gradients
from bench.ratios import make_split
from bench.systems import System

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_each_term_is_measured_where_it_reaches_the_encoder(tmp_path, weibo_docs):
    train, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(train)
    DocBin(docs=weibo_docs[2]).to_disk(dev)
    split = make_split(train, 0.3, 0, tmp_path / "split")
    overrides = {
        "paths.train": str(split.labeled), "paths.unlabeled": str(split.unlabeled), "paths.dev": str(dev),
        "training.batcher.size": "300", "components.lowner_ner.objectives.ssgan.beta": "0",
    }
    per_step = term_gradients(System("ssgan", CONFIGS / "weibo_cnn_ssgan.cfg"), overrides, tmp_path, steps=3, log=lambda _: None)
    assert len(per_step) == 3
    for step in per_step:
        assert set(step) == {"supervised", "ssgan_real", "ssgan_fake"}
        assert step["supervised"] > 0 and step["ssgan_real"] > 0
        # the fakes come from the generator, not the encoder: that term reaches the head only
        assert step["ssgan_fake"] == 0.0
    table = gradient_table(per_step)
    assert "| supervised | 3 |" in table and "| ssgan_fake | 3 | 0 | 0 |" in table


def test_the_command_measures_a_config_composed_from_partials(tmp_path, weibo_docs):
    train, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(train)
    DocBin(docs=weibo_docs[2]).to_disk(dev)
    composed = "+".join(str(CONFIGS / name) for name in ("weibo_cnn.cfg", "parts/mixed_batches.cfg", "objectives/mean_teacher.cfg"))
    output = tmp_path / "gradients" / "mean_teacher.json"
    args = [
        "gradients", composed, str(output), "--train", str(train), "--dev", str(dev), "--ratio", "0.3", "--steps", "2",
        "-o", "training.batcher.size=300", "-o", "components.lowner_ner.objectives.mean_teacher.rampup_steps=0",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    steps = json.loads(output.read_text())["steps"]
    assert len(steps) == 2 and all(step["mean_teacher"] > 0 for step in steps[1:])
    assert (tmp_path / "gradients" / "configs" / "mean_teacher.cfg").is_file()

    result = CliRunner().invoke(app, ["gradients", f"{composed}+missing.cfg", str(output), "--train", str(train), "--dev", str(dev)])
    assert result.exit_code == 1 and "mean_teacher not found: missing.cfg" in result.output
