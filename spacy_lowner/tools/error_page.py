"""The error report as one self-contained HTML page: counts by kind, overall, per label and per
label group, the label confusion table, and the docs with errors drawn twice with displaCy's
entity renderer (gold above, predicted below). No script and no external resource: the page
opens offline. Every string from the data (texts, labels, file names) is escaped: a label is
text, never markup."""
import html
from typing import Dict, List, Sequence

from spacy import displacy
from spacy.tokens import Doc

from .error_analysis import KINDS, NONE, ErrorReport

KIND_NAMES = {
    "correct": "correct",
    "wrong_type": "wrong type, right span",
    "wrong_boundary": "right type, wrong boundary",
    "wrong_type_and_boundary": "wrong type and boundary",
    "missed": "missed",
    "spurious": "spurious",
}
_PALETTE = ("#7aecec", "#bfeeb7", "#feca74", "#ff9561", "#aa9cfc", "#c887fb", "#9cc9cc", "#ffeb80", "#ff8197", "#f0d0ff", "#e4e7d2", "#c0c0ff")
_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.doc { border-top: 1px solid #ddd; padding: 0.6em 0; }
.row { display: flex; gap: 0.8em; align-items: baseline; }
.side { width: 6em; color: #666; font-size: 0.9em; }
.errors { color: #a33; font-size: 0.9em; margin: 0.2em 0 0 6.8em; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _kind_rows(named_counts: Dict[str, Dict[str, int]]) -> List[List[object]]:
    return [[name] + [counts.get(kind, 0) for kind in KINDS] for name, counts in named_counts.items()]


def _render(doc: Doc, colors: Dict[str, str]) -> str:
    """The doc's text with its entities marked. displaCy escapes the text but not the labels, and
    draws a title and knowledge-base links a doc may carry in its user data, unescaped: so it is
    given the text and the spans alone, with escaped labels (`colors` is keyed by them)."""
    if not doc.ents:
        return f"<div>{html.escape(doc.text)}</div>"
    ents = [{"start": ent.start_char, "end": ent.end_char, "label": html.escape(ent.label_)} for ent in doc.ents]
    return displacy.render(
        {"text": doc.text, "ents": ents}, style="ent", manual=True, page=False, minify=True, options={"colors": colors}
    )


def render_page(report: ErrorReport, gold: Sequence[Doc], predicted: Sequence[Doc], title: str, limit: int) -> str:
    """The page; `gold` and `predicted` are the docs by the index the report knows them by."""
    scores = report.scores()
    colors = {html.escape(label): _PALETTE[i % len(_PALETTE)] for i, label in enumerate(report.labels)}
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f"<p>{report.n_gold} gold and {report.n_predicted} predicted entities in {len(report.docs)} docs: "
        f"precision {100 * scores['ents_p']:.2f}, recall {100 * scores['ents_r']:.2f}, "
        f"F1 {100 * scores['ents_f']:.2f} (entity level, exact span and type).</p>"
    )
    header = ["", *[KIND_NAMES[k] for k in KINDS]]
    parts.append("<h2>Errors by kind</h2>")
    parts.append(_table(header, _kind_rows({"all": dict(report.counts), **report.groups()})))
    parts.append("<h2>Per label</h2>")
    parts.append(_table(header, _kind_rows({label: dict(report.by_label[label]) for label in report.labels})))
    parts.append("<h2>Label confusion</h2><p>Gold label (rows) against predicted label (columns), spans matched exactly or by overlap; "
                 f"{NONE} is no entity.</p>")
    labels = report.labels + [NONE]
    rows = [[g] + [report.confusion.get((g, p), "") for p in labels] for g in labels]
    parts.append(_table(["gold \\ predicted", *labels], rows))
    worst = report.worst_docs(limit)
    parts.append(f"<h2>Documents with errors</h2><p>{len(worst)} of {report.to_dict()['docs_with_errors']}, most errors first.</p>")
    for doc_errors in worst:
        i = doc_errors.index
        errors = [m for m in doc_errors.matches if m.kind != "correct"]
        described = "; ".join(
            f"{KIND_NAMES[m.kind]}: "
            + " → ".join(
                f"{gold[i][s[0]:s[1]].text} ({s[2]})" if s else NONE for s in (m.gold, m.predicted)
            )
            for m in errors
        )
        parts.append(
            f"<div class='doc'><div class='row'><span class='side'>#{i} gold</span>{_render(gold[i], colors)}</div>"
            f"<div class='row'><span class='side'>predicted</span>{_render(predicted[i], colors)}</div>"
            f"<div class='errors'>{html.escape(described)}</div></div>"
        )
    body = "\n".join(parts)
    return f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
