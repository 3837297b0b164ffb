"""Loading a finished folder back the way transformers will, before it is moved into place."""
from pathlib import Path
from typing import List

import numpy as np

# Probe texts for the checks after a build: Chinese (with a number, punctuation, full-width
# characters) and English.
PROBES = (
    "我们在北京见到了周杰伦",
    "2017年5月，李明在上海复旦大学发表了演讲。",
    "今天天气很好！我们去西湖边散步～",
    "ＡＢＣ１２３ 和 Hello  world, this is a test.",
)


def load_and_run(folder: Path, tokenizer, texts: List[str]) -> List[np.ndarray]:
    """Load the model as transformers would, insist that every weight came from the file, and
    return the last hidden states of `texts` (one array per text)."""
    import torch
    from transformers import AutoModel

    model, info = AutoModel.from_pretrained(str(folder), output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise RuntimeError(f"weights do not match the architecture: {problems}")
    model.eval()
    outputs = []
    with torch.no_grad():
        for text in texts:
            batch = tokenizer(text, return_tensors="pt")
            outputs.append(model(**batch).last_hidden_state[0].numpy())
    return outputs
