"""Which characters Chinese text is made of: shared by the me5-zh piece selection and the
column-file reader, which glues CJK characters together without spaces."""


def is_cjk(char: str) -> bool:
    """Han ideographs (with extensions and compatibility forms), CJK punctuation, bopomofo and
    full-width forms: what Chinese text is made of besides ASCII."""
    cp = ord(char)
    return (
        0x3000 <= cp <= 0x303F
        or 0x3100 <= cp <= 0x312F
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF
        or 0x20000 <= cp <= 0x2FFFF
    )
