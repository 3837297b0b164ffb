"""Compose a training config from a base config and partial configs, keeping their comments.

A base config (one per dataset and encoder, e.g. configs/weibo_cnn.cfg) trains the supervised
tagger; a partial (configs/parts/*.cfg, configs/objectives/*.cfg) holds only the blocks an
objective or a data setup adds or changes. Composing works on the text, block by block, so the
result reads like a hand-written config, comments included:

- a block the base lacks is added after the last block of its parent (or at the end);
- a block whose registered function (`@readers = ...`, `@batchers = ...`) the partial changes
  is replaced whole, with its sub-blocks: the new function's arguments are not the old one's;
- otherwise the partial's settings replace the base's one by one (with the comments just above
  them), and new settings are added at the end of the block;
- two partials that set the same setting differently are an error.
The result must load as a spaCy config, build a pipeline and resolve its [training] block.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from catalogue import RegistryError
from confection import ConfigValidationError
from spacy.schemas import ConfigSchemaTraining
from spacy.util import load_model_from_config, registry
from thinc.api import Config

from ..corpora.errors import CorpusFormatError, read_lines, shorten

_HEADER = re.compile(r"^\[([^\]]+)\]\s*$")
_SETTING = re.compile(r"^([A-Za-z0-9_@.\-]+)\s*=")
_TRAIN_LINE = "# Train:"


class ComposeError(ValueError):
    """Parts that do not compose: a conflict, or a result that is not a valid config."""


@dataclass
class Setting:
    key: str
    lines: List[str]  # the blank and comment lines since the previous setting, then `key = value`

    @property
    def value(self) -> str:
        return self.lines[-1].split("=", 1)[1].strip()

    @property
    def comments(self) -> List[str]:
        """The comment lines directly above the setting."""
        return _trailing_comments(self.lines[:-1])

    def replace_with(self, other: "Setting") -> None:
        """Take `other`'s value, and its comments if it has any (else keep these)."""
        before = self.lines[: len(self.lines) - 1 - len(self.comments)]
        comments = other.comments or self.comments
        self.lines = before + comments + [other.lines[-1]]


@dataclass
class Block:
    name: str
    lead: List[str]  # comments just above the header
    settings: List[Setting] = field(default_factory=list)
    tail: List[str] = field(default_factory=list)  # comments after the last setting

    def setting(self, key: str) -> Optional[Setting]:
        return next((s for s in self.settings if s.key == key), None)

    @property
    def function(self) -> Optional[Tuple[str, str]]:
        """(`@registry`, value) of the registered function this block calls, if any."""
        found = next((s for s in self.settings if s.key.startswith("@")), None)
        return (found.key, found.value) if found else None

    def text(self) -> List[str]:
        lines = self.lead + [f"[{self.name}]"]
        for setting in self.settings:
            lines += setting.lines
        return lines + self.tail


@dataclass
class ConfigText:
    preamble: List[str]
    blocks: List[Block]

    def block(self, name: str) -> Optional[Block]:
        return next((b for b in self.blocks if b.name == name), None)

    def text(self) -> str:
        lines = list(self.preamble)
        for block in self.blocks:
            if lines and lines[-1] != "":
                lines.append("")
            lines += block.text()
        return "\n".join(lines).rstrip("\n") + "\n"


def parse_config_text(text: str, source: str = "config") -> ConfigText:
    """Blocks with their settings and comments. A comment run directly above a header (no blank
    line between) leads that block; the lines above a setting, up to the previous one, go with it.
    source: the file the text is from, named in errors."""
    preamble: List[str] = []
    blocks: List[Block] = []
    pending: List[str] = []  # comment and blank lines not placed yet
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = _HEADER.match(stripped)
        if header:
            lead = _trailing_comments(pending)
            rest = pending[: len(pending) - len(lead)]
            (blocks[-1].tail if blocks else preamble).extend(rest)
            blocks.append(Block(header.group(1), lead))
            pending = []
        elif stripped == "" or stripped.startswith("#"):
            pending.append(line)
        elif blocks and _SETTING.match(stripped):
            blocks[-1].settings.append(Setting(_SETTING.match(stripped).group(1), pending + [line]))
            pending = []
        else:
            raise ComposeError(
                f"{source}:{line_no}: cannot read config line {shorten(line)}: expected [section], key = value or # comment"
            )
    (blocks[-1].tail if blocks else preamble).extend(pending)
    for block in blocks:  # blank lines between blocks are written anew
        while block.tail and block.tail[-1].strip() == "":
            block.tail.pop()
    while preamble and preamble[-1].strip() == "":
        preamble.pop()
    return ConfigText(preamble, blocks)


