import json

import pytest
import spacy

from spacy_lowner.corpora.errors import CorpusFormatError
from spacy_lowner.corpora.text import read_json_rows, read_jsonl, read_text


@pytest.fixture(scope="module")
def zh():
    return spacy.blank("zh")


def test_text_one_doc_per_non_empty_line(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("Hello world.\n\n   \n  Second line \n", encoding="utf8")
    docs = list(read_text(path, spacy.blank("en")))
    assert [doc.text for doc in docs] == ["Hello world.", "Second line"]
    assert [token.text for token in docs[0]] == ["Hello", "world", "."]
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)


def test_chinese_is_tokenized_into_characters(tmp_path, zh):
    path = tmp_path / "raw.txt"
    path.write_text("我爱北京abc\n", encoding="utf8")
    (doc,) = read_text(path, zh)
    assert [token.text for token in doc] == list("我爱北京abc")
    assert not doc.has_annotation("ENT_IOB")


def test_jsonl_text_key(tmp_path, zh):
    path = tmp_path / "raw.jsonl"
    rows = [{"id": 0, "text": "四川"}, {"text": ""}, {"text": "北京", "other": 1}]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n\n", encoding="utf8")
    docs = list(read_jsonl(path, zh))
    assert [[token.text for token in doc] for doc in docs] == [["四", "川"], ["北", "京"]]
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)


def test_jsonl_rows_keep_their_line_numbers(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"}\n', encoding="utf8")
    assert [line_no for line_no, _ in read_json_rows(path)] == [1, 3]


@pytest.mark.parametrize("line", ['{"text": "a"', '{"txt": "a"}', '{"text": 3}', '"a"'])
def test_jsonl_errors_name_file_and_line(tmp_path, zh, line):
    path = tmp_path / "bad.jsonl"
    path.write_text(f'{{"text": "ok"}}\n{line}\n', encoding="utf8")
    with pytest.raises(CorpusFormatError, match=rf"^{path}:2: "):
        list(read_jsonl(path, zh))


def test_real_cluener_test_split_as_jsonl(shared_data, zh):
    docs = list(read_jsonl(shared_data / "cluener" / "test.json", zh))
    assert len(docs) == 1345
    assert sum(len(doc) for doc in docs) == 50972
