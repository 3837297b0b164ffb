import signal
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_lowner.cli import app
from tests.stopping import stop_at_pause

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "weibo_cnn.cfg")
SHORT = ["--training.max_steps", "40", "--training.eval_frequency", "20"]


def paths(folder, unlabeled="unlabeled.spacy"):
    return [
        "--paths.train", str(folder / "labeled.spacy"), "--paths.dev", str(folder / "dev.spacy"),
        "--paths.unlabeled", str(folder / unlabeled),
    ]


def test_a_round_of_self_training_retrains_on_the_teachers_confident_docs(tmp_path, low_resource_docbins):
    output = tmp_path / "training"
    args = ["train", CONFIG, "--output", str(output), "-r", "1", "-t", "0.5", *paths(low_resource_docbins), *SHORT]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = output / "self_training" / "round1"
    # the labeled docs as they were, and exactly the unlabeled docs the teacher is sure of
    assert (data / "labeled.spacy").read_bytes() == (low_resource_docbins / "labeled.spacy").read_bytes()
    teacher = spacy.load(output / "teacher" / "model-best")
    unlabeled = list(DocBin().from_disk(low_resource_docbins / "unlabeled.spacy").get_docs(teacher.vocab))
    pseudo = list(DocBin().from_disk(data / "pseudo.spacy").get_docs(teacher.vocab))
    assert pseudo, "the teacher kept no doc: the test would not show the retraining"
    assert len(pseudo) < len(unlabeled)
    for doc in pseudo:
        predicted = teacher(doc.text)
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in predicted.ents]
    # the last round trained on that folder, and is where `spacy evaluate` looks
    student = spacy.load(output / "model-best")
    assert student.config["paths"]["train"] == str(data)
    assert teacher.config["paths"]["train"] == str(low_resource_docbins / "labeled.spacy")
    assert "Self-training done, dev F1: round 0" in result.output


def _earlier_run(output: Path) -> None:
    """What an earlier self-training run with more rounds left in `output`."""
    for folder in ("model-best", "model-last", "teacher/model-best", "round1/model-best", "self_training/round2"):
        (output / folder).mkdir(parents=True)
    (output / "model-best" / "meta.json").write_text('{"name": "earlier run"}')
    (output / "self_training" / "round2" / "pseudo.spacy").write_bytes(b"earlier run")


def _listing(folder: Path) -> list:
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


def test_a_teacher_sure_of_nothing_ends_self_training_with_its_own_pipeline(tmp_path, low_resource_docbins):
    output = tmp_path / "training"
    _earlier_run(output)  # replaced as a whole: nothing of it is left beside the new run
    # no doc holds 1000 entities: round 1 would retrain on the labeled docs alone
    args = ["train", CONFIG, "--output", str(output), "-r", "2", "-m", "1000", *paths(low_resource_docbins), *SHORT]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "keeps 0 of" in result.output and "self-training stops here with round 0's pipeline" in result.output
    assert not (output / "round1").exists() and not (output / "self_training" / "round2").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["training"]  # the earlier run is not kept aside
    for name in ("model-best", "model-last"):
        teacher = output / "teacher" / name
        assert (output / name / "meta.json").read_text() == (teacher / "meta.json").read_text()
        assert (output / name / "lowner_ner" / "model").read_bytes() == (teacher / "lowner_ner" / "model").read_bytes()


def test_no_rounds_is_spacy_train(tmp_path, low_resource_docbins):
    output = tmp_path / "training"
    result = CliRunner().invoke(app, ["train", CONFIG, "--output", str(output), *paths(low_resource_docbins), *SHORT])
    assert result.exit_code == 0, result.output
    assert (output / "model-best").is_dir() and not (output / "teacher").exists()


def test_no_unlabeled_text_trains_once(tmp_path, low_resource_docbins):
    DocBin().to_disk(tmp_path / "empty.spacy")
    folder = tmp_path / "split"
    folder.mkdir()
    for name in ("labeled.spacy", "dev.spacy"):
        (folder / name).write_bytes((low_resource_docbins / name).read_bytes())
    (folder / "empty.spacy").write_bytes((tmp_path / "empty.spacy").read_bytes())
    output = tmp_path / "training"
    args = ["train", CONFIG, "--output", str(output), "-r", "1", *paths(folder, "empty.spacy"), *SHORT]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "holds no text to self-train on: training once" in result.output
    assert (output / "model-best").is_dir() and not (output / "teacher").exists()


