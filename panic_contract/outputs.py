"""Where text lands: one function per sink, each masking secrets first and then escaping for that sink.

Text from a server (a field name, a value, a header) ends up in terminal lines, Markdown reports,
the GitHub job summary and files. Each sink applies its function to every line or cell it writes,
whatever field the text came from, so no value can fake a line of its own (`verdict: ok`), render
as markup, or fail to be written:

- `terminal_line`: one line for a terminal, a log or a test's failure text; control characters,
  line breaks, bidirectional overrides, lone surrogates and any other character that does not print
  shown as escapes (`\\n`, `\\u202e`, `\\ud800`).
- `markdown_text`: a terminal line whose Markdown and HTML markup is neutralised, `|` included, for
  a table cell or a line of the Markdown report and the job summary.
- `markdown_code`: an inline code span (nothing in one is markup) that no backtick in it can close.
- `markdown_code_block`: a fenced block no line of the text can close.
- `file_bytes`: UTF-8 for a file; a lone surrogate (JSON can hold `"\\ud800"`) is written as the
  escape `\\ud800`, which reads back as the same string in a JSON file.

GitHub annotations keep their own escaping (the runner's rules), in `reports`.
"""

from __future__ import annotations

import re
from typing import Final

from panic_contract.redaction import redact

_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Characters Markdown (CommonMark and GitHub's extensions) or HTML may read as markup anywhere in a
# line; a backslash makes each literal. `$` only when two could pair up as math, as they do in GitHub.
# `_` inside a word (`unsupported_method`) starts no emphasis, and is left as it is.
_MARKUP: Final = re.compile(r"[\\`*\[\]<>|~&#]|(?<![^\W_])_|_(?![^\W_])")
# A list item, a heading underline or a quote, when first on a line: the marker's punctuation is escaped.
_LINE_START: Final = re.compile(r"^(\d*)([-+=>.)])")


def _escaped(char: str) -> str:
    if char.isprintable():
        return char
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def terminal_line(text: str) -> str:
    """`text` masked and made one printable line: no server text can start a line of its own.

    Every character Python does not call printable is shown as its escape: controls (a newline, ESC),
    the line and paragraph separators, format characters (the bidirectional overrides among them),
    lone surrogates, unassigned code points.
    """
    text = redact(text)
    return text if text.isprintable() else "".join(map(_escaped, text))


def markdown_text(text: str) -> str:
    """`text` masked, made one line, and with every markup character escaped: it renders as written."""
    line = _MARKUP.sub(r"\\\g<0>", terminal_line(text))
    if line.count("$") > 1:
        line = line.replace("$", "\\$")
    return _LINE_START.sub(r"\1\\\2", line)


def markdown_code(text: str) -> str:
    """An inline code span holding `text` masked, as one line, with `|` escaped for a table cell."""
    line = terminal_line(text).replace("|", "\\|")  # GitHub's tables split on `|` even in code spans
    if not line:
        return ""  # no code span can be empty
    fence = "`" * (1 + _longest_backtick_run(line))
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def markdown_code_block(text: str) -> str:
    """A fenced code block holding `text` as one masked line, fenced longer than any backtick run in it."""
    line = terminal_line(text)
    fence = "`" * max(3, 1 + _longest_backtick_run(line))
    return f"{fence}\n{line}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


def file_bytes(text: str) -> bytes:
    """`text` as UTF-8 for a file; a lone surrogate becomes its `\\uXXXX` escape instead of an error."""
    return text.encode("utf-8", "backslashreplace")
