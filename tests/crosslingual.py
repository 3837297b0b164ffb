"""The cross-lingual test pipeline of the word-adversarial objective and the language probe: a
lowner_ner whose head maps the source domain's docs (orthogonal map, then a BiLSTM), trained on
16 English CoNLL-2003 sentences (through the label bridge) and 16 WeiboNER ones."""
import spacy
from thinc.api import fix_random_seed

from spacy_lowner.training.readers import create_multi_corpus

BRIDGE = {"PER": "PER.NAM", "ORG": "ORG.NAM", "LOC": "GPE.NAM", "MISC": ""}
MAP = {"@lowner_head_modules": "spacy_lowner.domain_map.v1", "domains": ["source"], "orthogonal": True}


def cross_lingual_pipeline(tok2vec, modules=None, **settings):
    """lowner_ner with the cross-lingual head (map of the source's docs, then a BiLSTM) and the
    supervised and word-adversarial objectives."""
    nlp = spacy.blank("zh")
    modules = {"map": MAP, "bilstm": {"@lowner_head_modules": "spacy_lowner.bilstm.v1", "width": 16}} if modules is None else modules
    model = {"@architectures": "spacy_lowner.TokenTagger.v3", "hidden_width": 16, "tok2vec": tok2vec, "modules": modules}
    objectives = {
        "supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"},
        "word_adversarial": {"@lowner_objectives": "spacy_lowner.word_adversarial.v1", "hidden_width": 32, **settings},
    }
    nlp.add_pipe("lowner_ner", config={"model": model, "objectives": objectives, "default_domain": "target"})
    return nlp


def bridged_corpus(shared_data):
    """16 English CoNLL-2003 sentences (source, through the label bridge) and 16 WeiboNER ones
    (target), as MultiCorpus reads them."""
    return create_multi_corpus(
        {
            "source": {"path": shared_data / "conll2003" / "train.txt", "format": "conll", "lang": "en", "limit": 16, "labels": BRIDGE},
            "target": {"path": shared_data / "weibo" / "weiboNER_2nd_conll.train", "format": "weibo", "limit": 16},
        },
        shuffle=False,
    )


def trained(nlp, examples, steps=5):
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp.get_pipe("lowner_ner")
