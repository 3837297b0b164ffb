"""The error page (spacy_lowner/tools/error_page.py): every string from the data is text, never markup."""
from html.parser import HTMLParser

import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_lowner.tools.error_analysis import analyse
from spacy_lowner.tools.error_page import render_page

HOSTILE_LABEL = "<img/src=x/onerror=alert(1)>"
HOSTILE_TEXT = ["<", "script", ">", "北", "京", "<", "/script", ">"]


class Markup(HTMLParser):
    """The tags and attributes of a page, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags, self.attributes, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


def labeled(vocab, ents, title=None):
    doc = Doc(vocab, words=HOSTILE_TEXT, spaces=[False] * len(HOSTILE_TEXT))
    doc.set_ents([Span(doc, start, end, label=label) for start, end, label in ents], default="outside")
    if title:
        doc.user_data["title"] = title  # displaCy would draw it, unescaped
    return doc


def test_hostile_labels_texts_and_titles_are_drawn_as_text():
    vocab = spacy.blank("zh").vocab
    gold = [labeled(vocab, [(3, 5, HOSTILE_LABEL)], title=HOSTILE_LABEL), labeled(vocab, [(0, 3, "PER")])]
    predicted = [labeled(vocab, [(3, 4, HOSTILE_LABEL)]), labeled(vocab, [(3, 5, HOSTILE_LABEL)], title=HOSTILE_LABEL)]
    report = analyse(Example(p, g) for p, g in zip(predicted, gold))
    page = render_page(report, gold, predicted, f"Errors of {HOSTILE_LABEL} on <b>.spacy", limit=10)
    markup = Markup()
    markup.feed(page)
    assert "<img" not in page and "<script" not in page and "<b>" not in page
    assert {"img", "script", "a", "b"}.isdisjoint(markup.tags)
    assert not [name for name in markup.attributes if name.startswith("on") or name in ("src", "href")]
    # The label is still shown, as text: in the tables and on both drawn docs.
    text = "".join(markup.text)
    assert text.count(HOSTILE_LABEL) >= 4
    assert text.count("<script>") >= 4 and text.count("</script>") >= 4  # the docs' text, drawn as text
    assert page.count("class='doc'") == 2 and page.count('class="entity"') == 4
