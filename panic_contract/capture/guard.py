"""A reader in front of the HAR parser that bounds what it is given: nesting depth, string and entry sizes.

So memory stays flat for any input (see `DepthGuard`); the HAR reader turns its two errors into one line.
"""

from __future__ import annotations

import itertools
import operator
import os
import re
from typing import IO, cast

# Deeper than any HAR an exporter writes (about 10 levels; a browser's async stack traces, a few dozen).
MAX_DEPTH = 256


class NestingError(Exception):
    """The input nests deeper than the guard allows; `offset` is where the guard stopped reading."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class RecordTooLargeError(Exception):
    """One HAR entry, or one value in it, passes the guard's bound: `what` it was, at `offset`."""

    def __init__(self, offset: int, what: str, limit: int) -> None:
        super().__init__(offset, what, limit)
        self.offset, self.what, self.limit = offset, what, limit


def string_limit(max_body_size: int) -> int:
    """How long a HAR string may grow before the guard cuts it: a body of `max_body_size` bytes as a HAR
    writes it (base64 adds a third, escapes more) stays whole; a longer body is judged as too large."""
    return 2 * max_body_size


def entry_limit(max_body_size: int) -> int:
    """The most bytes one HAR entry may take (each of its strings bounded as above): a body, headers, timings.
    Counted between two entries, so the HAR's prelude (creator, pages) counts toward the first one's."""
    return max(32 << 20, 4 * max_body_size)


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # an opener counts 2, a closer 0: depth after k is sum - k
_NOT_DELIMITER = b" \t\r\n,:"  # what ends a number or a literal outside strings
# Put by the guard at the end of a string it cut short: never in a HAR, so a body ending so was too large.
CUT_MARK = f"<panic-contract: cut here, {os.urandom(6).hex()}>"
_CUT_MARK = CUT_MARK.encode()


class DepthGuard:
    """A reader in front of the HAR parser that stops input nested deeper than `limit`, and bounds strings.

    ijson keeps a prefix string per open level, each as long as the path to it, so nesting costs
    memory and time quadratic in its depth (50,000 levels: 6 GB). Each chunk is scanned before
    the parser sees it, with bytes operations only (no Python step per byte): escapes masked,
    strings cut out, brackets counted; the exact peak is computed only where a cheap bound says
    it could pass the limit.

    With `string_limit`, no string reaches the parser longer than that (and a chunk): yajl would buffer
    all of it, and ijson build it (a 400 MiB body took 1.3 GB). The guard passes the string's first bytes,
    then CUT_MARK, and drops the rest up to its closing quote, so the entries after it are read as usual.
    A bare value (a number) that long, or more than `entry_limit` bytes between two entries (the reader
    resets `entry_bytes` after each), raise RecordTooLargeError.
    """

    def __init__(
        self, stream: IO[bytes], limit: int, *, string_limit: int | None = None, entry_limit: int | None = None
    ) -> None:
        self.stream, self.limit = stream, limit
        self.string_limit, self.entry_limit = string_limit, entry_limit
        self.depth = 0
        self.in_string = False
        self.carry = b""  # backslashes at the end of a chunk: their escape may go on in the next one
        self.offset = 0
        self.run = 0  # bytes of the string (or bare value) still open at the end of the last chunk
        self.tail = b""  # that string's last bytes, masked: where a cut looks back for an escape begun there
        self.dropping = False  # inside a string cut short: dropping bytes up to its closing quote
        self.entry_bytes = 0
        self.cuts = 0

    def read(self, size: int = -1) -> bytes:
        while True:
            chunk = self.stream.read(size)
            if not chunk:
                return chunk
            self.offset += len(chunk)
            if self.dropping:
                chunk = self._drop(chunk)
                if not chunk:
                    continue
            passed = self._scan(chunk)
            if self.entry_limit is not None:
                self.entry_bytes += len(passed)
                if self.entry_bytes > self.entry_limit:
                    raise RecordTooLargeError(self.offset, "an entry", self.entry_limit)
            return passed

    def tell(self) -> int:
        return self.stream.tell()

    def _scan(self, chunk: bytes) -> bytes:
        carried = len(self.carry)
        data = self.carry + chunk if self.carry else chunk
        kept = len(data) - len(data.rstrip(b"\\"))
        self.carry = data[len(data) - kept :] if kept else b""
        if kept:
            data = data[: len(data) - kept]
        if b"\\" in data:  # escapes occur only in strings: an escaped quote must not end one
            data = _masked_escapes(data)
        marks = data.translate(None, _NOT_STRUCTURE)
        structure, self.in_string = outside_strings(marks, self.in_string)
        opens = structure.count(b"[") + structure.count(b"{")
        if (
            self.depth + opens > self.limit
            and self.depth + _peak_bound(structure) > self.limit
            and self.depth + _peak(structure) > self.limit
        ):
            raise NestingError(self.offset)
        self.depth += 2 * opens - len(structure)
        if self.string_limit is None:
            return chunk
        if not self.in_string:
            # a bare value runs on only through chunks with no delimiter at all (rare: checked only then)
            bare = b'"' not in marks and not structure and len(data.translate(None, _NOT_DELIMITER)) == len(data)
            self.run = self.run + len(data) if bare else 0
            if self.run > self.string_limit:
                raise RecordTooLargeError(self.offset, "a value", self.string_limit)
            return chunk
        last = data.rfind(b'"')
        self.run = self.run + len(data) if last < 0 else len(data) - last - 1
        if self.run <= self.string_limit:
            self.tail = (self.tail + data)[-_ESCAPE_SPAN:] if len(data) < _ESCAPE_SPAN else data[-_ESCAPE_SPAN:]
            return chunk
        return self._cut(chunk, data, carried, last, trailing=kept > 0)

    def _cut(self, chunk: bytes, data: bytes, carried: int, last: int, *, trailing: bool) -> bytes:
        """Pass the open string up to a point in this chunk where cutting leaves valid JSON, then CUT_MARK."""
        # An escape or a UTF-8 character may have begun in the previous chunk: look back into its tail.
        view = self.tail + data if last < 0 else data
        shift = len(view) - len(data)
        # `trailing`: this chunk ends in backslashes, carried to the next: before them is a point too (else a
        # string of escapes read a byte at a time never offers one: each escape's backslash comes carried)
        cut = _safe_cut(view, shift + (last + 1 if last >= 0 else carried), end=trailing)
        if cut is not None:
            cut -= shift
        else:
            self.tail = (self.tail + data)[-_ESCAPE_SPAN:]
            limit = cast(int, self.string_limit)
            # Text has a safe point every 12 bytes at most (a surrogate pair): 64 bytes past the limit
            # without one is not text at all (invalid UTF-8), and the parser must not take it in either.
            if self.run > limit + 64:
                raise RecordTooLargeError(self.offset, "a string", limit)
            return chunk
        self.cuts += 1
        self.dropping, self.run, self.tail = True, 0, b""
        return chunk[: cut - carried] + _CUT_MARK

    def _drop(self, chunk: bytes) -> bytes:
        """Drop a string cut short up to its closing quote; the rest of the chunk, from that quote on."""
        data = self.carry + chunk if self.carry else chunk
        kept = len(data) - len(data.rstrip(b"\\"))
        body = data[: len(data) - kept] if kept else data
        if b"\\" in body:
            body = _masked_escapes(body)
        end = body.find(b'"')
        if end < 0:
            self.carry = data[len(data) - kept :] if kept else b""
            return b""
        self.dropping, self.carry = False, b""
        return data[end:]


