import codecs
import os
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_lowner.corpora import ConvertReport, CorpusFormatError, convert, read_docs

WEIBO_TYPES = ("GPE", "LOC", "ORG", "PER")


def report_of(fmt: str, path: Path, lang: str, **kwargs) -> ConvertReport:
    report = ConvertReport()
    for doc in read_docs(fmt, path, spacy.blank(lang), **kwargs):
        report.add(doc)
    return report


@pytest.mark.parametrize(
    "split,n_docs,n_entities", [("train", 1350, 1895), ("dev", 270, 389), ("test", 270, 418)]
)
def test_weibo_counts(weibo_dir, split, n_docs, n_entities):
    # Tolerant decoding: the stray I- tags of train and test are entities (SOURCE.md).
    report = report_of("weibo", weibo_dir / f"weiboNER_2nd_conll.{split}", "zh")
    assert (report.docs, report.n_entities) == (n_docs, n_entities)


def test_weibo_dev_per_type_and_nam_only(weibo_dir, tmp_path):
    # SOURCE.md: GPE, LOC, ORG, PER x NAM, NOM for weiboNER_2nd_conll.dev
    expected = dict(zip((f"{t}.{k}" for t in WEIBO_TYPES for k in ("NAM", "NOM")), (26, 1, 6, 6, 47, 5, 90, 208)))
    path = weibo_dir / "weiboNER_2nd_conll.dev"
    report = convert("weibo", path, tmp_path / "dev.spacy")
    assert dict(report.entities) == expected
    assert (report.docs, report.tokens) == (270, 14509)
    nam_only = report_of("weibo", path, "zh", nam_only=True)
    assert dict(nam_only.entities) == {k: v for k, v in expected.items() if k.endswith(".NAM")}