def test_bad_self_training_settings_are_one_line_and_exit_1(tmp_path, low_resource_docbins):
    split = paths(low_resource_docbins)
    without_unlabeled = split[:4]
    bad_jsonl, bad_docbin = tmp_path / "bad.jsonl", tmp_path / "bad.spacy"
    bad_jsonl.write_text('{"text": "今天"}\nnot json\n', encoding="utf8")
    bad_docbin.write_bytes(b"not a DocBin")
    cases = [  # (message, output, options)
        ("--self-train-rounds must be 0 or more", tmp_path / "a", ["-r", "-1", *split]),
        ("--outside must be one of O, missing", tmp_path / "a", ["-r", "1", "--outside", "none", *split]),
        ("--select must be one of doc, token", tmp_path / "a", ["-r", "1", "--select", "entity", *split]),
        ("--threshold must be in [0, 1]", tmp_path / "a", ["-r", "1", "-t", "1.5", *split]),
        ("self-training needs paths.unlabeled", tmp_path / "a", ["-r", "1", *without_unlabeled]),
        ("paths.unlabeled: " + str(tmp_path / "none.spacy") + " does not exist", tmp_path / "a",
         ["-r", "1", *without_unlabeled, "--paths.unlabeled", str(tmp_path / "none.spacy")]),
        ("contains the input", low_resource_docbins, ["-r", "1", *split]),
        # read before anything trains
        (f"{bad_jsonl}:2: invalid JSON", tmp_path / "a", ["-r", "1", *without_unlabeled, "--paths.unlabeled", str(bad_jsonl)]),
        (f"paths.unlabeled: {bad_docbin}", tmp_path / "a", ["-r", "1", *without_unlabeled, "--paths.unlabeled", str(bad_docbin)]),
    ]
    for message, output, options in cases:
        result = CliRunner().invoke(app, ["train", CONFIG, "--output", str(output), *options, *SHORT])
        assert result.exit_code == 1, (message, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a").exists()


@pytest.fixture
def no_training(monkeypatch):
    """The checks that come before any training: a training would fail the test."""

    def train(*args, **kwargs):
        raise AssertionError("trained before the output was checked")

    monkeypatch.setattr("spacy_lowner.cli.train.train", train)


@pytest.mark.parametrize("rounds", ["0", "1"])
def test_an_output_that_is_a_file_is_refused_before_training(tmp_path, low_resource_docbins, no_training, rounds):
    output = tmp_path / "x.spacy"
    output.write_bytes(b"a corpus")
    result = CliRunner().invoke(app, ["train", CONFIG, "--output", str(output), "-r", rounds, *paths(low_resource_docbins), *SHORT])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"The output {output} is a file; give a folder name" in result.output
    assert output.read_bytes() == b"a corpus"


def test_self_training_refuses_an_output_that_holds_anything_else(tmp_path, low_resource_docbins, no_training):
    output = tmp_path / "training"
    _earlier_run(output)
    (output / "notes.md").write_text("my notes")
    before = _listing(tmp_path)
    result = CliRunner().invoke(app, ["train", CONFIG, "--output", str(output), "-r", "1", *paths(low_resource_docbins), *SHORT])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{output} holds notes.md, which self-training does not write" in result.output
    assert _listing(tmp_path) == before


def _teacher_then(failure):
    """A `train` that writes part of a teacher, then fails with `failure`."""

    def train(config_path, output, **kwargs):
        (output / "model-best").mkdir(parents=True)
        (output / "model-best" / "meta.json").write_text('{"name": "half trained"}')
        failure()

    return train


def test_a_failed_self_training_run_puts_the_earlier_run_back(tmp_path, low_resource_docbins, monkeypatch):
    output = tmp_path / "training"
    _earlier_run(output)
    before = _listing(tmp_path)

    def disk_full():
        raise OSError("No space left on device")

    monkeypatch.setattr("spacy_lowner.cli.train.train", _teacher_then(disk_full))
    result = CliRunner().invoke(app, ["train", CONFIG, "--output", str(output), "-r", "1", *paths(low_resource_docbins), *SHORT])
    assert isinstance(result.exception, OSError), result.output
    assert _listing(tmp_path) == before  # no half-new folder, no hidden copy of the old one


def test_a_signal_during_self_training_puts_the_earlier_run_back(tmp_path, low_resource_docbins):
    output = tmp_path / "training"
    _earlier_run(output)
    before = _listing(tmp_path)
    args = ["train", CONFIG, "--output", str(output), "-r", "1", *paths(low_resource_docbins), *SHORT]
    script = f"""
    from spacy_lowner.cli import app, train

    def slow_train(config_path, output, **kwargs):
        (output / "model-best").mkdir(parents=True)
        pause()

    train.train = slow_train
    app({args!r})
    """
    code, printed = stop_at_pause(script)
    assert code == -signal.SIGTERM, printed
    assert _listing(tmp_path) == before
