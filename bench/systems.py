"""What a sweep trains: named systems, each a config with its own overrides, and the
overrides common to all, parsed from the command line."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from spacy_lowner.tools.outputs import write_files
from spacy_lowner.training.compose import compose
from spacy_lowner.training.kl_phase import PAPER_PAIRS, KLPhaseSettings
from spacy_lowner.training.pseudo_labels import OUTSIDE, SELECTIONS


class OptionError(ValueError):
    """A malformed command-line option."""


@dataclass
class SelfTraining:
    """A system that trains on its split's labeled docs plus the unlabeled docs a teacher
    system tagged with confidence (bench/self_training.py)."""

    teacher: str  # the system whose model-best tags the split's unlabeled docs
    threshold: float
    outside: str  # "O" or "missing", as `pseudo-label --outside`
    selection: str = "doc"  # "doc" or "token", as `pseudo-label --select`

    @property
    def spec(self) -> str:
        return f"{self.teacher}:{self.threshold}:{self.outside}" + (f":{self.selection}" if self.selection != "doc" else "")


def parse_self_training(specs: List[str], systems: Dict[str, "System"]) -> None:
    """NAME=TEACHER[:THRESHOLD[:OUTSIDE[:SELECTION]]] specs (defaults 0.9, O and doc), set on
    the named systems; the teacher must be a system listed before NAME, so that it is trained
    first."""
    order = list(systems)
    for item in specs:
        name, sep, value = item.partition("=")
        fields = value.split(":")
        if not sep or name not in systems or fields[0] not in order[: order.index(name)] or len(fields) > 4:
            raise OptionError(
                "--self-train must look like NAME=TEACHER[:THRESHOLD[:OUTSIDE[:SELECTION]]], NAME a system and TEACHER "
                f"one listed before it; got {item!r}"
            )
        teacher, threshold, outside, selection = fields + ["0.9", "O", "doc"][len(fields) - 1 :]
        try:
            settings = SelfTraining(teacher, float(threshold), outside, selection)
        except ValueError:
            raise OptionError(f"--self-train {item!r}: the threshold must be a number") from None
        if not 0 <= settings.threshold <= 1 or outside not in OUTSIDE or selection not in SELECTIONS:
            raise OptionError(
                f"--self-train {item!r}: the threshold must be in [0, 1], OUTSIDE one of {OUTSIDE} and SELECTION one of {SELECTIONS}"
            )
        systems[name].self_training = settings


# The --kl-phase options that are flags: the control (kl-phase --kl-steps-off), the sharpened
# target held constant, the encoder trained too (the paper's is frozen).
KL_PHASE_FLAGS = ("off", "stop-gradient", "train-encoder")


@dataclass
class KLContinuation:
    """A system that continues a base system's model-best on the same split with
    `python -m spacy_lowner kl-phase` (bench/kl_phase.py): the KL regularisers as their paper
    runs them, or with `off` the control, the same supervised steps without the KL steps."""

    base: str  # the system whose model-best it continues
    term: str  # "prior" or "confidence" (spacy_lowner/training/kl_phase.py TERMS)
    off: bool = False
    pairs: Optional[int] = None  # None: the paper's for the term (PAPER_PAIRS)
    stop_gradient: bool = False
    train_encoder: bool = False

    @property
    def n_pairs(self) -> int:
        return PAPER_PAIRS[self.term] if self.pairs is None else self.pairs

    @property
    def spec(self) -> str:
        """BASE:TERM[:OPTION...], the options in a fixed order."""
        flags = [flag for flag in KL_PHASE_FLAGS if getattr(self, flag.replace("-", "_"))]
        return ":".join([self.base, self.term, *flags, *([f"pairs={self.pairs}"] if self.pairs is not None else [])])

    def options(self) -> List[str]:
        """Its `kl-phase` options (inputs, output and seed aside); the number of pairs always
        given, so that the recorded command says it."""
        args = ["--term", self.term, "--pairs", str(self.n_pairs)]
        args += ["--kl-steps-off"] * self.off + ["--stop-gradient"] * self.stop_gradient
        return args + ["--train-encoder"] * self.train_encoder

    def is_control_of(self, other: "KLContinuation") -> bool:
        """Whether this is `other`'s control: `off`, from the same base, with the same number of
        supervised steps, the encoder frozen or trained alike."""
        same = (self.base, self.n_pairs, self.train_encoder) == (other.base, other.n_pairs, other.train_encoder)
        return self.off and not other.off and same


def parse_kl_phase(specs: List[str], systems: Dict[str, "System"]) -> None:
    """NAME=BASE:TERM[:OPTION...] specs, OPTION one of KL_PHASE_FLAGS or pairs=N: each adds the
    system NAME (a new name) after those listed, continuing BASE (a system listed before it)
    with kl-phase; the options are checked as kl-phase checks them."""
    for item in specs:
        name, sep, value = item.partition("=")
        base, _, rest = value.partition(":")
        term, *options = rest.split(":")
        if not sep or not name or name in systems or base not in systems or not term:
            raise OptionError(
                f"--kl-phase must look like NAME=BASE:TERM[:OPTION...], NAME a new name and BASE a system listed before "
                f"it; got {item!r}"
            )
        settings = KLContinuation(base, term)
        for option in options:
            key, has_value, number = option.partition("=")
            if option in KL_PHASE_FLAGS:
                setattr(settings, option.replace("-", "_"), True)
            elif key == "pairs" and has_value and number.isdigit():
                settings.pairs = int(number)
            else:
                raise OptionError(f"--kl-phase {item!r}: {option!r} is not one of {', '.join(KL_PHASE_FLAGS)} or pairs=N")
        try:
            KLPhaseSettings(
                term=term, pairs=settings.pairs, kl_steps=0 if settings.off else 1,
                freeze_encoder=not settings.train_encoder, stop_gradient=settings.stop_gradient,
            )
        except ValueError as err:
            raise OptionError(f"--kl-phase {item!r}: {err}") from None
        systems[name] = System(name, systems[base].config, parts=list(systems[base].parts), kl_phase=settings)


def kl_phase_comparisons(systems: Dict[str, "System"]) -> Dict[str, Tuple[str, Optional[str]]]:
    """Each kl-phase system's base and control: of the `off` systems that are its control, the
    first listed with its term, else the first listed (the term changes nothing without KL
    steps); None for a control, or where none was asked for."""
    continuations = {name: system.kl_phase for name, system in systems.items() if system.kl_phase}
    comparisons = {}
    for name, settings in continuations.items():
        controls = [control for control, other in continuations.items() if other.is_control_of(settings)]
        controls.sort(key=lambda control: continuations[control].term != settings.term)  # stable: listed order kept
        comparisons[name] = (settings.base, controls[0] if controls else None)
    return comparisons


@dataclass
class System:
    name: str
    config: Path
    # Overrides for this system only, applied after the sweep's common ones.
    overrides: Dict[str, str] = field(default_factory=dict)
    # Partial configs composed onto `config` (NAME=BASE+PART+...), see config_file.
    parts: List[Path] = field(default_factory=list)
    # Trains on its split's labeled docs plus a teacher's pseudo-labeled ones (self_training.py).
    self_training: Optional[SelfTraining] = None
    # Continues another system's model-best with kl-phase (bench/kl_phase.py); config and parts
    # are that system's.
    kl_phase: Optional[KLContinuation] = None

    @property
    def spec(self) -> str:
        """How the command line named it: CONFIG or BASE+PART+..."""
        if self.kl_phase:
            return f"kl-phase from {self.kl_phase.spec}"
        spec = "+".join(str(path) for path in [self.config, *self.parts])
        return spec + (f", self-trained from {self.self_training.spec}" if self.self_training else "")

    def config_file(self, folder: Path) -> Path:
        """The config to train: `config` itself, or its composition with `parts`, written to
        folder/configs/NAME.cfg (so a report keeps the config its runs trained)."""
        if not self.parts:
            return self.config
        path = Path(folder) / "configs" / f"{self.name}.cfg"
        write_files({path: compose(self.config, self.parts).encode("utf8")})
        return path


def parse_pairs(pairs: List[str], what: str) -> Dict[str, str]:
    """KEY=VALUE strings as a dict (values kept as strings, as `spacy train` takes them)."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise OptionError(f"{what} must look like KEY=VALUE, got {pair!r}")
        parsed[key] = value
    return parsed


