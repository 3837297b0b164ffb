import time
from pathlib import Path

import pytest
import spacy

from spacy_lowner.corpora.columns import Sentence, read_conll, read_weibo
from spacy_lowner.corpora.convert import read_docs
from spacy_lowner.corpora.errors import CorpusFormatError


def write(tmp_path: Path, text: str, name: str = "corpus.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


def test_conll_columns_and_blank_lines(tmp_path):
    path = write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n\n\n")
    assert list(read_conll(path)) == [
        Sentence(["EU", "rejects"], ["B-ORG", "O"], 1),
        Sentence(["Peter"], ["B-PER"], 4),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "-DOCSTART- -X- -X- O\n\nDe Art O\nMorgen N B-ORG\n",  # CoNLL-2003: blank line follows
        "-DOCSTART- -DOCSTART- O\nDe Art O\nMorgen N B-ORG\n",  # CoNLL-2002 Dutch: it does not
    ],
)
def test_docstart_is_a_dropped_boundary(tmp_path, text):
    sents = list(read_conll(write(tmp_path, text)))
    assert [s.words for s in sents] == [["De", "Morgen"]]
    assert sents[0].line_no == text.splitlines().index("De Art O") + 1


def test_docstart_ends_the_previous_sentence(tmp_path):
    path = write(tmp_path, "a X O\n-DOCSTART- -DOCSTART- O\nb X O\n")
    assert [s.words for s in read_conll(path)] == [["a"], ["b"]]


def test_tab_separated_with_lone_tab_boundary(tmp_path):
    # WNUT-17 train separates sentences with "\t"; TAB-separated tokens keep inner spaces.
    path = write(tmp_path, "@paul\tO\nNew York\tB-location\n\t\nwatched\u200bwas\tO\n")
    sents = list(read_conll(path))
    assert [s.words for s in sents] == [["@paul", "New York"], ["watched\u200bwas"]]
    assert sents[0].tags == ["O", "B-location"]
    assert sents[1].line_no == 4


def test_bioes_and_biluo_tags_are_accepted(tmp_path):
    path = write(tmp_path, "a S-X\nb B-Y\nc E-Y\nd U-Z\ne B-Z\nf L-Z\n")
    assert next(read_conll(path)).tags == ["S-X", "B-Y", "E-Y", "U-Z", "B-Z", "L-Z"]


@pytest.mark.parametrize(
    "text,line_no,message",
    [
        ("a X O\nb X O\n\nc O\n", 4, "expected 3 columns, found 2"),
        ("a X O\nb X Y O\n", 2, "expected 3 columns, found 4"),
        ("lonely\n", 1, "expected 2 columns, found 1"),
        ("a O\nb X-PER\n", 2, "unknown NER tag 'X-PER'"),
        ("a O\nb B-\n", 2, "unknown NER tag 'B-'"),
        ("a\tO\n\tO\n", 2, "empty token"),
        ("a\tO\nb\t\n", 2, "unknown NER tag ''"),
        ("a\tO\nb\tB-GPE NAM\n", 2, "unknown NER tag 'B-GPE NAM'"),  # a type has no spaces
    ],
)
def test_format_errors_name_file_and_line(tmp_path, text, line_no, message):
    path = write(tmp_path, text, "bad.conll")
    with pytest.raises(CorpusFormatError) as info:
        list(read_conll(path))
    assert str(info.value).startswith(f"{path}:{line_no}: ")
    assert message in str(info.value)
    assert (info.value.path, info.value.line_no) == (path, line_no)


def test_weibo_tokens_lose_their_position_digits(tmp_path):
    lines = ["科0\tO", "20\tO", "110\tO", "p10\tO", "\ufffd\ufffd0\tO", "张0\tB-PER.NAM", "三1\tI-PER.NAM"]
    path = write(tmp_path, "\n".join(lines) + "\n\n")
    sent = next(read_weibo(path))
    assert sent.words == ["科", "2", "1", "p", "\ufffd\ufffd", "张", "三"]
    assert sent.tags[-2:] == ["B-PER.NAM", "I-PER.NAM"]


