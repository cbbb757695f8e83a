"""Reads a JSON object of lists a piece at a time, so a file of any size costs little memory.

A bundle is `{"campaigns": [...], ..., "campaigncalls": [...]}`. `read_lists` walks it with the
standard library's decoder: the top-level keys one by one and each list's items one by one,
holding only the text that is not read yet (a chunk, or one item if an item is bigger).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import IO, Any

CHUNK_CHARS = 4 * 1024 * 1024
# One item bigger than this is not a record; the reader says so instead of reading on.
MAX_ITEM_CHARS = 64 * 1024 * 1024

_WHITESPACE = " \t\n\r"
_KINDS: dict[type, str] = {str: "str", bool: "bool", type(None): "null"}


class JsonStreamError(ValueError):
    """The text is not JSON, or not an object of lists; says where (line and column)."""


class ListItem:
    """One item of one of the object's lists: the key, its index in that list, the value."""

    __slots__ = ("key", "index", "value")

    def __init__(self, key: str, index: int, value: Any) -> None:
        self.key = key
        self.index = index
        self.value = value


class _Reader:
    def __init__(self, stream: IO[bytes], chunk_chars: int) -> None:
        self._stream = stream
        self._decode = codecs.getincrementaldecoder("utf-8")("strict")
        self._chunk = chunk_chars
        self._decoder = json.JSONDecoder()
        self.text = ""
        self.pos = 0
        self.eof = False
        self._bytes_read = 0
        self._line = 1  # the line and column where self.text begins
        self._column = 1

    # ---- the buffer -----------------------------------------------------------------------

    def more(self, at_least: int = 0) -> bool:
        """Read on; False at the end of the file. Text before `pos` is let go."""
        if self.eof:
            return False
        self._drop_read_text()
        wanted = max(self._chunk, at_least)
        while True:
            raw = self._stream.read(wanted)
            held = len(self._decode.getstate()[0])  # the start of a character cut by the read
            try:
                piece = self._decode.decode(raw, final=not raw)
            except UnicodeDecodeError as error:
                byte = self._bytes_read - held + error.start
                raise JsonStreamError(f"is not UTF-8 text (byte {max(byte, 0)})") from None
            self._bytes_read += len(raw)
            if not raw:
                self.eof = True
            if piece or self.eof:
                self.text += piece
                return bool(piece)

    def _drop_read_text(self) -> None:
        if self.pos == 0:
            return
        done = self.text[: self.pos]
        lines = done.count("\n")
        if lines:
            self._line += lines
            self._column = self.pos - done.rfind("\n")
        else:
            self._column += self.pos
        self.text = self.text[self.pos :]
        self.pos = 0

    def where(self, pos: int | None = None) -> str:
        pos = self.pos if pos is None else pos
        before = self.text[:pos]
        lines = before.count("\n")
        if lines:
            return f"line {self._line + lines} column {pos - before.rfind(chr(10))}"
        return f"line {self._line} column {self._column + pos}"

    def fail(self, message: str, pos: int | None = None) -> JsonStreamError:
        return JsonStreamError(f"is not JSON: {message} at {self.where(pos)}")

    # ---- tokens ---------------------------------------------------------------------------

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.more():
                return ""

    def expect(self, chars: str, what: str) -> str:
        char = self.peek()
        if not char or char not in chars:
            raise self.fail(f"Expecting {what}")
        self.pos += 1
        return char

    def value(self) -> Any:
        """The next JSON value, reading on while it is cut off by the end of the buffer."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if self.eof or not _cut_off(error, len(self.text)):
                    raise self.fail(error.msg, error.pos) from None
                if len(self.text) - self.pos > MAX_ITEM_CHARS:
                    raise self.fail(
                        f"an item is not complete within {MAX_ITEM_CHARS // 2**20} MiB"
                    ) from None
                self.more(at_least=len(self.text) - self.pos)  # doubles what it holds
                continue
            except RecursionError:
                raise self.fail("nested too deeply") from None
            if end + 2 >= len(self.text) and not self.eof and _may_go_on(value):
                # a number near the end of the buffer may go on: "0." is "0.5" cut short
                self.more()
                continue
            self.pos = end
            return value


def _cut_off(error: json.JSONDecodeError, held: int) -> bool:
    """Whether the decoder may have stopped because the text it holds ends, not because it
    is wrong: the complaint is about the last few characters (a literal, an escape or a
    delimiter cut short), or about a string that runs to the end."""
    return error.pos >= held - 8 or error.msg.startswith("Unterminated string")


def _may_go_on(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_lists(
    stream: IO[bytes], keys: tuple[str, ...], *, chunk_chars: int = CHUNK_CHARS
) -> Iterator[ListItem]:
    """Each item of each list of the object in `stream`, in file order.

    Only `keys` may appear, each once, each holding a list; anything else is a
    JsonStreamError naming the key or the place.
    """
    reader = _Reader(stream, chunk_chars)
    char = reader.peek()
    if not char:
        raise JsonStreamError("is not JSON: the file is empty")
    if char != "{":
        # a list is not read through (it may be big); anything else is read to say what it is
        kind = "list" if char == "[" else _KINDS.get(type(reader.value()), "number")
        raise JsonStreamError(
            f"is not a bundle: expected an object with lists {', '.join(keys)}, got {kind}"
        )
    reader.pos += 1
    seen: set[str] = set()
    if reader.peek() == "}":
        reader.pos += 1
    else:
        while True:
            if reader.peek() != '"':
                raise reader.fail("Expecting property name enclosed in double quotes")
            key = reader.value()
            reader.expect(":", "':' delimiter")
            if key not in keys:
                raise JsonStreamError(f"has a bad record: {key}: Extra inputs are not permitted")
            if key in seen:
                raise JsonStreamError(f"has {key} twice")
            seen.add(key)
            if reader.peek() != "[":
                raise JsonStreamError(f"has a bad record: {key}: Input should be a valid array")
            reader.pos += 1
            index = 0
            if reader.peek() == "]":
                reader.pos += 1
            else:
                while True:
                    yield ListItem(key, index, reader.value())
                    index += 1
                    if reader.expect(",]", "',' delimiter") == "]":
                        break
            if reader.expect(",}", "',' delimiter") == "}":
                break
    if reader.peek():
        raise reader.fail("Extra data")
