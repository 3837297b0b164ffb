import json
from pathlib import Path

from spacy.tokens import DocBin
from typer.testing import CliRunner

from bench.cli import app

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_cost_command_times_each_system_against_the_baseline(tmp_path, weibo_docs):
    train = tmp_path / "train.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(train)
    args = [
        "cost", str(tmp_path / "cost"), "-s", f"cnn={CONFIGS / 'weibo_cnn.cfg'}", "-s", f"cnn_wb={CONFIGS / 'weibo_cnn_wb.cfg'}",
        "--train", str(train), "--dev", str(train), "--baseline", "cnn", "--batches", "2", "--batch-size", "8",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cost = json.loads((tmp_path / "cost" / "cost.json").read_text())
    assert cost["systems"]["cnn"]["ratio"] == 1.0 and cost["systems"]["cnn_wb"]["seconds_per_update"] > 0
    assert "| cnn_wb |" in result.output
