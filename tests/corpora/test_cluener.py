import json
from pathlib import Path

import pytest
from spacy.vocab import Vocab

from spacy_lowner.corpora.cluener import DROPPED_SPANS_KEY, read_cluener
from spacy_lowner.corpora.errors import CorpusFormatError


def write_rows(tmp_path: Path, rows, name: str = "rows.json") -> Path:
    path = tmp_path / name
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def ents(doc):
    return [(ent.text, ent.label_) for ent in doc.ents]


def test_inclusive_end_and_character_tokens(tmp_path):
    row = {"text": "浙商银行叶老桂说", "label": {"name": {"叶老桂": [[4, 6]]}, "company": {"浙商银行": [[0, 3]]}}}
    doc = next(read_cluener(write_rows(tmp_path, [row]), Vocab()))
    assert [token.text for token in doc] == list("浙商银行叶老桂说")
    assert doc.text == row["text"]
    assert ents(doc) == [("浙商银行", "company"), ("叶老桂", "name")]
    assert DROPPED_SPANS_KEY not in doc.spans


def test_repeated_surface_has_several_spans(tmp_path):
    row = {"text": "北京到北京", "label": {"address": {"北京": [[0, 1], [3, 4]]}}}
    doc = next(read_cluener(write_rows(tmp_path, [row]), Vocab()))
    assert [(ent.start, ent.end) for ent in doc.ents] == [(0, 2), (3, 5)]


def test_nested_spans_keep_the_outermost(tmp_path):
    text = "题为《招商银行：浮亏》的"
    row = {"text": text, "label": {"company": {"招商银行": [[3, 6]]}, "book": {"《招商银行：浮亏》": [[2, 10]]}}}
    doc = next(read_cluener(write_rows(tmp_path, [row]), Vocab()))
    assert ents(doc) == [("《招商银行：浮亏》", "book")]
    assert [(span.text, span.label_) for span in doc.spans[DROPPED_SPANS_KEY]] == [("招商银行", "company")]


def test_rows_without_label_are_unlabeled(tmp_path):
    rows = [{"id": 0, "text": "四川敦煌"}, {"text": "北京", "label": {}}]
    unlabeled, labeled = read_cluener(write_rows(tmp_path, rows), Vocab())
    assert not unlabeled.has_annotation("ENT_IOB")
    assert labeled.has_annotation("ENT_IOB") and not labeled.ents


@pytest.mark.parametrize(
    "bad_row,message",
    [
        ('{"text": "北京", "label": ', "invalid JSON"),
        ({"label": {}}, 'string "text"'),
        ([1, 2], 'string "text"'),
        ({"text": "北京", "label": {"address": {"北京": [[0, 2]]}}}, "span [0, 2] is out of range for a text of 2 characters"),
        ({"text": "北京", "label": {"address": {"京": [[0, 0]]}}}, "span [0, 0] is '北' in the text, not '京'"),
        ({"text": "北京", "label": {"address": {"北": [[-1, 0]]}}}, "span [-1, 0] is out of range"),
        ({"text": "北京", "label": {"address": {"北": [0, 0]}}}, '"label" must be'),
        ({"text": "北京", "label": {"address": ["北"]}}, '"label" must be'),
    ],
)
def test_errors_name_file_and_line(tmp_path, bad_row, message):
    path = write_rows(tmp_path, [{"text": "好", "label": {}}, bad_row], "bad.json")
    with pytest.raises(CorpusFormatError) as info:
        list(read_cluener(path, Vocab()))
    assert str(info.value).startswith(f"{path}:2: ")
    assert message in str(info.value)


def test_real_train_drops_the_nested_companies(shared_data):
    docs = list(read_cluener(shared_data / "cluener" / "train.json", Vocab()))
    assert len(docs) == 10748
    # SOURCE.md's one overlapping pair: the book title also contains a second company.
    nested = [doc for doc in docs if DROPPED_SPANS_KEY in doc.spans]
    assert len(nested) == 1
    assert [span.text for span in nested[0].spans[DROPPED_SPANS_KEY]] == ["招商银行", "永隆银行"]
    assert ents(nested[0]) == [("《招商银行：投资永隆银行浮亏逾百亿港元》", "book")]
    assert sum(len(doc.ents) for doc in docs) == 23971 - 2
