import json

import pytest
import spacy
from typer.testing import CliRunner

from spacy_lowner.cli import app


def kl_phase(model, output, folder, *options):
    inputs = ["--labeled", folder / "labeled.spacy", "--unlabeled", folder / "unlabeled.spacy", "--dev", folder / "dev.spacy"]
    args = ["kl-phase", model, output, *inputs, "--batch-size", "8", "--eval-every", "2", *options]
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_writes_model_best_model_last_and_the_curve(trained_pipeline, low_resource_docbins, tmp_path):
    output = tmp_path / "kl"
    result = kl_phase(trained_pipeline, output, low_resource_docbins, "--term", "confidence", "--pairs", "3")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in output.iterdir()) == ["kl_phase.json", "model-best", "model-last"]
    summary = json.loads((output / "kl_phase.json").read_text(encoding="utf8"))
    assert [point["pair"] for point in summary["curve"]] == [0, 2, 3]
    assert (summary["kl_steps"], summary["supervised_steps"], summary["settings"]["term"]) == (3, 3, "confidence")
    assert "the pipeline as given: dev entity F1" in result.output and "pair 2/3: KL loss" in result.output
    best = summary["best"]
    assert f"Best on dev, pair {best['pair']}: entity F1 {100 * best['scores']['ents_f']:.2f}" in result.output
    assert "token accuracy without O" in result.output
    for name, point in (("model-best", best), ("model-last", summary["curve"][-1])):
        assert spacy.load(output / name).meta["performance"] == pytest.approx(point["scores"])


def test_the_control_needs_no_unlabeled_text(trained_pipeline, low_resource_docbins, tmp_path):
    folder = low_resource_docbins
    args = ["kl-phase", trained_pipeline, tmp_path / "control", "--labeled", folder / "labeled.spacy", "--dev",
            folder / "dev.spacy", "--term", "prior", "--pairs", "2", "--batch-size", "8", "--kl-steps-off"]
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    assert "2 pairs of the control (supervised steps only), the encoder frozen" in result.output
    assert "(0 KL and 2 supervised steps" in result.output


def test_an_existing_output_is_refused_and_kept(trained_pipeline, low_resource_docbins, tmp_path):
    output = tmp_path / "kl"
    output.mkdir()
    (output / "notes.txt").write_text("mine", encoding="utf8")
    result = kl_phase(trained_pipeline, output, low_resource_docbins, "--term", "prior", "--pairs", "1")
    assert result.exit_code == 1
    assert f"{output} exists: kl-phase writes a new folder" in result.output and "Traceback" not in result.output
    assert [path.name for path in output.iterdir()] == ["notes.txt"]


def test_bad_input_is_one_line_and_writes_nothing(trained_pipeline, low_resource_docbins, tmp_path):
    folder = low_resource_docbins
    blank = tmp_path / "blank"
    spacy.blank("zh").to_disk(blank)
    cases = [  # (message, model, options)
        ("--labeled: ", trained_pipeline, ["--labeled", tmp_path / "missing.spacy"]),
        ("has no entity annotation; unlabeled text goes in --unlabeled", trained_pipeline, ["--labeled", folder / "unlabeled.spacy"]),
        ("--unlabeled: ", trained_pipeline, ["--unlabeled", tmp_path / "missing.txt"]),
        ("has no lowner_ner component", blank, []),
        ("stop_gradient applies to the confidence KL only", trained_pipeline, ["--term", "prior", "--stop-gradient"]),
        ("the KL term must be one of prior, confidence", trained_pipeline, ["--term", "entropy"]),
        ("Here: lower --lr and --kl-lr", trained_pipeline, ["--kl-lr", "1e39"]),  # diverges in the first KL step
    ]
    for message, model, options in cases:
        options = options if "--term" in options else ["--term", "confidence", *options]
        result = kl_phase(model, tmp_path / "out", folder, "--pairs", "2", *options)
        assert result.exit_code == 1, (message, result.output)
        assert message in result.output and "Traceback" not in result.output, (message, result.output)
        assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    args = ["kl-phase", trained_pipeline, tmp_path / "out", "--labeled", folder / "labeled.spacy", "--dev", folder / "dev.spacy",
            "--term", "confidence"]
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 1 and "--unlabeled is needed for the KL steps" in result.output
