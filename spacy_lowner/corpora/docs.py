"""Docs from token sequences, with or without BIO-style entity tags."""
from typing import List, Optional, Sequence

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..model.channels import TEACHER_KEY, doc_domain, doc_teacher, set_domain

# Prefixes that continue an open entity (BIO/BIOES I, BIOES E, BILUO L), and the
# prefixes after which an entity is still open.
_CONTINUATIONS = ("I", "E", "L")
_OPENERS = ("B", "I")


def to_iob2(tags: Sequence[str]) -> List[str]:
    """Rewrite tags as IOB2 with the entities seqeval's default `get_entities` finds.

    A continuation tag (I-, E-, L-) continues an entity only if the previous tag left
    one of the same type open (B-, I-); otherwise it starts a new entity, so a stray
    I- after O or after another type is an entity of its own, as in seqeval. E-/L-
    close an entity and S-/U- are one-token entities, so BIOES and BILUO decode too.
    """
    iob2 = []
    prev_prefix, prev_label = "O", ""
    for tag in tags:
        prefix, _, label = tag.partition("-")
        if prefix == "O":
            iob2.append("O")
        elif prefix in _CONTINUATIONS and prev_prefix in _OPENERS and label == prev_label:
            iob2.append(f"I-{label}")
        else:
            iob2.append(f"B-{label}")
        prev_prefix, prev_label = prefix, label
    return iob2


def make_doc(
    vocab: Vocab, words: Sequence[str], tags: Optional[Sequence[str]] = None, *, spaced: bool
) -> Doc:
    """A Doc of pre-tokenized words, labeled if `tags` is given.

    spaced: whether words are separated by a space (word-level corpora) or not
        (character-level Chinese). The last token never has a trailing space.
    A labeled Doc has every non-entity token explicitly outside (ent_iob 2), so
    `doc.has_annotation("ENT_IOB")` is True even without entities; an unlabeled Doc
    has no entity annotation at all (missing, not O).
    """
    spaces = [spaced] * len(words)
    if spaces:
        spaces[-1] = False
    ents = to_iob2(tags) if tags is not None else None
    return Doc(vocab, words=list(words), spaces=spaces, ents=ents)


def tokens_only(doc: Doc, vocab: Optional[Vocab] = None, *, keep_teacher: bool = False) -> Doc:
    """A copy of doc with its tokens, whitespace and domain (model/channels.py) and nothing else: no
    entity annotation (missing, not O), spans or other user data. It is what a model is given
    to predict on, and what an unlabeled doc must look like so that nothing in it counts as gold.
    keep_teacher: keep its teacher channel too (soft labels are not gold: an unlabeled doc
    that a reader yields for an objective reading `batch.teacher`)."""
    words = [token.text for token in doc]
    spaces = [bool(token.whitespace_) for token in doc]
    copy = Doc(vocab or doc.vocab, words=words, spaces=spaces)
    if doc_domain(doc) is not None:
        set_domain(copy, doc_domain(doc))
    if keep_teacher and doc_teacher(doc) is not None:
        copy.user_data[TEACHER_KEY] = doc_teacher(doc)
    return copy
