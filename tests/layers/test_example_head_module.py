"""The head-module example of docs/adding-an-objective.md (section 5), run from the page: the
module it shows, named in the config block it shows, trains in a TokenTagger.v3 pipeline that
saves, loads and predicts identically."""
import spacy
from confection import Config
from spacy.training import Example
from thinc.api import fix_random_seed

PAGE = "adding-an-objective.md"


def test_the_example_head_module_trains_saves_and_loads(doc_blocks, weibo_docs, small_cnn, tmp_path):
    namespace: dict = {}
    exec(compile(doc_blocks(PAGE, "python")[1], PAGE, "exec"), namespace)
    # the page's block, under the sections a whole config has above it
    block = "[components]\n\n[components.lowner_ner]\n\n" + doc_blocks(PAGE, "ini")[1]
    model = Config().from_str(block)["components"]["lowner_ner"]["model"]
    vocab, train_docs, dev_docs = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("lowner_ner", config={"model": {**model, "tok2vec": small_cnn}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:16]]
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    head = nlp.get_pipe("lowner_ner").head
    assert isinstance(head.stack[0], namespace["TokenWindow"]) and head.stack_width == 64
    first = nlp.update(examples, sgd=optimizer)["lowner_ner"]
    for _ in range(5):
        last = nlp.update(examples, sgd=optimizer)["lowner_ner"]
    assert last < first
    texts = [doc.text for doc in dev_docs[:8]]
    before = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in loaded.pipe(texts)] == before
