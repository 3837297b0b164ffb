"""Domain-adaptive pretraining: continue the masked-language-model training of an encoder folder
on the task's own unlabeled text (Gururangan et al. 2020), and write a folder that loads like
the original.

multilingual-e5 ships no MLM head (it was trained for sentence embeddings), so one is built:
BERT's `BertOnlyMLMHead` (a dense layer with GELU and LayerNorm, then a decoder to the
vocabulary) with the decoder tied to the encoder's word embeddings, so only the small transform
and a bias are new. It is first trained alone on the frozen encoder (`head_steps`), so that the
encoder's first updates do not chase a random head, then with the encoder (`steps`). The head
is computed on the masked positions only (15% of the pieces): the vocabulary projection is most
of the cost on a CPU. Masking is transformers' `DataCollatorForLanguageModeling` (15%, of which
80% <mask>, 10% a random piece, 10% unchanged). Only the encoder is written out.
"""
import json
import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from ..tools.outputs import check_outputs, edited_copy
from .corpus_text import read_corpus_texts
from .folder import PROVENANCE, Log, describe_file, read_provenance, write_json

# Pieces per training sequence (texts are cut into chunks of this length).
MAX_LENGTH = 128


def adapt_encoder(
    source: Path,
    output: Path,
    corpora: Sequence[Path],
    steps: int = 1000,
    head_steps: int = 200,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    head_learning_rate: float = 1e-3,
    seed: int = 0,
    log: Optional[Log] = None,
) -> Dict:
    """Train `source`'s encoder as a masked language model on the texts of `corpora` and write
    it to the new folder `output`; return what was done (also stored in its provenance)."""
    from transformers import AutoModel, AutoTokenizer, DataCollatorForLanguageModeling
    from transformers.models.bert.modeling_bert import BertOnlyMLMHead

    say = log or (lambda _msg: None)
    source, output = Path(source), Path(output)
    check_outputs([output], [source, *corpora])
    if output.exists():
        raise FileExistsError(f"{output} exists; give a new folder")
    config = json.loads((source / "config.json").read_text(encoding="utf8"))
    if config.get("model_type") != "bert":
        raise ValueError(f"{source} holds a {config.get('model_type')!r} model; adapt a plain BERT-type encoder folder")
    random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    if tokenizer.mask_token_id is None:
        raise ValueError(f"the tokenizer of {source} has no mask token")
    encoder = AutoModel.from_pretrained(str(source))
    texts = [text for corpus in corpora for text in read_corpus_texts(Path(corpus)) if text.strip()]
    chunks = _chunks(tokenizer, texts) if texts else []
    if not chunks:
        raise ValueError("the corpora hold no text to adapt the encoder on")
    say(f"{len(chunks)} sequences of up to {MAX_LENGTH} pieces from {len(corpora)} corpus file(s)")
    head = BertOnlyMLMHead(encoder.config)
    head.predictions.decoder.weight = encoder.embeddings.word_embeddings.weight  # tied
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=0.15, return_tensors="pt")
    losses = []
    for stage, n_steps, rate, trained in (
        ("head", head_steps, head_learning_rate, list(head.predictions.transform.parameters()) + [head.predictions.bias]),
        ("encoder", steps, learning_rate, list(encoder.parameters()) + list(head.parameters())),
    ):
        if not n_steps:
            continue
        trained = list({id(p): p for p in trained}.values())  # the tied decoder once
        optimizer = torch.optim.AdamW(trained, lr=rate, weight_decay=0.01)
        encoder.train(stage == "encoder")
        for param in encoder.parameters():
            param.requires_grad_(stage == "encoder")
        for step in range(n_steps):
            batch = collator([{"input_ids": ids} for ids in random.sample(chunks, min(batch_size, len(chunks)))])
            loss = _mlm_loss(encoder, head, batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            if step % 50 == 0 or step == n_steps - 1:
                say(f"{stage} step {step}: masked-LM loss {sum(losses[-50:]) / len(losses[-50:]):.3f}")
    record = {
        "source": str(source),
        "corpora": [describe_file(Path(c)) for c in corpora],
        "sequences": len(chunks),
        "head_steps": head_steps,
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "first_loss": losses[0] if losses else None,
        "last_loss": sum(losses[-50:]) / len(losses[-50:]) if losses else None,
    }
    _write_folder(source, output, encoder, record)
    return record


def _chunks(tokenizer, texts: List[str]) -> List[List[int]]:
    """Each text's pieces, cut into sequences of at most MAX_LENGTH with the special tokens."""
    room = MAX_LENGTH - 2
    chunks = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        for start in range(0, len(ids), room):
            chunks.append(tokenizer.build_inputs_with_special_tokens(ids[start : start + room]))
    return chunks


def _mlm_loss(encoder, head, batch) -> torch.Tensor:
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    masked = batch["labels"] != -100
    logits = head(hidden[masked])
    return torch.nn.functional.cross_entropy(logits, batch["labels"][masked])


def _write_folder(source: Path, output: Path, encoder, record: Dict) -> None:
    """The source folder with the adapted weights, written beside `output` and renamed in."""
    with edited_copy(source, output) as folder:
        encoder.save_pretrained(str(folder), safe_serialization=True)
        provenance = read_provenance(folder) if (folder / PROVENANCE).exists() else {}
        provenance["adapted"] = record
        write_json(folder / PROVENANCE, provenance)
