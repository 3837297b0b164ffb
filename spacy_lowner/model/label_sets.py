"""Which entity types each domain's docs are tagged with, found in the training data.

Corpora with different types train in one run (CoNLL-2003's 4 beside WNUT-17's 6): the
default domain's types are the component's labels, what prediction and the scorer use, and
each domain whose labeled docs have other types gets a label set of its own (a tag projection
and a CRF in the head). A doc without a domain counts as the default domain's.
"""
from typing import Dict, Iterable, List, Optional, Tuple

from spacy.training import Example

from .channels import doc_domain


def find_label_sets(
    examples: Iterable[Example], default_domain: Optional[str], labels: Optional[List[str]], component: str
) -> Tuple[List[str], Dict[str, List[str]]]:
    """The default domain's entity types (`labels` if given) and those of the domains whose
    labeled docs have other types. With no default domain and one set of types among all
    domains, that set is the default; with several, naming the default domain is required. A
    domain whose types are all among the default's (a corpus whose types a label bridge mapped
    onto the target's) shares the default set: its docs train the target's projection and CRF."""
    found: Dict[Optional[str], set] = {}
    for eg in examples:
        if eg.reference.has_annotation("ENT_IOB"):
            domain = doc_domain(eg.reference)
            domain = default_domain if domain is None else domain
            found.setdefault(domain, set()).update(ent.label_ for ent in eg.reference.ents)
    if labels is None:
        labels = sorted(found.get(default_domain) or set())
        distinct = {frozenset(types) for types in found.values() if types}
        if not labels and len(distinct) == 1:
            labels = sorted(next(iter(distinct)))
        elif not labels and len(distinct) > 1:
            raise ValueError(
                f"{component}: the training corpora's domains ({', '.join(sorted(map(str, found)))}) have different "
                "entity types: set the component's `default_domain` to the domain whose types prediction gives"
            )
    others = {
        str(domain): sorted(types)
        for domain, types in found.items()
        if domain != default_domain and types and not types <= set(labels)
    }
    return labels, others
