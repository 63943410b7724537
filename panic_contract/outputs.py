"""Where text lands: one function per sink (terminal, Markdown, file), each masking secrets first, then escaping.

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
- `write_atomically`, `write_all_or_nothing`: how a report or a set of fixtures lands in files, whole
  or not at all; a device, a FIFO or a link is written in place, as a shell's `>` would.

GitHub annotations keep their own escaping (the runner's rules), in `reports`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
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


class WriteError(OSError):
    """A file (of a set) could not be written; `filename` is the file the user named, never a temporary one."""


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a crash leaves the old file whole.

    Anything else (a character device such as /dev/null, a FIFO, a link such as /dev/stdout or
    /dev/fd/N) is written in place, through the link, as a shell's `>` would: renaming over it would
    replace the device or the link with a plain file where /dev is writable (as root in a CI
    container), and fail elsewhere.
    """
    try:
        mode = path.lstat().st_mode
    except OSError:
        mode = stat.S_IFREG  # none yet (or unreadable): the staged write creates it, or says why not
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):  # a folder: staging names the error, as for a file
        write_all_or_nothing({path: text})
        return
    try:
        with path.open("wb") as handle:
            handle.write(file_bytes(text))
    except OSError as exc:
        raise WriteError(exc.errno, exc.strerror or str(exc), str(path)) from None


def write_all_or_nothing(files: Mapping[Path, str]) -> None:
    """Write every file, or none: on any failure, every target is left as it was.

    Each file is staged first (a temporary file beside its target, written and synced), then all are
    renamed into place; a failure while renaming puts back what was there. Files are created with the
    user's umask, as any other file they write. WriteError names the target that could not be written.
    """
    created = _make_folders({path.parent for path in files})
    staged: dict[Path, Path] = {}  # target -> its staged temporary file
    backups: dict[Path, Path] = {}  # target -> a hard link to (or copy of) what it held before
    replaced: list[Path] = []
    current = next(iter(files), Path())
    try:
        for current, text in files.items():
            staged[current] = _stage(current, file_bytes(text))
        for current in files:
            if current.exists():
                backups[current] = _keep(current)
        for current, tmp in staged.items():
            os.replace(tmp, current)
            replaced.append(current)
    except BaseException as exc:
        _roll_back(replaced, backups)
        _remove(list(staged.values()) + list(backups.values()))
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise WriteError(exc.errno, reason, str(current)) from None
        raise
    _remove(list(backups.values()))


def _make_folders(folders: set[Path]) -> list[Path]:
    """Create the missing folders; returns those created, outermost first, so a failure can remove them."""
    created: list[Path] = []
    for folder in sorted(folders):
        missing = [folder, *folder.parents]
        missing = [f for f in missing if not f.exists()]
        for each in reversed(missing):
            try:
                each.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                for made in reversed(created):
                    with contextlib.suppress(OSError):
                        made.rmdir()
                raise WriteError(exc.errno, exc.strerror or str(exc), str(each)) from None
            created.append(each)
    return created


def _temporary_name(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{tag}")


def _stage(path: Path, data: bytes) -> Path:
    while True:
        tmp = _temporary_name(path, "tmp")
        try:  # os.open with 0o666, not mkstemp's 0o600: the umask decides, as for any file the user writes
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _keep(path: Path) -> Path:
    """What `path` holds now, under another name, until the set is in place."""
    backup = _temporary_name(path, "old")
    try:
        os.link(path, backup)  # no copy: the old file itself, so keeping it cannot fill the disk
    except OSError:
        shutil.copy2(path, backup)
    return backup


def _roll_back(replaced: list[Path], backups: Mapping[Path, Path]) -> None:
    for path in reversed(replaced):
        with contextlib.suppress(OSError):
            if path in backups:
                os.replace(backups[path], path)
            else:
                path.unlink()


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