def parse_systems(specs: List[str], sets: List[str] = ()) -> Dict[str, System]:
    """NAME=CONFIG or NAME=BASE+PART+... specs (each an existing file) and NAME:KEY=VALUE
    per-system overrides."""
    systems = {}
    for name, spec in parse_pairs(specs, "--system").items():
        base, *parts = [Path(item) for item in spec.split("+")]
        systems[name] = System(name, base, parts=parts)
        for path in [base, *parts]:
            if not path.is_file():
                raise OptionError(f"Config for system {name} not found: {path}")
    for item in sets:
        name, sep, pair = item.partition(":")
        if not sep or name not in systems:
            raise OptionError(f"--set must look like SYSTEM:KEY=VALUE with SYSTEM one of {sorted(systems)}, got {item!r}")
        systems[name].overrides.update(parse_pairs([pair], "--set"))
    return systems


def parse_comparisons(specs: List[str]) -> Dict[str, List[str]]:
    """NAME=OTHER[,OTHER...] specs: NAME's paired differences from each OTHER, besides the
    baseline and the control (a method against its compute-matched baselines). Any system or
    best-of row whose runs the folder holds, those of earlier sweeps into it too, so the names
    are not checked here: the report names those it found no runs of."""
    comparisons: Dict[str, List[str]] = {}
    for spec in specs:
        name, value = next(iter(parse_pairs([spec], "--compare").items()))
        others = [item.strip() for item in value.split(",") if item.strip()]
        if not others or name in others or len(set(others)) < len(others) or name in comparisons:
            raise OptionError(
                f"--compare must look like NAME=OTHER[,OTHER...] with different systems, each NAME once, got {name}={value}"
            )
        comparisons[name] = others
    return comparisons


def parse_best_of(specs: List[str], systems: Dict[str, System]) -> Dict[str, List[str]]:
    """NAME=SYSTEM,SYSTEM[,...] specs: a derived row NAME that, per split, takes the run of
    those systems with the highest dev F1 (bench/best_of.py). Two systems at least, each one
    of the sweep's; NAME a new name."""
    best_of: Dict[str, List[str]] = {}
    for name, value in parse_pairs(specs, "--best-of").items():
        members = [item.strip() for item in value.split(",") if item.strip()]
        unknown = [member for member in members if member not in systems]
        if len(members) < 2 or len(set(members)) < len(members) or unknown or name in systems:
            raise OptionError(
                f"--best-of must look like NAME=SYSTEM,SYSTEM[,...] with two or more different systems of "
                f"{sorted(systems)} and NAME a new name; got {name}={value}"
            )
        best_of[name] = members
    return best_of


def parse_numbers(text: str, kind: type, what: str) -> list:
    try:
        return [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise OptionError(f"{what} must be a comma-separated list of numbers, got {text!r}") from None


def parse_value(text: str) -> Any:
    """A command-line override's value as `spacy train` reads it: JSON if it parses (numbers,
    booleans, null, lists), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
