"""Finding each domain's entity types in the training data (model/label_sets.py)."""
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_lowner.model.channels import set_domain
from spacy_lowner.model.label_sets import find_label_sets

NLP = spacy.blank("en")


def example(label, domain=None, labeled=True):
    doc = Doc(NLP.vocab, words=["Ann", "went", "home"])
    if labeled:
        doc.ents = [Span(doc, 0, 1, label)]
    if domain:
        set_domain(doc, domain)
    return Example(Doc(NLP.vocab, words=["Ann", "went", "home"]), doc)


def test_one_set_of_types_is_the_default_whatever_the_domains():
    examples = [example("PER", "source"), example("PER", "target")]
    assert find_label_sets(examples, None, None, "ner") == (["PER"], {})


def test_a_domain_with_other_types_gets_its_own_and_unlabeled_docs_count_for_nothing():
    examples = [example("PER", "source"), example("person", "target"), example("X", "target", labeled=False)]
    assert find_label_sets(examples, "target", None, "ner") == (["person"], {"source": ["PER"]})


def test_docs_without_a_domain_are_the_default_domains():
    examples = [example("PER", "source"), example("person")]
    assert find_label_sets(examples, "target", None, "ner") == (["person"], {"source": ["PER"]})


def test_given_labels_are_the_default_set():
    examples = [example("PER", "source"), example("person", "target")]
    assert find_label_sets(examples, "target", ["person", "place"], "ner") == (["person", "place"], {"source": ["PER"]})


def test_different_types_need_a_default_domain():
    with pytest.raises(ValueError, match="ner: .*different entity types.*default_domain"):
        find_label_sets([example("PER", "source"), example("person", "target")], None, None, "ner")


def test_a_domain_whose_types_are_among_the_defaults_shares_the_default_set():
    # a source whose types a label bridge mapped onto some of the target's
    examples = [example("PER.NAM", "source"), example("PER.NAM", "target"), example("PER.NOM", "target")]
    assert find_label_sets(examples, "target", None, "ner") == (["PER.NAM", "PER.NOM"], {})
    examples.append(example("MISC", "source"))
    assert find_label_sets(examples, "target", None, "ner") == (["PER.NAM", "PER.NOM"], {"source": ["MISC", "PER.NAM"]})