def _trailing_comments(lines: List[str]) -> List[str]:
    """The comment lines at the end of `lines` with no blank line after them."""
    run: List[str] = []
    for line in reversed(lines):
        if not line.strip().startswith("#"):
            break
        run.insert(0, line)
    return run


def merge(base: ConfigText, part: ConfigText, part_name: str, owners: Dict[Tuple[str, str], Tuple[str, str]]) -> None:
    """Merge `part` into `base` in place. `owners` maps (block, key) to (part, value) of the
    settings earlier parts set, to find conflicts between parts."""
    for block in part.blocks:
        for setting in block.settings:
            earlier = owners.get((block.name, setting.key))
            if earlier and earlier[1] != setting.value:
                raise ComposeError(
                    f"{part_name} sets [{block.name}] {setting.key} = {setting.value}, "
                    f"but {earlier[0]} set it to {earlier[1]}"
                )
            owners[(block.name, setting.key)] = (part_name, setting.value)
        existing = base.block(block.name)
        if existing is None:
            base.blocks.insert(_insert_position(base, block.name), _copy(block))
        elif block.function and block.function != existing.function:
            position = base.blocks.index(existing)
            base.blocks = [b for b in base.blocks if not _within(b.name, block.name)]
            base.blocks.insert(position, _copy(block))
        else:
            for setting in block.settings:
                old = existing.setting(setting.key)
                if old is None:
                    existing.settings.append(Setting(setting.key, setting.comments + [setting.lines[-1]]))
                else:
                    old.replace_with(setting)


def _copy(block: Block) -> Block:
    return Block(block.name, list(block.lead), [Setting(s.key, list(s.lines)) for s in block.settings], list(block.tail))


def _within(name: str, parent: str) -> bool:
    return name == parent or name.startswith(parent + ".")


def _insert_position(config: ConfigText, name: str) -> int:
    """After the last block under the nearest ancestor of `name` that the config has."""
    parts = name.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        ancestor = ".".join(parts[:depth])
        under = [i for i, b in enumerate(config.blocks) if _within(b.name, ancestor)]
        if under:
            return under[-1] + 1
    return len(config.blocks)


def compose(base_path: Path, part_paths: Sequence[Path]) -> str:
    """The text of `base_path` with `part_paths` merged in, in order, and validated."""
    config = read_config_text(base_path)
    owners: Dict[Tuple[str, str], Tuple[str, str]] = {}
    for path in part_paths:
        part = read_config_text(path)
        merge(config, part, str(path), owners)
        if any(line.startswith(_TRAIN_LINE) for line in part.preamble):
            # The last "# Train: ..." line says how to train the result.
            config.preamble = [line for line in config.preamble if not line.startswith(_TRAIN_LINE)]
        config.preamble += [""] + part.preamble if part.preamble else []
    recipe = " ".join(str(p) for p in [base_path, *part_paths])
    config.preamble = [
        f"# Composed by `python -m spacy_lowner config compose {recipe}`:",
        "# edit those files and compose again rather than this one.",
        "",
    ] + config.preamble
    text = config.text()
    validate(text)
    return text


def read_config_text(path: Path) -> ConfigText:
    """The parsed config file at `path`: UTF-8 text, a byte order mark dropped (editors on
    Windows write one); a file that is not text is a ComposeError naming its line."""
    try:
        text = "\n".join(line for _, line in read_lines(Path(path)))
    except CorpusFormatError as err:
        raise ComposeError(f"{err}; a config is a UTF-8 text file") from None
    return parse_config_text(text, str(path))


def validate(text: str) -> None:
    """Load the config as `spacy train` would: build the pipeline and resolve [training]."""
    try:
        config = Config().from_str(text, interpolate=False)
        load_model_from_config(config, auto_fill=True, validate=True)
        registry.resolve(config.interpolate()["training"], schema=ConfigSchemaTraining)
    except (ConfigValidationError, RegistryError, ValueError) as err:
        raise ComposeError(f"the composed config is not valid:\n{err}") from None


def recipe_of(text: str) -> Optional[List[str]]:
    """The base and parts a composed config names in its first line, or None."""
    match = re.match(r"# Composed by `python -m spacy_lowner config compose ([^`]+)`", text)
    return match.group(1).split() if match else None
