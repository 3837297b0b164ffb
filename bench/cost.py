"""Training cost per update of several systems on the same batches, timed in alternation in
one process (BENCHMARKS.md section 5)."""
import json
import time
from pathlib import Path
from typing import Callable, Dict

from spacy.training.initialize import init_nlp
from spacy.util import load_config, minibatch, registry

from spacy_lowner.tools.outputs import write_files

from .systems import System, parse_value


def build_for_training(system: System, overrides: Dict[str, str], folder: Path):
    """(nlp, optimizer, resolved config) of a system, initialised as `spacy train` would;
    a composed config is written into folder."""
    values = {key: parse_value(value) for key, value in {**overrides, **system.overrides}.items()}
    nlp = init_nlp(load_config(system.config_file(folder), overrides=values, interpolate=False))
    # As `spacy train` resolves them: schedules may refer to other settings
    # (e.g. total_steps = ${training.max_steps}).
    config = nlp.config.interpolate()
    optimizer = registry.resolve({"optimizer": config["training"]["optimizer"]})["optimizer"]
    return nlp, optimizer, config


def measure_training_cost(
    systems: Dict[str, System],
    corpus_system: str,
    overrides: Dict[str, str],
    folder: Path,
    batches: int = 20,
    batch_size: int = 32,
    log: Callable = print,
) -> Dict[str, float]:
    """Seconds per `nlp.update` of each system on the same batches. The batches are the first
    ones of `corpus_system`'s training corpus (for a mixed corpus: labeled and unlabeled docs
    together), `batch_size` docs each; the first is a warm-up."""
    pipelines = {}
    for name, system in systems.items():
        nlp, optimizer, config = build_for_training(system, overrides, folder)
        pipelines[name] = (nlp, optimizer)
        if name == corpus_system:
            examples = list(registry.resolve(config["corpora"])["train"](nlp))
    chunks = list(minibatch(examples, size=batch_size))[: batches + 1]
    seconds = {name: 0.0 for name in pipelines}
    for i, chunk in enumerate(chunks):
        for name, (nlp, optimizer) in pipelines.items():
            start = time.perf_counter()
            nlp.update(chunk, sgd=optimizer, losses={})
            if i:
                seconds[name] += time.perf_counter() - start
    n = max(len(chunks) - 1, 1)
    log(f"Timed {n} batches of {batch_size} docs per system")
    return {name: total / n for name, total in seconds.items()}


def save_training_cost(
    output: Path, seconds: Dict[str, float], baseline: str, split: str, batches: int, batch_size: int
) -> Dict:
    """Save the figures, with each system's ratio to the baseline, to cost.json (the ratio
    reports put them under the tables); return what was saved."""
    cost = {
        "split": split, "batches": batches, "batch_size": batch_size, "baseline": baseline,
        "systems": {name: {"seconds_per_update": s, "ratio": s / seconds[baseline]} for name, s in seconds.items()},
    }
    write_files({output / "cost.json": json.dumps(cost, indent=2).encode("utf8")})
    return cost


def cost_table(cost: Dict) -> str:
    text = f"Training cost per update on the same batches ({cost['split']}, {cost['batches']} batches of {cost['batch_size']} docs):\n\n"
    text += f"| system | s/update | vs {cost['baseline']} |\n|---|---|---|\n"
    return text + "".join(
        f"| {name} | {c['seconds_per_update']:.3f} | {c['ratio']:.2f}x |\n" for name, c in cost["systems"].items()
    )
