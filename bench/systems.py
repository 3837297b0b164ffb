"""What a sweep trains: named systems, each a config with its own overrides, and the
overrides common to all, parsed from the command line."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List


class OptionError(ValueError):
    """A malformed command-line option."""


@dataclass
class System:
    name: str
    config: Path
    # Overrides for this system only, applied after the sweep's common ones.
    overrides: Dict[str, str] = field(default_factory=dict)


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
    """NAME=CONFIG specs (each config an existing file) and NAME:KEY=VALUE per-system overrides."""
    systems = {name: System(name, Path(cfg)) for name, cfg in parse_pairs(specs, "--system").items()}
    for name, system in systems.items():
        if not system.config.is_file():
            raise OptionError(f"Config for system {name} not found: {system.config}")
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
