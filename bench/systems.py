"""What a sweep trains: named systems, each a config with its own overrides, and the
overrides common to all, parsed from the command line."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

from spacy_lowner.compose import compose
from spacy_lowner.outputs import write_files


class OptionError(ValueError):
    """A malformed command-line option."""


@dataclass
class System:
    name: str
    config: Path
    # Overrides for this system only, applied after the sweep's common ones.
    overrides: Dict[str, str] = field(default_factory=dict)
    # Partial configs composed onto `config` (NAME=BASE+PART+...), see config_file.
    parts: List[Path] = field(default_factory=list)

    @property
    def spec(self) -> str:
        """How the command line named it: CONFIG or BASE+PART+..."""
        return "+".join(str(path) for path in [self.config, *self.parts])

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
