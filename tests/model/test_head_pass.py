"""The per-head cache of a batch: one shared pass per head, and a second pass of the same head
on perturbed vectors that costs no second tok2vec pass."""
import spacy
import torch
from spacy.training import Example

from spacy_lowner.model.batch import training_batch


def trained_batch(weibo_docs, small_cnn):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v3", "tok2vec": small_cnn}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("lowner_ner")
    tokvecs, _ = ner.model.get_ref("tok2vec").begin_update([eg.predicted for eg in examples])
    return ner, training_batch(examples, tokvecs, ner.scheme)


def test_objectives_share_one_pass_per_head(weibo_docs, small_cnn):
    ner, batch = trained_batch(weibo_docs, small_cnn)
    ner.head.train()
    assert batch.head_pass(ner.head) is batch.head_pass(ner.head)
    # one dropout mask for every objective that reads the head's features
    assert batch.hidden(ner.head) is batch.hidden(ner.head)
    assert batch.tag_scores(ner.head) is batch.head_pass(ner.head).tag_scores()


def test_a_perturbed_pass_is_its_own_and_its_loss_reaches_the_tok2vec_output(weibo_docs, small_cnn):
    ner, batch = trained_batch(weibo_docs, small_cnn)
    ner.head.eval()
    delta = 0.5 * torch.randn_like(batch.features)
    perturbed = batch.head_pass(ner.head, batch.features + delta)
    assert perturbed is not batch.head_pass(ner.head)
    assert not torch.allclose(perturbed.tag_scores(), batch.tag_scores(ner.head))
    labeled = batch.labeled
    loss = ner.head.nll(perturbed.tag_scores()[labeled], batch.gold[labeled], batch.mask[labeled]).mean()
    loss.backward()
    gradients = batch.input_gradients()
    assert any(float(abs(g).sum()) > 0 for g in gradients)
