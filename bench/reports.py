"""A sweep's report: results.json (every finished run, as recorded) and results.md (the tables),
written by one writer that the two layouts plug into: the full-data benchmark (a row per
system) and the labeled-ratio benchmark (a row per ratio, the budget table and a plot).
Best-of rows (bench/best_of.py) are derived from the runs here, shown, never recorded."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .best_of import best_of_runs
from .cost import cost_table
from .kl_phase import LAST
from .plots import plot_ratios
from .runs import RunResult, write_record
from .tables import (benchmark_table, budget_table, comparison_table,
                     continuation_table, metric_table, ratio_table)

# What the _dedup scores are (bench/runs.py evaluate_model), said above their table.
DEDUP_TITLE = "Test entity F1 (%) without the test sentences whose text is in train (ents_f_dedup):"
# More test scores (bench/runs.py evaluate_model), each a table when the runs have it: the named
# mentions alone (the component's micro scores over WeiboNER's .NAM types, spacy_lowner/model/
# scoring.py: all that a label bridge from CoNLL-2003 can teach), and the KL-regulariser paper's
# token-level scores.
SCORE_TITLES = {
    "ents_f_NAM": "Test entity F1 (%) on the named mentions alone (ents_f_NAM: WeiboNER's .NAM types, the ones a label bridge from CoNLL-2003 covers):",
    "tokens_macro_f": "Test token-level macro F1 without O (%), as the KL-regulariser paper reports:",
    "tokens_acc_no_o": "Test token accuracy without O (%), the KL-regulariser paper's other token score:",
}
# The scores the kl-phase systems are compared on, and what they are.
CONTINUATION_SCORES = {"ents_f": "entity F1", "tokens_macro_f": "token macro F1 without O", "tokens_acc_no_o": "token accuracy without O"}
CONTINUATION_TITLE = (
    "The kl-phase systems, each against its control (the same continuation of the same model, supervised steps only) "
    "and its base (the model it continues): paired differences over seeds, mean [95% t-interval] wins/losses."
)


@dataclass
class Report:
    """The comparisons a sweep's command line asked for; a layout says how to show them."""

    baseline: Optional[str] = None
    control: Optional[str] = None
    title: str = ""  # of the plot
    best_of: Dict[str, List[str]] = field(default_factory=dict)  # best-of row -> its systems
    # kl-phase system -> (its base, its control or None): bench/systems.py kl_phase_comparisons
    continuations: Dict[str, Tuple[str, Optional[str]]] = field(default_factory=dict)
    comparisons: Dict[str, List[str]] = field(default_factory=dict)  # --compare: system -> the systems it is compared with

    def rows(self, results: List[RunResult]) -> List[RunResult]:
        """The runs and, after them, the best-of rows derived from them."""
        return results + best_of_runs(results, self.best_of)

    def trained(self, name: str) -> str:
        """A system that trains: name itself, or the first system of a best-of row."""
        return self.best_of[name][0] if name in self.best_of else name

    def markdown(self, rows: List[RunResult], output: Path) -> str:
        raise NotImplementedError

    def draw(self, rows: List[RunResult], output: Path) -> None:
        """Write the layout's figures, if it has any."""


@dataclass
class BenchmarkReport(Report):
    """The full-data layout: a row per system, with inference speed."""

    def markdown(self, rows: List[RunResult], output: Path) -> str:
        sections = [benchmark_table(rows, self.baseline)]
        if _has(rows, "ents_f_dedup"):
            sections += [DEDUP_TITLE, metric_table(rows, "ents_f_dedup", self.baseline)]
        return "\n\n".join(sections) + "\n"


@dataclass
class RatioReport(Report):
    """The labeled-ratio layout: a row per ratio, where the best checkpoints were, the training
    cost measured before (cost.json), and the F1-against-ratio plot."""

    def markdown(self, rows: List[RunResult], output: Path) -> str:
        sections = [
            "Test entity F1 (%): mean ± std over seeds; differences are paired over seeds: mean [95% t-interval] wins/losses.",
            ratio_table(rows, self.baseline, self.control),
        ]
        if _has(rows, "ents_f_dedup"):
            sections += [DEDUP_TITLE, ratio_table(rows, self.baseline, self.control, metric="ents_f_dedup")]
        for metric, title in SCORE_TITLES.items():
            if _has(rows, metric):
                sections += [title, ratio_table(rows, self.baseline, self.control, metric=metric)]
        if self.comparisons:
            sections += self.comparison_sections(rows)
        if self.continuations:
            sections += self.continuation_sections(rows)
        sections += ["Best dev checkpoint of each run:", budget_table(rows)]
        cost_file = output / "cost.json"
        if cost_file.exists():
            sections.append(cost_table(json.loads(cost_file.read_text())).rstrip("\n"))
        return "\n\n".join(sections) + "\n"

    def comparison_sections(self, rows: List[RunResult]) -> List[str]:
        """The --compare pairs, on all of test, with --dedup-test without its repeats of train, and
        on the named mentions alone where the runs score them."""
        sections = []
        titles = {"ents_f": "Test entity F1 (%):", "ents_f_dedup": DEDUP_TITLE, "ents_f_NAM": SCORE_TITLES["ents_f_NAM"]}
        for metric, title in titles.items():
            if _has(rows, metric):
                sections += [f"{title.rstrip(':')}, the asked comparisons (--compare), paired over seeds: mean [95% t-interval] wins/losses:",
                             comparison_table(rows, self.comparisons, metric)]
        return sections

    def continuation_sections(self, rows: List[RunResult]) -> List[str]:
        """The kl-phase systems against their controls and bases, on each score the runs have
        (CONTINUATION_SCORES), on all of test and, with --dedup-test, without its repeats of train."""
        sections = [CONTINUATION_TITLE]
        for metric, name in CONTINUATION_SCORES.items():
            for key, where in ((metric, ""), (f"{metric}_dedup", ", without the test sentences whose text is in train")):
                for checkpoint, which in (("", "the best pair on dev"), (LAST, "after the last pair, as the paper")):
                    if _has(rows, key + checkpoint):
                        sections += [
                            f"Test {name} (%){where}, {which} ({key + checkpoint}):",
                            continuation_table(rows, self.continuations, key + checkpoint, base_metric=key),
                        ]
        return sections

    def draw(self, rows: List[RunResult], output: Path) -> None:
        plot_ratios(rows, output / "f1_by_ratio.png", self.title)


def _has(rows: List[RunResult], metric: str) -> bool:
    return any(metric in r.test for r in rows)


def write_reports(results: List[RunResult], output: Path, report: Report) -> None:
    """results.json (the runs) and results.md (their tables, best-of rows included), then the
    layout's figures."""
    rows = report.rows(results)
    write_record(results, report.markdown(rows, output), output)
    report.draw(rows, output)
