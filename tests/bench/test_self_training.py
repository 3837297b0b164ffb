import shutil
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Corpus

from bench.ratios import make_split
from bench.self_training import self_training_data
from bench.systems import OptionError, SelfTraining, System, parse_self_training


def systems(*names):
    return {name: System(name, Path(f"{name}.cfg")) for name in names}


def test_specs_set_teacher_threshold_outside_and_selection_with_defaults():
    found = systems("supervised", "self_09", "self_05", "self_tok")
    parse_self_training(["self_09=supervised", "self_05=supervised:0.5:missing", "self_tok=self_09:0.9:O:token"], found)
    assert found["self_09"].self_training == SelfTraining("supervised", 0.9, "O", "doc")
    assert found["self_05"].self_training == SelfTraining("supervised", 0.5, "missing")
    assert found["self_tok"].self_training == SelfTraining("self_09", 0.9, "O", "token")
    assert found["supervised"].self_training is None
    assert found["self_05"].spec == "self_05.cfg, self-trained from supervised:0.5:missing"
    assert found["self_tok"].spec == "self_tok.cfg, self-trained from self_09:0.9:O:token"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("self=later", "TEACHER one listed before it"),  # the teacher must train first
        ("other=supervised", "NAME a system"),
        ("self=supervised:high", "must be a number"),
        ("self=supervised:1.5", "in [0, 1]"),
        ("self=supervised:0.5:none", "OUTSIDE one of"),
        ("self=supervised:0.5:O:x", "SELECTION one of"),
        ("self=supervised:0.5:O:doc:x", "NAME=TEACHER[:THRESHOLD[:OUTSIDE[:SELECTION]]]"),
    ],
)
def test_bad_specs_are_option_errors(spec, message):
    with pytest.raises(OptionError, match=message.replace("[", r"\[")):
        parse_self_training([spec], systems("supervised", "self", "later"))


def test_training_folder_holds_the_labeled_and_the_confident_docs(tmp_path, trained_pipeline, weibo_docs):
    train = tmp_path / "train.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(train)
    split = make_split(train, 0.2, 0, tmp_path / "split")
    teacher_run = tmp_path / "runs" / "supervised-seed0"
    shutil.copytree(trained_pipeline, teacher_run / "model-best")
    found = systems("supervised", "self")
    parse_self_training(["self=supervised:0.0"], found)
    folder, kept = self_training_data(found["self"], split, teacher_run, tmp_path / "self_training", log=lambda _: None)

    nlp = spacy.load(trained_pipeline)
    labeled = list(DocBin().from_disk(split.labeled).get_docs(nlp.vocab))
    unlabeled = list(DocBin().from_disk(split.unlabeled).get_docs(nlp.vocab))
    with_entities = [doc.text for doc in unlabeled if nlp(doc.text).ents]
    assert 0 < len(with_entities) < len(unlabeled)
    read = [eg.reference for eg in Corpus(folder)(nlp)]  # what `paths.train = folder` trains on
    assert sorted(doc.text for doc in read) == sorted([doc.text for doc in labeled] + with_entities)
    assert kept == len(with_entities)
    assert all(doc.has_annotation("ENT_IOB") for doc in read)

    # written once: a resumed sweep reuses it without the teacher
    shutil.rmtree(teacher_run)
    assert self_training_data(found["self"], split, teacher_run, folder, log=lambda _: None) == (folder, kept)
    other = tmp_path / "other"
    with pytest.raises(FileNotFoundError, match="self learns from supervised, whose run .* has no model-best"):
        self_training_data(found["self"], split, teacher_run, other, log=lambda _: None)
