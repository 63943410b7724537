"""The suite runs from a read-only checkout and ends with its verdict.

There hypothesis cannot create `.hypothesis/` and pytest cannot create `.pytest_cache/`; both warn, and the
suite's `filterwarnings = error` turned hypothesis's warning into a collection error. A process is the
thing under test: the checkout is copied, made read-only, and the suite run in it as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.self.conftest import REPO

COPIED = ("conftest.py", "pyproject.toml", "spec", "contracts", "panic_contract", "tests")
SHELL = "if touch .written 2>/dev/null; then echo 'the folder is writable'; exit 99; fi; exec \"$@\""


def read_only_command(folder: Path, command: list[str]) -> list[str]:
    """`command`, run in `folder` made read-only: by permissions, or for root (whom permissions do not stop)
    by a read-only bind mount in a mount namespace of its own."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
        return ["sh", "-c", SHELL, "sh", *command]
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: no way to make a folder read-only here")
    mount = f'mount --bind -o ro "$0" "$0" && cd "$0" && {SHELL}'
    return ["unshare", "--mount", "sh", "-c", mount, str(folder), *command]


@pytest.mark.e2e
@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_a_read_only_checkout_runs_the_suite_to_its_verdict(args: tuple[str, ...], tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in COPIED:
        source = REPO / name
        target = checkout / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        else:
            shutil.copy2(source, target)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PANIC_API_", "GITHUB_", "CI"))}
    command = read_only_command(checkout, [sys.executable, "-m", "pytest", *args])
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    if done.returncode == 99 or ("cannot" in done.stderr and "mount" in done.stderr):
        pytest.skip(f"no way to make a folder read-only here: {done.stderr.strip()[:200]}")
    assert 0 == done.returncode, output
    assert "ERROR" not in output
    assert [] == [line for line in output.splitlines() if "Traceback" in line or "INTERNALERROR" in line]
    assert any(line.startswith("verdict: ok (exit 0): ") for line in output.splitlines()), output
    assert not (checkout / ".hypothesis").exists()
