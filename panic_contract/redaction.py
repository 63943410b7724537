"""Keep secrets out of every string that leaves the process, in any encoding a server may echo them in.

A secret (the token, the client secret, a credential found in a capture) is registered once, when it
is read from the environment, received from the token endpoint or met in a capture. From then on
`redact()` replaces it with `***` wherever it appears: in a response body or header the target
echoed back (the sending module redacts every response before anything else sees it), in a test's
failure text, in a report, a fixture or a log line. `Secret` holds a value so that no repr or
f-string shows it.

What counts as "appears": the secret itself and every run of `FRAGMENT` or more of its characters
(so a value cut short for display, or a token cut by a server, leaves nothing usable), written
as they are, as JSON escapes (`\\u002B` in any case, `\\/`, `\\"`), URL-encoded (`%2B`), or inside
the base64 of a longer text (`Basic`, `Bearer` or any other prefix: standard and URL-safe alphabets,
at each of the three byte alignments). A secret shorter than `FRAGMENT` is masked whole only.

How, cheaply: one Aho-Corasick automaton looks for anchors, the `ANCHOR`-long pieces of each form
of each secret at every multiple of `ANCHOR` (any `FRAGMENT`-long run of a form holds one of them),
in the text and in each view of it with one family of escapes decoded (built only when the text
holds a `\\` or a `%`). An anchor found is grown left and right against its form; a run long enough
is masked, back in the original text, escapes and all. A text with no escape and no hit costs one
encode and one automaton pass.
"""

from __future__ import annotations

import base64
import bisect
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, overload

import ahocorasick_rs

MASK: Final = "***"
# Deliberately wrong, and obviously so in a packet capture: it checks the target refuses bad tokens.
WRONG_TOKEN: Final = "invalid-token-sent-by-panic-contract"  # noqa: S105 - not a secret
# Secrets shorter than this are not redacted: masking every "a" would garble the output and hide nothing.
MIN_SECRET_LENGTH: Final = 4
# No run of this many characters of a registered secret survives anywhere.
FRAGMENT: Final = 12
# Any FRAGMENT-long run of a form starts at most ANCHOR - 1 before a multiple of ANCHOR, and so holds the
# ANCHOR-long piece there whole: 2 * ANCHOR <= FRAGMENT.
ANCHOR: Final = 6
# A base64 form shorter than this (that of a very short secret) is not looked for: it would match by chance.
MIN_ENCODED_LENGTH: Final = 8

_MASK_BYTES: Final = MASK.encode()
_URL_SAFE: Final = bytes.maketrans(b"+/", b"-_")
# The escapes that can stand for a character of a secret: JSON's (\u00XX, \/, \") and URL-encoding's
# (%XX). Only the ASCII range, until a secret has a character beyond it: "\u00e9" in a body then costs
# nothing. Each family decodes its own escapes into a view of the text, and a third both at once (a
# careless server, or a value encoded twice): one reading can hide another, as "%" then "00..." is not
# "%00".
# (The backslash is written once, before the alternatives: the regular expression engine then skips to it.)
_JSON_ASCII: Final = rb'\\(?:u00[0-7][0-9a-fA-F]|[/"])'
_JSON_ALL: Final = rb'\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[/"])'
_URL_ASCII: Final = rb"%[0-7][0-9a-fA-F]"
_URL_ALL: Final = rb"%[0-9a-fA-F]{2}"
# JSON without an ASCII \u00XX in it (nearly all of it) has only \/ and \" to decode: replace() does that
# in C, where the regular expression reads 70 MB/s (PHP writes every / as \/).
_QUICK_JSON: Final = ((b"\\/", b"/"), (b'\\"', b'"'))
_NEEDS_SPLIT: Final = re.compile(rb"\\u00[0-7]")  # a literal prefix: searched fast


class _Decodings(dict[bytes, bytes]):
    """Escape -> the bytes it stands for, filled as escapes are met."""

    def __missing__(self, escape: bytes) -> bytes:
        decoded = self[escape] = _decode(escape)
        return decoded


