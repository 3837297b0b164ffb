import json

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from bench.cli import app
from bench.language_probe import probe_languages, separability, unit_length
from tests.crosslingual import bridged_corpus, cross_lingual_pipeline, trained


@pytest.fixture(scope="module")
def probed(tmp_path_factory, shared_data, small_cnn):
    """The cross-lingual test pipeline after 5 steps (the adversary has moved its map), saved,
    and its English and Chinese docs as DocBins."""
    folder = tmp_path_factory.mktemp("language_probe")
    nlp = cross_lingual_pipeline(small_cnn)
    examples = list(bridged_corpus(shared_data)(nlp))
    trained(nlp, examples)
    nlp.to_disk(folder / "pipeline")
    for domain in ("source", "target"):
        docs = [eg.reference for eg in examples if eg.reference.user_data["lowner_domain"] == domain]
        DocBin(docs=docs).to_disk(folder / f"{domain}.spacy")
    return folder


def test_the_probe_reads_the_map_and_what_a_rotation_cannot_change(probed):
    probe = probe_languages(probed / "pipeline", probed / "source.spacy", probed / "target.spacy", docs=16)
    source_tokens = sum(len(doc) for doc in DocBin().from_disk(probed / "source.spacy").get_docs(spacy.blank("zh").vocab))
    assert probe.source_tokens == source_tokens and probe.target_tokens > 0
    assert probe.map_distance > 1e-3 and 0 < probe.map_max_angle <= 180
    before, after = probe.encoder_output, probe.mapped
    # the map is orthogonal: every English norm, so the norm threshold's accuracy, is kept
    assert after.source_norm == pytest.approx(before.source_norm, rel=1e-4)
    assert after.target_norm == before.target_norm and after.norm_accuracy == pytest.approx(before.norm_accuracy)
    assert after.mean_cosine != pytest.approx(before.mean_cosine, abs=1e-4)
    assert 0.5 <= before.probe_accuracy <= 1 and 0.5 <= before.norm_accuracy <= 1


def test_a_head_without_the_map_and_a_domain_it_does_not_map(probed, tmp_path):
    args = ["language-probe", str(probed / "pipeline"), "--output", str(tmp_path / "probe.json"),
            "--source", str(probed / "source.spacy"), "--target", str(probed / "target.spacy"), "--docs", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [written] = json.loads((tmp_path / "probe.json").read_text())
    assert written["mapped"]["source_norm"] == pytest.approx(written["encoder_output"]["source_norm"], rel=1e-4)
    assert "| source mapped |" in result.output and "| encoder output |" in result.output

    result = CliRunner().invoke(app, args + ["--source-domain", "en"])
    assert result.exit_code == 1 and "the head's module 'map' maps the domains ['source'], not 'en'" in result.output
    result = CliRunner().invoke(app, args + ["--module", "aligned"])
    assert result.exit_code == 0 and "| source mapped |" not in result.output  # no such module: the encoder output only


def test_separability_of_vectors_told_apart_by_norm_alone():
    rng = numpy.random.default_rng(0)
    directions = rng.normal(size=(400, 8)).astype(numpy.float32)
    directions /= numpy.linalg.norm(directions, axis=1, keepdims=True)
    # directions drawn alike, two norms: no linear probe separates them, a norm threshold does
    short, long = directions[:200] * 1.0, directions[200:] * 3.0
    result = separability(short, long)
    assert result.norm_accuracy == 1.0 and result.probe_accuracy < 0.75 and result.direction_accuracy < 0.75
    assert result.source_norm == pytest.approx(1.0) and result.target_norm == pytest.approx(3.0)
    # moved off the origin along one axis: the probe separates them
    shifted = directions[200:].copy()
    shifted[:, 0] += 5.0
    moved = separability(short, shifted)
    assert moved.probe_accuracy == 1.0 and moved.direction_accuracy > 0.95


def test_unit_length_leaves_out_zero_vectors():
    vectors = numpy.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]], dtype=numpy.float32)
    numpy.testing.assert_allclose(unit_length(vectors), [[0.6, 0.8], [0.0, -1.0]], rtol=1e-6)
