"""`redact()` leaves no run of 12 characters of a registered secret, in any encoding a server can write it in.

The checks here are independent of the implementation: the longest run of the secret is searched for
in the output as it is, after JSON-unescaping it, after URL-decoding it, and after base64-decoding
every base64-looking stretch of it at every alignment.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from panic_contract import redaction
from panic_contract.redaction import FRAGMENT, MASK, redact

# Visible ASCII: what a token can hold (it goes in a header); base64's own characters are common in tokens.
SECRET_CHARS = string.ascii_letters + string.digits + "+/=-_.~!$&'()*,;:@[]{}|^`<>?#%\"\\"
TOKEN_77 = "Zx9/Qa+Lm3/Rt7+Yp2/Kd8+Wb4/Hn6+Vc1/Sf5+Ju0/Ge9+Tr3/Bm7+Xo2/Pl6+Ck4/Ea8+Nw1/Iq"

MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def only_secrets(*values: str) -> Iterator[None]:
    """Run with exactly `values` registered (the registry is process-wide), and put it back after."""
    saved = redaction._registry
    redaction._registry = redaction._Registry()
    try:
        redaction.register(*values)
        yield
    finally:
        redaction._registry = saved


def longest_run(text: str, secret: str) -> int:
    """The length of the longest run of `secret`'s characters that `text` holds."""
    best = 0
    for start in range(len(secret)):
        while start + best < len(secret) and secret[start : start + best + 1] in text:
            best += 1
    return best


def json_unescaped(text: str) -> str:
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace("\\/", "/").replace('\\"', '"').replace("\\\\", "\\")


