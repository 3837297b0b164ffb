"""Corpus readers and converters: WeiboNER, CoNLL/WNUT column files, CLUENER, raw text."""
from .convert import FORMATS, ConvertReport, convert, read_docs
from .errors import CorpusFormatError

__all__ = ["FORMATS", "ConvertReport", "CorpusFormatError", "convert", "read_docs"]