def test_docbin_round_trip(weibo_dir, tmp_path):
    output = tmp_path / "out" / "dev.spacy"
    convert("weibo", weibo_dir / "weiboNER_2nd_conll.dev", output)
    assert [p.name for p in output.parent.iterdir()] == ["dev.spacy"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it, not private
    nlp = spacy.blank("zh")
    docs = list(DocBin().from_disk(output).get_docs(nlp.vocab))
    assert len(docs) == 270
    assert sum(len(doc.ents) for doc in docs) == 389
    assert all(doc.has_annotation("ENT_IOB") for doc in docs)
    assert not any(token.whitespace_ for doc in docs for token in doc)
    assert docs[0].text == "".join(token.text for token in docs[0])


def test_conll2003_valid(shared_data):
    report = report_of("conll", shared_data / "conll2003" / "valid.txt", "en")
    assert (report.docs, report.tokens, report.n_entities) == (3250, 51362, 5942)
    assert dict(report.entities) == {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}


def test_conll_words_are_spaced_unless_chinese(tmp_path):
    path = tmp_path / "zh.conll"
    path.write_text("北 B-LOC\n京 I-LOC\n", encoding="utf8")
    assert next(read_docs("conll", path, spacy.blank("xx"))).text == "北 京"
    assert next(read_docs("conll", path, spacy.blank("xx"), lang="zh")).text == "北京"


def test_cluener_dev(shared_data):
    report = report_of("cluener", shared_data / "cluener" / "dev.json", "zh")
    assert (report.docs, report.tokens, report.n_entities, report.dropped_nested) == (1343, 50260, 3072, 0)


def test_text_formats_need_a_language(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("北京\n", encoding="utf8")
    with pytest.raises(ValueError, match="needs a language"):
        convert("text", path, tmp_path / "raw.spacy")
    report = convert("text", path, tmp_path / "raw.spacy", lang="zh")
    assert (report.docs, report.tokens, report.n_entities) == (1, 2, 0)


def test_option_errors(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("a O\n", encoding="utf8")
    with pytest.raises(ValueError, match="Unknown corpus format"):
        convert("conllu", path, tmp_path / "a.spacy")
    with pytest.raises(ValueError, match="weibo format only"):
        convert("conll", path, tmp_path / "a.spacy", nam_only=True)


@pytest.mark.parametrize(
    "fmt,content,line_no",
    [
        ("conll", b"a X O\nb O\n", 2),
        ("conll", b"a O\nb Q-PER\n", 2),
        ("conll", b"a O\n\nb\xe9 O\n", 3),  # Latin-1, not UTF-8
        ("weibo", "北0\tO\n京\tO\n".encode("utf8"), 2),
        ("cluener", b'{"text": "a", "label": {}}\n{"text": \n', 2),
        ("jsonl", b'{"text": "a"}\n\n\xff\n', 3),
    ],
)
def test_errors_leave_no_output(tmp_path, fmt, content, line_no):
    path = tmp_path / "bad.input"
    path.write_bytes(content)
    output = tmp_path / "bad.spacy"
    with pytest.raises(CorpusFormatError, match=rf"^{path}:{line_no}: "):
        convert(fmt, path, output, lang="en" if fmt == "jsonl" else None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.input"]


def test_error_leaves_existing_output_untouched(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_bytes(b"a O\nb \xe9 O\n")
    output = tmp_path / "out.spacy"
    output.write_bytes(b"old")
    with pytest.raises(CorpusFormatError, match="not valid UTF-8"):
        convert("conll", path, output)
    assert output.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.conll", "out.spacy"]


@pytest.mark.parametrize(
    "fmt,content,lang",
    [
        ("weibo", "北0\tB-GPE.NAM\n京0\tI-GPE.NAM\n", None),
        ("conll", "北京 B-GPE\nis O\n", "en"),
        ("text", "北京\n", "zh"),
        ("jsonl", '{"text": "北京"}\n', "zh"),
        ("cluener", '{"text": "北京", "label": {"address": {"北京": [[0, 1]]}}}\n', None),
    ],
)
def test_byte_order_mark_is_not_text(tmp_path, fmt, content, lang):
    path = tmp_path / "bom.input"
    path.write_bytes(codecs.BOM_UTF8 + content.encode("utf8"))
    docs = list(read_docs(fmt, path, spacy.blank(lang or "zh")))
    assert docs[0][0].text in ("北", "北京")
    assert "\ufeff" not in docs[0].text
    assert all("\ufeff" not in ent.text for ent in docs[0].ents)


def test_json_nested_too_deeply_is_a_format_error(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"text": "a"}\n' + "[" * 100_000 + "\n", encoding="utf8")
    with pytest.raises(CorpusFormatError, match=rf"^{path}:2: invalid JSON: nested too deeply"):
        list(read_docs("jsonl", path, spacy.blank("en")))


@pytest.mark.parametrize(
    "fmt,lines,lang",
    [
        ("weibo", ["北0\tB-GPE.NAM", "京1\tI-GPE.NAM", "", "我0\tO"], None),
        ("conll", ["Paris B-LOC", "is O", "", "fine O"], "en"),
        ("text", ["北京", "我"], "zh"),
        ("jsonl", ['{"text": "北京"}', '{"text": "我"}'], "zh"),
        ("cluener", ['{"text": "北京", "label": {"address": {"北京": [[0, 1]]}}}', '{"text": "我"}'], None),
    ],
)
def test_cr_only_line_endings_read_as_line_breaks(tmp_path, fmt, lines, lang):
    # Classic Mac OS line endings: the whole file used to be one line, one doc of one token.
    nlp = spacy.blank(lang or "zh")
    lf, cr = tmp_path / "lf.input", tmp_path / "cr.input"
    lf.write_text("\n".join(lines) + "\n", encoding="utf8")
    cr.write_bytes(("\r".join(lines) + "\r").encode("utf8"))
    expected = [(doc.text, [(e.text, e.label_) for e in doc.ents]) for doc in read_docs(fmt, lf, nlp)]
    assert len(expected) == 2
    assert [(doc.text, [(e.text, e.label_) for e in doc.ents]) for doc in read_docs(fmt, cr, nlp)] == expected


@pytest.mark.parametrize("lang,message", [("klingon", "Unknown language 'klingon'"), ("zh-CN", "Unknown language 'zh-CN'")])
def test_an_unknown_language_is_named_beside_the_codes_spacy_has(tmp_path, lang, message):
    path = tmp_path / "raw.txt"
    path.write_text("hello\n", encoding="utf8")
    with pytest.raises(ValueError, match=message) as info:
        convert("text", path, tmp_path / "raw.spacy", lang=lang)
    assert "\n" not in str(info.value)
    assert {"en", "zh", "xx"} <= set(str(info.value).split(": ")[-1].split(", "))
    assert not (tmp_path / "raw.spacy").exists()