@pytest.mark.parametrize("token", ["科", "2"])
def test_weibo_token_without_position_is_an_error(tmp_path, token):
    path = write(tmp_path, f"科0\tO\n{token}\tO\n", "bad.weibo")
    with pytest.raises(CorpusFormatError, match=rf"^{path}:2: WeiboNER token '{token}'"):
        list(read_weibo(path))


def test_weibo_nam_only_turns_nominal_mentions_into_o(tmp_path):
    path = write(tmp_path, "他0\tB-PER.NOM\n们1\tI-PER.NOM\n张0\tB-PER.NAM\n")
    assert next(read_weibo(path)).tags == ["B-PER.NOM", "I-PER.NOM", "B-PER.NAM"]
    assert next(read_weibo(path, nam_only=True)).tags == ["O", "O", "B-PER.NAM"]


@pytest.mark.parametrize("split,n_sents", [("train", 1350), ("dev", 270), ("test", 270)])
def test_weibo_real_sentences(weibo_dir, split, n_sents):
    sents = list(read_weibo(weibo_dir / f"weiboNER_2nd_conll.{split}"))
    assert len(sents) == n_sents
    # 2 x U+FFFD tokens (broken emoji) are the only multi-character ones.
    assert {w for s in sents for w in s.words if len(w) > 1} == {"\ufffd\ufffd"}


def test_conll2002_dutch_docstart_without_blank_line(shared_data):
    sents = list(read_conll(shared_data / "conll2002_nl" / "ned.testa"))
    assert len(sents) == 2895
    assert sum(len(s.words) for s in sents) == 37687
    assert not any("-DOCSTART-" in s.words for s in sents)


def test_wnut17_train_lone_tab_boundaries(shared_data):
    sents = list(read_conll(shared_data / "wnut17" / "wnut17train.conll"))
    assert len(sents) == 3394
    assert sum(len(s.words) for s in sents) == 62730


@pytest.mark.parametrize("space", [" ", "  ", "\u3000"])
def test_whitespace_around_a_tag_makes_no_new_type(tmp_path, space):
    # A trailing space after the tag used to make the type "GPE.NAM " and split 北京 in two entities.
    path = write(tmp_path, f"北0\tB-GPE.NAM{space}\n京1\tI-GPE.NAM\n")
    (doc,) = read_docs("weibo", path, spacy.blank("zh"))
    assert [(ent.text, ent.label_) for ent in doc.ents] == [("北京", "GPE.NAM")]
    path = write(tmp_path, f"New York\t B-LOC{space}\nCity\tI-LOC\n", "wnut.conll")
    assert next(read_conll(path)) == Sentence(["New York", "City"], ["B-LOC", "I-LOC"], 1)


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_cr_line_endings_are_line_breaks(tmp_path, newline):
    lines = ["北0\tB-GPE.NAM", "京1\tI-GPE.NAM", "", "我0\tO", "们1\tO", ""]
    expected = list(read_weibo(write(tmp_path, "\n".join(lines), "lf.weibo")))
    assert [s.words for s in expected] == [["北", "京"], ["我", "们"]]
    assert list(read_weibo(write(tmp_path, newline.join(lines), "cr.weibo"))) == expected


def test_a_long_weibo_token_is_read_in_linear_time(tmp_path):
    # A long run of digits that is not the position: the regex this replaced backtracked over it
    # for every split point, 46 s for one 80,000-character token. Now it takes milliseconds.
    digits = "1" * 80_000
    path = write(tmp_path, f"{digits}京0\tO\n{digits}x\tO\n")
    start = time.perf_counter()
    with pytest.raises(CorpusFormatError, match=rf"^{path}:2: WeiboNER token '1111"):
        next(read_weibo(path))
    assert time.perf_counter() - start < 2
    path = write(tmp_path, f"{digits}京0\tO\n", "long.weibo")
    assert next(read_weibo(path)).words == [f"{digits}京"]