def outside_strings(kept: bytes, in_string: bool) -> tuple[bytes, bool]:
    """The brackets of `kept` (a chunk's brackets and unescaped quotes, nothing else) outside strings, and
    whether a string is open at its end, given whether one was open at its start.

    Two quotes side by side (`""`) are a string with no bracket in it or the end of one string and the start
    of the next: taking them out leaves the brackets outside strings and the parity as they were, and it
    leaves few quotes to split on (a HAR has two per key and per value, and brackets in a few of them).
    """
    parts = kept.replace(b'""', b"").split(b'"')
    structure = b"".join(parts[1::2] if in_string else parts[::2])
    return structure, in_string != (len(parts) % 2 == 0)


def _masked_escapes(data: bytes) -> bytes:
    """`\\\\` and `\\"` as two bytes no JSON string holds raw (a quote so escaped ends nothing), the second
    marking where no cut may fall; the same length, so offsets stay true. `data` starts where no escape is open."""
    if b"\\\\" in data:  # an escaped backslash is rare: a search costs a tenth of a replace that copies
        data = data.replace(b"\\\\", _PAIR)
    return data.replace(b'\\"', _PAIR)


_PAIR = b"\x02\x01"
_ESCAPE_SPAN = 12  # a surrogate pair as two escapes (12 bytes): the longest stretch a cut must not split
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")


def _safe_cut(data: bytes, start: int, *, end: bool = False) -> int | None:
    """The first offset from `start` that is neither inside a UTF-8 character, nor inside an escape, nor
    between the two escapes of a surrogate pair (yajl would read a lone half as `?`). With `end`, the offset
    at the end of `data` is one too: a backslash follows it (carried to the next chunk), so no character
    goes on there.

    `data` has its two-byte escapes of a backslash or a quote masked, so any backslash left starts an escape:
    `\\uXXXX` (6 bytes) or one of 2. Only called on a string cut short: a Python loop is fine here.
    """
    for at in range(start, len(data) + end):
        if at < len(data) and (0x80 <= data[at] < 0xC0 or data[at] == 1):  # UTF-8 continuation, masked escape
            continue
        back = data.rfind(b"\\", max(0, at - 6), at)
        if back >= 0 and at < back + (6 if data[back + 1 : back + 2] == b"u" else 2):
            continue
        if at >= 6 and _HIGH_SURROGATE.fullmatch(data, at - 6, at):
            continue
        return at
    return None


def _peak(structure: bytes) -> int:
    """The highest depth `structure` (brackets only) reaches, relative to where it starts."""
    depths = map(operator.sub, itertools.accumulate(structure.translate(_STEP)), itertools.count(1))
    peak: int = max(itertools.chain((0,), depths))
    return peak


def _peak_bound(structure: bytes) -> int:
    """An upper bound of `_peak`, cheap: each pass drops the innermost empty pairs, one level at most."""
    levels = 0
    while structure and levels < 16:
        shorter = structure.replace(b"{}", b"")
        levels += len(shorter) != len(structure)
        shortest = shorter.replace(b"[]", b"")
        levels += len(shortest) != len(shorter)
        if len(shortest) == len(structure):
            break
        structure = shortest
    return (_peak(structure) if structure else 0) + levels
