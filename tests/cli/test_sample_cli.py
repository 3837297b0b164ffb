import json
import signal

import pytest
import typer
from click.testing import CliRunner
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_lowner.cli import app
from tests.stopping import stop_at_pause

runner = CliRunner()
cli = typer.main.get_group(app)


@pytest.fixture
def train_path(weibo_docs, tmp_path):
    """The first 60 WeiboNER train sentences (7 entity types) as a DocBin."""
    path = tmp_path / "train.spacy"
    DocBin(store_user_data=True, docs=weibo_docs[1]).to_disk(path)
    return path


def load(path):
    return list(DocBin().from_disk(path).get_docs(Vocab()))


def words(doc):
    return [(token.text, token.whitespace_) for token in doc]


def test_help():
    result = runner.invoke(cli, ["sample", "--help"])
    assert result.exit_code == 0
    for word in ("--ratio", "--count", "--seed", "every entity type", ".txt", ".jsonl", "MixedCorpus"):
        assert word in result.output


def test_writes_labeled_and_unlabeled_docbins(train_path, tmp_path, weibo_docs):
    labeled, unlabeled = tmp_path / "out" / "labeled.spacy", tmp_path / "out" / "unlabeled.spacy"
    result = runner.invoke(cli, ["sample", str(train_path), str(labeled), str(unlabeled), "--ratio", "0.2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Labeled: 12 of 60 docs" in result.output
    assert "Unlabeled: 48 docs" in result.output
    assert "7 entity types" in result.output
    for label in ("PER.NOM", "LOC.NOM", "GPE.NAM"):
        assert label in result.output
    input_docs = weibo_docs[1]
    labeled_docs, unlabeled_docs = load(labeled), load(unlabeled)
    assert (len(labeled_docs), len(unlabeled_docs)) == (12, 48)
    assert {ent.label_ for doc in labeled_docs for ent in doc.ents} == {
        ent.label_ for doc in input_docs for ent in doc.ents
    }
    for doc in unlabeled_docs:
        assert not doc.has_annotation("ENT_IOB")
        assert not doc.ents
    # Each output keeps the input order, and together they are the input: walk them in step.
    rest_l, rest_u = iter(labeled_docs), iter(unlabeled_docs)
    next_l, next_u = next(rest_l, None), next(rest_u, None)
    for doc in input_docs:
        ents = [(ent.start, ent.end, ent.label_) for ent in doc.ents]
        if next_l is not None and words(next_l) == words(doc) and [(e.start, e.end, e.label_) for e in next_l.ents] == ents:
            assert next_l.has_annotation("ENT_IOB")
            next_l = next(rest_l, None)
        else:
            assert next_u is not None and words(next_u) == words(doc)
            next_u = next(rest_u, None)
    assert next_l is None and next_u is None


def test_same_seed_same_split(train_path, tmp_path):
    texts = []
    for run in ("a", "b", "c"):
        seed = "4" if run != "c" else "5"
        out = tmp_path / run
        result = runner.invoke(cli, ["sample", str(train_path), str(out / "l.spacy"), str(out / "u.txt"), "-n", "10", "-s", seed])
        assert result.exit_code == 0, result.output
        texts.append([doc.text for doc in load(out / "l.spacy")])
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_unlabeled_as_text(train_path, tmp_path, weibo_docs, suffix):
    labeled, unlabeled = tmp_path / "l.spacy", tmp_path / f"u{suffix}"
    result = runner.invoke(cli, ["sample", str(train_path), str(labeled), str(unlabeled), "--count", "20"])
    assert result.exit_code == 0, result.output
    lines = unlabeled.read_text(encoding="utf8").splitlines()
    texts = [json.loads(line)["text"] for line in lines] if suffix == ".jsonl" else lines
    labeled_texts = {doc.text for doc in load(labeled)}
    assert len(texts) == 40
    assert texts == [doc.text for doc in weibo_docs[1] if doc.text not in labeled_texts]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--count", "1"], "cannot show all 7 entity types"),
        (["--count", "1"], "--count "),
        (["--ratio", "0.2", "--count", "3"], "--ratio or --count"),
        ([], "--ratio or --count"),
        (["--ratio", "1.5"], "in (0, 1]"),
        (["--count", "61"], "between 1 and 60"),
    ],
)
def test_errors_exit_1_without_output(train_path, tmp_path, args, message):
    labeled, unlabeled = tmp_path / "l.spacy", tmp_path / "u.spacy"
    result = runner.invoke(cli, ["sample", str(train_path), str(labeled), str(unlabeled), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not labeled.exists() and not unlabeled.exists()


@pytest.mark.parametrize(
    "labeled,unlabeled,message",
    [("l.spacy", "u.csv", "must be .spacy, .txt, .jsonl"), ("l.txt", "u.spacy", "must be a .spacy file"), ("x.spacy", "x.spacy", "same file")],
)
def test_bad_output_names(train_path, tmp_path, labeled, unlabeled, message):
    result = runner.invoke(cli, ["sample", str(train_path), str(tmp_path / labeled), str(tmp_path / unlabeled), "-n", "30"])
    assert result.exit_code == 1
    assert message in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train.spacy"]


def test_input_not_a_docbin(tmp_path):
    path = tmp_path / "train.spacy"
    path.write_text("not a docbin\n", encoding="utf8")
    result = runner.invoke(cli, ["sample", str(path), str(tmp_path / "l.spacy"), str(tmp_path / "u.spacy"), "-n", "1"])
    assert result.exit_code == 1
    assert f"{path}: " in result.output and "DocBin" in result.output



def test_keep_labels_holds_out_a_labeled_dev_split(train_path, tmp_path):
    dev, rest = tmp_path / "dev.spacy", tmp_path / "rest.spacy"
    result = runner.invoke(cli, ["sample", str(train_path), str(dev), str(rest), "--count", "10", "--keep-labels"])
    assert result.exit_code == 0, result.output
    dev_docs, rest_docs = load(dev), load(rest)
    assert len(dev_docs) == 10 and len(rest_docs) == len(load(train_path)) - 10
    assert all(doc.has_annotation("ENT_IOB") for doc in dev_docs + rest_docs)
    assert sum(len(doc.ents) for doc in dev_docs + rest_docs) == sum(len(doc.ents) for doc in load(train_path))


@pytest.mark.parametrize(
    "labeled,unlabeled",
    [("s/lab.spacy", "{input}"), ("{input}", "s/unl.spacy"), ("s/lab.spacy", "s/../train.spacy")],
)
def test_an_output_over_the_input_is_refused(train_path, tmp_path, labeled, unlabeled, monkeypatch):
    monkeypatch.chdir(tmp_path)
    original = train_path.read_bytes()
    args = [arg.format(input=train_path) for arg in (labeled, unlabeled)]
    result = runner.invoke(cli, ["sample", str(train_path), *args, "--ratio", "0.5"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is the input" in result.output
    assert train_path.read_bytes() == original
    assert not (tmp_path / "s" / "lab.spacy").exists() and not (tmp_path / "s" / "unl.spacy").exists()


def test_both_outputs_or_neither(train_path, tmp_path, monkeypatch):
    from spacy_lowner.tools import outputs

    labeled, unlabeled = tmp_path / "l.spacy", tmp_path / "u.spacy"
    labeled.write_bytes(b"old labeled")
    real_replace = outputs.os.replace

    def fail_on_unlabeled(src, dst):
        if str(dst) == str(unlabeled):
            raise FileExistsError(f"{dst} appeared meanwhile")
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", fail_on_unlabeled)
    result = runner.invoke(cli, ["sample", str(train_path), str(labeled), str(unlabeled), "--ratio", "0.5"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "appeared meanwhile" in result.output
    assert labeled.read_bytes() == b"old labeled"
    assert not unlabeled.exists()


def test_a_signal_between_writing_the_two_outputs_leaves_a_matching_pair(train_path, tmp_path):
    def sample_args(folder):
        return ["sample", str(train_path), str(folder / "l.spacy"), str(folder / "u.txt"), "--ratio", "0.5", "--seed", "1"]

    # what the split must be: the same command, not stopped
    result = runner.invoke(cli, sample_args(tmp_path / "ref"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    out.mkdir()
    (out / "l.spacy").write_bytes(b"old labeled")
    (out / "u.txt").write_bytes(b"old unlabeled")
    script = f"""
    from pathlib import Path
    from spacy_lowner.cli import app
    from spacy_lowner.tools import outputs

    real_replace = outputs.os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if Path(dst).name == "l.spacy":  # the labeled file is new, the unlabeled one still old
            pause(0)
            while not outputs._guard.pending:  # the signal has come and is held: rename on
                time.sleep(0.01)

    outputs.os.replace = replace
    app({sample_args(out)!r})
    """
    code, printed = stop_at_pause(script)
    assert code == -signal.SIGTERM, printed
    assert sorted(p.name for p in out.iterdir()) == ["l.spacy", "u.txt"]  # no .bak, no .tmp
    for name in ("l.spacy", "u.txt"):
        assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_input_without_entity_annotation_is_refused(tmp_path, weibo_docs):
    from spacy_lowner.corpora.docs import tokens_only

    path = tmp_path / "plain.spacy"
    DocBin(docs=[tokens_only(doc) for doc in weibo_docs[1]]).to_disk(path)
    result = runner.invoke(cli, ["sample", str(path), str(tmp_path / "l.spacy"), str(tmp_path / "u.spacy"), "-n", "5"])
    assert result.exit_code == 1
    assert "60 of 60 docs have no entity annotation" in " ".join(result.output.split())
    assert not (tmp_path / "l.spacy").exists()