class _Family:
    """A way of writing characters as escapes, and the view of a text with them decoded."""

    def __init__(self, pattern: bytes, triggers: tuple[bytes, ...], *, quick: bool = False) -> None:
        self.split = re.compile(b"(" + pattern + b")")  # plain runs and escapes, alternately
        self.triggers = triggers  # a text lacking any of these has nothing of the family to decode
        self.quick = quick  # decode with _QUICK_JSON where the text allows it
        self.decodings = _Decodings()

    def view(self, data: bytes) -> bytes | None:
        """`data` with the family's escapes decoded; None when it has none."""
        if not all(trigger in data for trigger in self.triggers):
            return None
        if self.quick and not _NEEDS_SPLIT.search(data):
            view = data
            for escape, char in _QUICK_JSON:
                view = view.replace(escape, char)
            return view if len(view) < len(data) else None
        parts = self.split.split(data)
        if len(parts) == 1:
            return None
        parts[1::2] = map(self.decodings.__getitem__, parts[1::2])
        return b"".join(parts)

    def marks(self, data: bytes) -> _Marks:
        """Where each escape of `data` went in its view: only asked once a view holds a secret."""
        parts = self.split.split(data)
        return _Marks(parts, list(map(self.decodings.__getitem__, parts[1::2])))


def _families(ascii_only: bool) -> tuple[_Family, ...]:
    json_escapes, url_escapes = (_JSON_ASCII, _URL_ASCII) if ascii_only else (_JSON_ALL, _URL_ALL)
    return (
        _Family(json_escapes, (b"\\",), quick=ascii_only),
        _Family(url_escapes, (b"%",)),
        _Family(json_escapes + b"|" + url_escapes, (b"\\", b"%")),
    )


class Secret:
    """Holds a credential so that no repr, f-string or debugger view shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value
        register(value)

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__


@dataclass(frozen=True)
class _Matcher:
    """Everything `redact` needs for the secrets registered so far; rebuilt when one is added."""

    automaton: ahocorasick_rs.BytesAhoCorasick
    # per pattern of the automaton: each (form, offset) it stands at, and the run a hit must grow to
    places: tuple[tuple[tuple[bytes, int, int], ...], ...]
    families: tuple[_Family, ...]


class _Registry:
    """The secrets registered so far, and the matcher built for them (rebuilt lazily when one is added)."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.lock = threading.Lock()
        self.matcher: _Matcher | None = None
        self.stale = False

    def current(self) -> _Matcher | None:
        if self.stale:
            with self.lock:
                if self.stale:
                    self.matcher = _build(sorted(self.secrets))
                    self.stale = False
        return self.matcher


_registry = _Registry()


def register(*values: str | None) -> None:
    """From now on, `redact()` masks each of `values` (in every form it can take; see the module's doc).

    Each new value rebuilds the automaton on the next `redact()`: register a set of values in one call.
    """
    with _registry.lock:
        new = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH} - _registry.secrets
        if new:
            _registry.secrets.update(new)
            _registry.stale = True


def registered() -> frozenset[str]:
    return frozenset(_registry.secrets)


def forget_all_but(kept: frozenset[str]) -> None:
    """Forget every secret registered since `registered()` returned `kept`.

    For one process that runs many independent runs (the project's own tests, in process): a secret of
    one run must not mask another run's output. A command or a pytest run never forgets a secret.
    """
    with _registry.lock:
        if _registry.secrets != kept:
            _registry.secrets = set(kept)
            _registry.stale = True


@overload
def redact(text: str) -> str: ...
@overload
def redact(text: bytes) -> bytes: ...
def redact(text: str | bytes) -> str | bytes:
    """`text` with every registered secret, and every long enough run of one, replaced by `***`.

    Lone surrogates (a JSON body may decode to them) pass through unchanged.
    """
    matcher = _registry.current()
    if matcher is None:
        return text
    if isinstance(text, bytes):
        return _redact_bytes(text, matcher)
    data = text.encode("utf-8", "surrogatepass")
    clean = _redact_bytes(data, matcher)
    return text if clean is data else clean.decode("utf-8", "surrogatepass")


def header_safe(value: str) -> bool:
    """Whether `value` can go in an HTTP header as is: visible ASCII only (no CR, LF, spaces or controls)."""
    return bool(value) and all(0x21 <= ord(char) <= 0x7E for char in value)


# --- building the matcher -----------------------------------------------------------------------------


