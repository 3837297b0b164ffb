"""Cut a BERT-type encoder folder to its bottom layers.

On WeiboNER the bottom 6 of multilingual-e5's 12 layers tag best (reports/encoder_floor), and
each layer dropped makes a step cheaper. `encoder build --layers N` cuts while it builds;
`encoder cut` does the same to a folder that exists already: a 12-layer folder carried to a
GPU machine, a layer-mix folder (its mixing weights are cut with the layers), or a Hugging
Face model saved locally. The tokenizer and every other file are copied as they are.
"""
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from ..tools.outputs import check_outputs, edited_copy
from ..training.optimizers import LAYER
from .folder import PROVENANCE, read_provenance, write_json
from .layer_mix import MODEL_TYPE as LAYER_MIX_TYPE

WEIGHTS = "model.safetensors"


def cut_encoder(source: Path, output: Path, layers: int) -> Path:
    """Write a copy of the encoder folder `source` to `output` that keeps its bottom `layers`
    transformer layers (all or nothing: the copy is made beside `output` and renamed into
    place). Raises ValueError for a folder that is not a BERT-type model with safetensors
    weights, or a layer count that is not between 1 and the source's depth less one."""
    source, output = Path(source), Path(output)
    check_outputs([output], [source])
    if output.exists():
        raise FileExistsError(f"{output} exists; give a new folder")
    config_path, weights_path = source / "config.json", source / WEIGHTS
    if not config_path.is_file() or not weights_path.is_file():
        raise ValueError(f"{source} needs config.json and {WEIGHTS} (a folder `encoder build` or `save_pretrained` wrote)")
    config = json.loads(config_path.read_text(encoding="utf8"))
    if config.get("model_type") not in ("bert", LAYER_MIX_TYPE) or "num_hidden_layers" not in config:
        raise ValueError(f"{source} holds a {config.get('model_type')!r} model; cutting needs a BERT-type encoder")
    depth = config["num_hidden_layers"]
    if not 1 <= layers < depth:
        raise ValueError(f"{source} has {depth} layers: keep between 1 and {depth - 1}")
    weights = load_file(str(weights_path))
    kept = {}
    for name, tensor in weights.items():
        layer = LAYER.search(name)
        if layer and int(layer.group(1)) >= layers:
            continue
        if name.endswith("layer_logits"):  # the layer mix: one weight per mixed state, the top ones go
            tensor = tensor[: len(tensor) - (depth - layers)].clone()
        kept[name] = tensor
    config["num_hidden_layers"] = layers
    with edited_copy(source, output) as folder:
        save_file(kept, str(folder / WEIGHTS), metadata={"format": "pt"})
        write_json(folder / "config.json", config)
        if (folder / PROVENANCE).is_file():
            provenance = read_provenance(folder)
            provenance["layers"] = layers
            if "request" in provenance:  # as if built with --layers: `encoder build` reuses it
                provenance["request"]["layers"] = layers
            write_json(folder / PROVENANCE, provenance)
    return output
