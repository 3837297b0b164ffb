"""A small pipeline with given objectives over the CNN tok2vec, its optimizer, 8 labeled and 8
unlabeled WeiboNER examples: what most objective tests train on."""
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example


@pytest.fixture
def objective_pipeline(weibo_docs, small_cnn):
    def make(objectives: dict):
        vocab, train_docs, _ = weibo_docs
        nlp = spacy.blank("zh", vocab=vocab)
        model = {"@architectures": "spacy_lowner.TokenTagger.v2", "hidden_width": 16, "tok2vec": small_cnn}
        config = {"model": model, "objectives": {"supervised": {"@lowner_objectives": "supervised"}, **objectives}}
        nlp.add_pipe("lowner_ner", config=config)
        labeled = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
        unlabeled = [Example(nlp.make_doc(doc.text), Doc(vocab, words=[t.text for t in doc])) for doc in train_docs[8:16]]
        optimizer = nlp.initialize(lambda: labeled)
        return nlp, optimizer, labeled, unlabeled

    return make