def _forms(secret: str, families: tuple[_Family, ...]) -> set[bytes]:
    """The byte strings a server may write `secret` as, once its escapes are decoded.

    The secret itself (a backslash in it also JSON-escaped), and the part of the base64 of any text
    holding it that depends on the secret alone, at each of the three alignments, in both alphabets.
    A secret that itself holds something like an escape (`%41`) is also looked for as it reads decoded.
    """
    raw = secret.encode("utf-8", "surrogatepass")
    found = {raw, raw.replace(b"\\", b"\\\\")}
    for shift in range(3):
        # the characters before (0, 2, 3)[shift] also encode the bytes before the secret; those after the
        # last whole group also encode the bytes after it
        encoded = base64.b64encode(bytes(shift) + raw)[(0, 2, 3)[shift] : (len(raw) + shift) // 3 * 4]
        if len(encoded) >= MIN_ENCODED_LENGTH:
            found |= {encoded, encoded.translate(_URL_SAFE)}
    return found | {view for form in found for family in families if (view := family.view(form)) is not None}


def _build(secrets: Sequence[str]) -> _Matcher | None:
    if not secrets:
        return None
    families = _families(all(secret.isascii() for secret in secrets))
    places: dict[bytes, list[tuple[bytes, int, int]]] = {}
    for secret in secrets:
        for form in _forms(secret, families):
            if len(form) < FRAGMENT:  # short: masked whole only
                places.setdefault(form, []).append((form, 0, len(form)))
                continue
            for offset in range(0, len(form) - ANCHOR + 1, ANCHOR):
                places.setdefault(form[offset : offset + ANCHOR], []).append((form, offset, FRAGMENT))
    patterns = list(places)
    # A DFA searches fastest; past a few thousand patterns it costs more to build than it saves.
    implementation = ahocorasick_rs.Implementation.DFA if len(patterns) <= 5000 else None
    automaton = ahocorasick_rs.BytesAhoCorasick(patterns, implementation=implementation)
    return _Matcher(automaton, tuple(tuple(places[p]) for p in patterns), families)


# --- masking ------------------------------------------------------------------------------------------


def _redact_bytes(data: bytes, matcher: _Matcher) -> bytes:
    """Mask what the text holds as it is, then what each family of escapes decodes it to."""
    spans = _runs(data, matcher)
    for family in matcher.families if b"\\" in data or b"%" in data else ():
        view = family.view(data)
        found = _runs(view, matcher) if view is not None else []
        if found:
            marks = family.marks(data)
            spans += [(marks.start(start), marks.end(end)) for start, end in found]
    return _splice(data, _merged(spans)) if spans else data


def _runs(view: bytes, matcher: _Matcher) -> list[tuple[int, int]]:
    """The spans of `view` to mask: each anchor found grown against its forms, kept when long enough."""
    hits = matcher.automaton.find_matches_as_indexes(view, overlapping=True)
    spans: list[tuple[int, int]] = []
    reach = -1  # the end of the furthest span found: a hit inside it needs no more work
    for index, start, end in sorted(hits, key=lambda hit: hit[1]) if hits else ():
        if end <= reach:
            continue
        for form, offset, needed in matcher.places[index]:
            left = _common_suffix(view, start, form, offset)
            right = _common_prefix(view, end, form, offset + end - start)
            if left + (end - start) + right >= needed:
                spans.append((start - left, end + right))
                reach = max(reach, end + right)
    return spans


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _common_prefix(a: bytes, a_at: int, b: bytes, b_at: int) -> int:
    """How many bytes of `a` from `a_at` equal those of `b` from `b_at` (slices compare in C)."""
    most = min(len(a) - a_at, len(b) - b_at)
    if most <= 0:
        return 0
    if a[a_at : a_at + most] == b[b_at : b_at + most]:
        return most
    low, high = 0, most  # a prefix of `low` bytes is equal, one of `high` is not
    while high - low > 1:
        middle = (low + high) // 2
        if a[a_at : a_at + middle] == b[b_at : b_at + middle]:
            low = middle
        else:
            high = middle
    return low


def _common_suffix(a: bytes, a_at: int, b: bytes, b_at: int) -> int:
    """How many bytes of `a` before `a_at` equal those of `b` before `b_at`."""
    most = min(a_at, b_at)
    if a[a_at - most : a_at] == b[b_at - most : b_at]:
        return most
    low, high = 0, most
    while high - low > 1:
        middle = (low + high) // 2
        if a[a_at - middle : a_at] == b[b_at - middle : b_at]:
            low = middle
        else:
            high = middle
    return low


def _splice(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """`data` with each span replaced by the mask, grown or split so the result stays well-formed.

    A span grows to whole UTF-8 characters, to the start of a `\\uXXXX` it begins inside of, over a
    backslash that would otherwise escape the mask (`"\\\\u0041..."` is a JSON string holding a literal
    backslash-u), and over what its last backslash escapes; a double quote that no backslash escapes is
    kept (it closes a JSON string, so a secret holding one cannot take the body's structure with it). A
    JSON body stays JSON.
    """
    pieces: list[bytes] = []
    last = 0
    for span in spans:
        start, end = _grown(data, *span, floor=last)
        pieces.append(data[last:start])
        cursor = start
        quote = data.find(b'"', start, end)
        while quote >= 0:
            if _backslashes_before(data, quote, 0) % 2 == 0:  # not escaped: structure, kept
                pieces += [_MASK_BYTES, b'"'] if quote > cursor else [b'"']
                cursor = quote + 1
            quote = data.find(b'"', quote + 1, end)
        if end > cursor:
            pieces.append(_MASK_BYTES)
        last = end
    pieces.append(data[last:])
    return b"".join(pieces)


def _grown(data: bytes, start: int, end: int, floor: int) -> tuple[int, int]:
    start, end = max(start, floor), max(end, floor)
    # a span starting on a hex digit of a \uXXXX it did not decode (\ud800 then 0000...) takes it whole
    for back in range(2, 6):
        if start - back >= floor and data[start - back : start - back + 2] == b"\\u":
            start -= back
            break
    if _backslashes_before(data, start, floor) % 2:
        start -= 1
    if end < len(data) and _backslashes_before(data, end, 0) % 2:  # ends on a backslash escaping what follows
        end = min(len(data), end + (5 if data[end] == 0x75 else 1))  # \uXXXX whole, else the one character
    while start > floor and data[start] & 0xC0 == 0x80:
        start -= 1
    while end < len(data) and data[end] & 0xC0 == 0x80:
        end += 1
    return start, end


def _backslashes_before(data: bytes, position: int, floor: int) -> int:
    count = 0
    while position - count > floor and data[position - count - 1] == 0x5C:
        count += 1
    return count


class _Marks:
    """Where each escape of a text went in a view of it, to map a span of the view back to the text."""

    def __init__(self, parts: list[bytes], decoded: list[bytes]) -> None:
        self.view_starts: list[int] = []
        self.view_ends: list[int] = []
        self.text_starts: list[int] = []
        self.text_ends: list[int] = []
        text = view = len(parts[0])
        for escape, plain, value in zip(parts[1::2], parts[2::2], decoded, strict=True):
            if value != escape:
                self.view_starts.append(view)
                self.view_ends.append(view + len(value))
                self.text_starts.append(text)
                self.text_ends.append(text + len(escape))
            text += len(escape) + len(plain)
            view += len(value) + len(plain)

    def start(self, position: int) -> int:
        """The text position of view byte `position` (the escape's start, for a byte inside one)."""
        k = bisect.bisect_right(self.view_starts, position) - 1
        if k < 0:
            return position
        if position < self.view_ends[k]:
            return self.text_starts[k]
        return self.text_ends[k] + position - self.view_ends[k]

    def end(self, position: int) -> int:
        """The text position just after view byte `position - 1`."""
        if position == 0:
            return 0
        k = bisect.bisect_right(self.view_starts, position - 1) - 1
        if k >= 0 and position - 1 < self.view_ends[k]:
            return self.text_ends[k]
        return self.start(position - 1) + 1


def _decode(escape: bytes) -> bytes:
    if escape[0] == 0x25:  # %XX
        return bytes([int(escape[1:], 16)])
    if len(escape) == 2:  # \/ or \"
        return escape[1:]
    # \uXXXX, or a surrogate pair of them: through UTF-16, which joins a pair into one character
    units = escape.decode("unicode_escape").encode("utf-16-le", "surrogatepass")
    return units.decode("utf-16-le", "surrogatepass").encode("utf-8", "surrogatepass")
