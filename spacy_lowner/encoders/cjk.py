"""Which characters Chinese text is made of: shared by the me5-zh piece selection, the
column-file reader, which glues CJK characters together without spaces, and the tokenizer
that gives each of them a piece of its own."""

# Han ideographs (with extensions and compatibility forms), CJK punctuation, bopomofo and
# full-width forms: what Chinese text is made of besides ASCII.
CJK_RANGES = (
    (0x3000, 0x303F),
    (0x3100, 0x312F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
    (0x20000, 0x2FFFF),
)


def is_cjk(char: str) -> bool:
    cp = ord(char)
    return any(low <= cp <= high for low, high in CJK_RANGES)


def cjk_character_class() -> str:
    """A regular-expression class matching one CJK character, in Python's and the
    tokenizers library's syntax alike."""
    return "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES) + "]"