def base64_decodings(text: str) -> Iterator[str]:
    """Every stretch of base64 characters in `text`, decoded from each of the four alignments."""
    for run in re.findall(r"[A-Za-z0-9+/\-_]{4,}", text):
        standard = run.replace("-", "+").replace("_", "/")
        for skip in range(4):
            chunk = standard[skip:]
            chunk = chunk[: len(chunk) // 4 * 4]
            try:
                yield base64.b64decode(chunk).decode("latin-1")
            except (binascii.Error, ValueError):
                continue


def leaked(text: str, secret: str) -> int:
    """The longest run of `secret` in `text` under every decoding the checks know."""
    views = [text, json_unescaped(text), urllib.parse.unquote(text), *base64_decodings(json_unescaped(text))]
    return max(longest_run(view, secret) for view in views)


@st.composite
def secrets(draw: st.DrawFn, min_size: int = FRAGMENT, max_size: int = 90) -> str:
    return draw(st.text(alphabet=SECRET_CHARS, min_size=min_size, max_size=max_size))


@st.composite
def pieces(draw: st.DrawFn, secret: str) -> str:
    """The secret, or a run of FRAGMENT or more of its characters: cut at any point."""
    start = draw(st.integers(0, len(secret) - FRAGMENT))
    end = draw(st.integers(start + FRAGMENT, len(secret)))
    return secret[start:end]


def char_encodings(char: str) -> list[str]:
    """Every way a server writes one character: as is, \\uXXXX in either case, \\/ for a slash, %XX."""
    code = ord(char)
    ways = [char, f"\\u{code:04x}", f"\\u{code:04X}", f"%{code:02x}", f"%{code:02X}"]
    return [*ways, "\\/"] if char == "/" else ways


@st.composite
def escaped(draw: st.DrawFn, text: str) -> str:
    """`text` with each character written in a way drawn for it (a mix, as a careless server writes)."""
    mode = draw(st.sampled_from(["mix", "json-all", "url-all", "php", "dotnet"]))
    if mode == "json-all":
        return "".join(f"\\u{ord(c):04X}" for c in text)
    if mode == "url-all":
        return urllib.parse.quote(text, safe="")
    if mode == "php":
        return json.dumps(text)[1:-1].replace("/", "\\/")
    if mode == "dotnet":
        return "".join(f"\\u{ord(c):04X}" if c in "+<>&'" else c for c in json.dumps(text)[1:-1])
    return "".join(draw(st.sampled_from(char_encodings(c))) for c in text)


@st.composite
def base64_wrapped(draw: st.DrawFn, text: str) -> str:
    """The base64 of `text` with something before and after it (any alignment), in either alphabet."""
    before = draw(st.sampled_from(["", "Bearer ", "user:", "x", "xy", '{"token": "']))
    after = draw(st.sampled_from(["", '"}', "z", ":tail"]))
    encoded = base64.b64encode((before + text + after).encode()).decode()
    if draw(st.booleans()):
        encoded = encoded.translate(str.maketrans("+/", "-_"))
    return encoded.replace("/", "\\/") if draw(st.booleans()) else encoded


SURROUNDINGS = st.text(alphabet=string.printable + "é€\ud800", max_size=40)


@MANY
@given(data=st.data(), secret=secrets())
@example(data=None, secret=TOKEN_77)  # the 77-character token of the issue, cut as describe_value cut it
def test_no_run_of_a_secret_survives_any_escaping(data: st.DataObject | None, secret: str) -> None:
    if data is None:
        piece, text = secret[:56], '"' + json.dumps(secret[:56])[1:-1].replace("/", "\\/")
    else:
        piece = data.draw(pieces(secret))
        text = data.draw(SURROUNDINGS) + data.draw(escaped(piece)) + data.draw(SURROUNDINGS)
    with only_secrets(secret):
        clean = redact(text)
    assert leaked(clean, secret) < FRAGMENT, (text, clean)


@MANY
@given(data=st.data(), secret=secrets())
def test_no_run_of_a_secret_survives_inside_base64(data: st.DataObject, secret: str) -> None:
    text = data.draw(base64_wrapped(data.draw(pieces(secret))))
    with only_secrets(secret):
        clean = redact(text)
    assert leaked(clean, secret) < FRAGMENT, (text, clean)


@MANY
@given(data=st.data(), secret=secrets())
def test_a_json_body_stays_json_once_masked(data: st.DataObject, secret: str) -> None:
    """Masking never leaves a dangling backslash: the judge still parses what the server sent."""
    fields = {}
    for name in data.draw(st.lists(st.sampled_from(["a", "b", "c", "\\u0041"]), min_size=1, max_size=3, unique=True)):
        fields[name] = data.draw(SURROUNDINGS) + data.draw(pieces(secret)) + data.draw(SURROUNDINGS)
    # written as a server may: JSON, then some characters as \uXXXX or \/ (valid JSON either way)
    body = json.dumps(fields)
    if data.draw(st.booleans()):
        body = body.replace("/", "\\/")
    if data.draw(st.booleans()):
        body = re.sub(r"[+A-Z]", lambda m: f"\\u{ord(m.group()):04x}", body)
    with only_secrets(secret):
        clean = redact(body)
    parsed = json.loads(clean)
    for value in parsed.values():
        assert longest_run(value, secret) < FRAGMENT


@MANY
@given(secret=secrets(), text=st.text(alphabet="áé ñ\n\t\ud800", max_size=200))
def test_text_with_nothing_of_a_secret_is_returned_unchanged(secret: str, text: str) -> None:
    with only_secrets(secret):
        assert text == redact(text)
        if "\ud800" not in text:
            assert text.encode() == redact(text.encode())


@MANY
@given(data=st.data(), secret=secrets(min_size=4))
def test_bytes_and_text_are_masked_alike(data: st.DataObject, secret: str) -> None:
    text = data.draw(SURROUNDINGS.filter(lambda s: "\ud800" not in s)) + secret + "é"
    with only_secrets(secret):
        assert redact(text).encode() == redact(text.encode())


def test_a_short_secret_is_masked_whole_but_not_in_pieces() -> None:
    with only_secrets("hunter22"):
        assert f"pw={MASK}; pw=hunter" == redact("pw=hunter22; pw=hunter")
        assert f"x{MASK}y" == redact("x\\u0068unter%32%32y")


def test_secrets_shorter_than_the_minimum_are_not_masked() -> None:
    with only_secrets("abc"):
        assert "abc abc" == redact("abc abc")


def test_a_lone_surrogate_passes_through_and_the_secret_beside_it_is_masked() -> None:
    with only_secrets(TOKEN_77):
        assert f"\ud800{MASK}\udfff" == redact(f"\ud800{TOKEN_77}\udfff")


def test_a_non_ascii_secret_is_masked_raw_escaped_and_url_encoded() -> None:
    secret = "pässwörd-with-ümlauts"
    with only_secrets(secret):
        escaped_text = json.dumps(secret)  # ensure_ascii: \u00e4 ...
        assert f'"{MASK}"' == redact(escaped_text)
        assert MASK == redact(urllib.parse.quote(secret))
        assert MASK == redact(secret)


def test_a_surrogate_pair_escape_of_a_secret_character_is_decoded() -> None:
    secret = "emoji-\U0001f600-secret-value"
    with only_secrets(secret):
        assert f'"{MASK}"' == redact(json.dumps(secret))


def test_the_token_in_the_base64_of_a_bearer_or_basic_header_is_masked() -> None:
    with only_secrets(TOKEN_77):
        for text in (f"Bearer {TOKEN_77}", f"user:{TOKEN_77}", f"{TOKEN_77}:"):
            encoded = base64.b64encode(text.encode()).decode()
            assert leaked(redact(encoded), TOKEN_77) < FRAGMENT
            assert MASK in redact(encoded)


def test_masking_a_large_body_with_no_secret_is_cheap() -> None:
    """A wide bound: a 4 MiB body with nothing to mask, with JSON and URL escapes both (every view of it
    searched), 5 times well under 30 s on a loaded machine; bench/run.py has the figures."""
    body = (json.dumps({"id": 992011, "name": "x" * 50, "url": "https:\\/\\/a.example\\/%20"}) * 70_000)[: 4 << 20]
    with only_secrets(TOKEN_77, "client-secret-value"):
        started = time.perf_counter()
        for _ in range(5):
            assert redact(body) is body
        assert time.perf_counter() - started < 30


def test_a_body_made_of_the_secret_is_masked_quickly() -> None:
    """The worst case for the work after a hit: every anchor of the automaton matches, everywhere."""
    with only_secrets(TOKEN_77):
        started = time.perf_counter()
        clean = redact((TOKEN_77 + ",") * 20_000)
        assert time.perf_counter() - started < 10
    assert f"{MASK}," * 20_000 == clean


@pytest.mark.parametrize("value", [None, "", "abc"])
def test_register_ignores_empty_and_short_values(value: str | None) -> None:
    with only_secrets():
        redaction.register(value)
        assert frozenset() == redaction.registered()
