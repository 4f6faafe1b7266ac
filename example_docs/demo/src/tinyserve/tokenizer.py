"""Tokenizers: the shared encode/decode flow, and a byte-level vocabulary."""

from __future__ import annotations

import unicodedata


class Tokenizer:
    """Encode and decode around special tokens; subclasses define the vocabulary."""

    def __init__(self, bos_id: int, eos_id: int) -> None:
        self.bos_id = bos_id
        self.eos_id = eos_id

    def encode(self, text: str) -> list[int]:
        text = self.normalize(text)
        return [self.bos_id, *self.to_ids(text)]

    def decode(self, ids: list[int]) -> str:
        return self.to_text([i for i in ids if i not in (self.bos_id, self.eos_id)])

    def normalize(self, text: str) -> str:
        return unicodedata.normalize("NFC", text)

    def to_ids(self, text: str) -> list[int]:
        raise NotImplementedError

    def to_text(self, ids: list[int]) -> str:
        raise NotImplementedError


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes are tokens 0-255; 256 and 257 are BOS and EOS."""

    def __init__(self) -> None:
        super().__init__(bos_id=256, eos_id=257)
        self.vocab_size = 258

    def normalize(self, text: str) -> str:
        return super().normalize(text).replace("\r\n", "\n")

    def to_ids(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def to_text(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")
