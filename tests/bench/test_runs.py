import json
from dataclasses import asdict
from itertools import islice
from pathlib import Path

import pytest
import spacy
from spacy.cli._util import parse_config_overrides
from spacy.tokens import DocBin
from spacy.training import Example

from bench.runs import RunResult, evaluate_model, read_result, train_command, write_record, write_result
from spacy_lowner.corpora.convert import read_docs
from spacy_lowner.model.scoring import score_entities, score_token_accuracy, score_tokens

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(**extra):
    return RunResult("a", 0, "a.cfg", steps=10, epochs=1, train_seconds=1.0, dev_f=0.5, test={"ents_f": 0.4}, **extra)


def scores_on(nlp, examples):
    """What evaluate_model computes, on examples built here."""
    predicted = [Example(doc, eg.reference) for doc, eg in zip(nlp.pipe(eg.predicted for eg in examples), examples)]
    scores = {**score_entities(predicted), **score_tokens(predicted), **score_token_accuracy(predicted)}
    return {key: value for key, value in scores.items() if isinstance(value, float)}


def test_a_systems_own_seed_overrides_the_sweeps(tmp_path):
    """The sweep passes --system.seed first; a restart's own system.seed comes later, and spaCy
    keeps the last value of an option given twice."""
    args = train_command(Path("a.cfg"), tmp_path, 3, {"paths.train": "x.spacy", "system.seed": "101"}, -1)
    overrides = args[args.index("--system.seed"):]  # what `spacy train` reads as config overrides
    assert overrides.count("--system.seed") == 2
    assert parse_config_overrides(overrides, env_var=None) == {"system.seed": 101, "paths.train": "x.spacy"}
    alone = train_command(Path("a.cfg"), tmp_path, 3, {}, -1)
    assert parse_config_overrides(alone[alone.index("--system.seed"):], env_var=None) == {"system.seed": 3}


def test_records_without_the_new_fields_are_rewritten_as_they_were(tmp_path):
    """split, train_command, bench_command and count are written only when set: a committed
    report's results.json, read and written again, is the same file."""
    committed = REPO_ROOT / "reports" / "unlabeled_weibo_trf" / "results.json"
    records = json.loads(committed.read_text())
    for i, data in enumerate(records):
        (tmp_path / f"{i}.json").write_text(json.dumps(data))
    write_record([read_result(tmp_path / f"{i}.json") for i in range(len(records))], "", tmp_path)
    assert (tmp_path / "results.json").read_bytes() == committed.read_bytes()
    write_result(run(), tmp_path / "old.json")
    assert set(json.loads((tmp_path / "old.json").read_text())) == set(asdict(run())) - {"split", "train_command", "bench_command", "count"}
    new = run(split={"labeled_docs": 6}, train_command="python -m spacy train a.cfg", bench_command="python -m bench ratios out")
    write_result(new, tmp_path / "new.json")
    assert read_result(tmp_path / "new.json") == new


def test_fields_a_newer_harness_wrote_are_left_out_when_reading(tmp_path):
    (tmp_path / "result.json").write_text(json.dumps({**asdict(run()), "energy_kwh": 0.2}))
    assert read_result(tmp_path / "result.json") == run()


def test_scores_come_from_the_corpus_tokens_not_the_pipelines_tokenizer(tmp_path, shared_data):
    """CoNLL-2003's text is its tokens joined by spaces; spaCy's English tokenizer splits some
    of them (AL-AIN, Jean-Luc). A pipeline that finds exactly the gold entities' tokens scores
    higher on the gold tokens than on its own tokenizer's, and evaluate_model scores on the
    gold tokens, as the training readers do."""
    nlp = spacy.blank("en")
    docs = list(islice(read_docs("conll", shared_data / "conll2003" / "test.txt", nlp), 60))
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": e.label_, "pattern": [{"ORTH": t.text} for t in e]} for d in docs for e in d.ents])
    nlp.to_disk(tmp_path / "model")
    DocBin(docs=docs).to_disk(tmp_path / "test.spacy")
    gold_tokens = scores_on(nlp, [Example(spacy.tokens.Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in docs])
    own_tokens = scores_on(nlp, [Example(nlp.make_doc(d.text), d) for d in docs])
    assert own_tokens["ents_f"] < gold_tokens["ents_f"]
    assert evaluate_model(tmp_path / "model", tmp_path / "test.spacy") == pytest.approx(gold_tokens)


def test_weibo_scores_are_those_of_the_tokenizer_where_it_makes_the_corpus_tokens(tmp_path, trained_pipeline, weibo_corpus):
    """WeiboNER's tokens are characters, which the Chinese tokenizer makes too, except in 4 of
    its 270 test sentences: a broken emoji kept as one token of two U+FFFD characters. On the
    other 266 the figures are those of scoring on nlp.make_doc(doc.text), as bench did before."""
    nlp = spacy.load(trained_pipeline)
    docs = list(DocBin().from_disk(weibo_corpus["test"]).get_docs(nlp.vocab))
    same = [d for d in docs if [t.text for t in nlp.make_doc(d.text)] == [t.text for t in d]]
    assert len(docs) - len(same) == 4
    assert all("\ufffd\ufffd" in [t.text for t in d] for d in docs if d not in same)
    DocBin(docs=same).to_disk(tmp_path / "test.spacy")
    before = scores_on(nlp, [Example(nlp.make_doc(d.text), d) for d in same])
    assert before["ents_f"] > 0
    assert evaluate_model(trained_pipeline, tmp_path / "test.spacy") == before


def test_dedup_scores_leave_out_the_test_sentences_train_holds(tmp_path, trained_pipeline, weibo_corpus):
    """40 of WeiboNER's 270 test sentences are in train word for word: the _dedup scores are
    the scores on the other 230."""
    vocab = spacy.blank("zh").vocab
    train_texts = {doc.text for doc in DocBin().from_disk(weibo_corpus["train"]).get_docs(vocab)}
    test = list(DocBin().from_disk(weibo_corpus["test"]).get_docs(vocab))
    unseen = [doc for doc in test if doc.text not in train_texts]
    assert (len(test), len(test) - len(unseen)) == (270, 40)
    DocBin(docs=unseen).to_disk(tmp_path / "unseen.spacy")
    scores = evaluate_model(trained_pipeline, weibo_corpus["test"], train_texts)
    on_unseen = evaluate_model(trained_pipeline, tmp_path / "unseen.spacy")
    keys = ("ents_p", "ents_r", "ents_f", "tokens_macro_f", "tokens_acc_no_o")  # the KL paper's token scores too
    assert [scores[f"{key}_dedup"] for key in keys] == [on_unseen[key] for key in keys]
    assert scores["tokens_acc_no_o_dedup"] != scores["tokens_acc_no_o"]
    assert scores["ents_f"] == evaluate_model(trained_pipeline, weibo_corpus["test"])["ents_f"]
    assert "ents_f_dedup" not in evaluate_model(trained_pipeline, weibo_corpus["test"])
