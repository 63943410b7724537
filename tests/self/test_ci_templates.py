"""The CI templates: the composite action (`action.yml`), the workflows that use it, the GitLab job.

Each file is checked by the tools GitHub and GitLab users check them with (actionlint with shellcheck,
SchemaStore's schemas through check-jsonschema), then by the rules of action metadata those do not cover.
The action's scripts are then run for real, as the runner runs a composite action (`bash -eo pipefail`, one
GITHUB_OUTPUT file per step, GITHUB_PATH carried to the next steps), with a fake `panic-contract`, `pip` and
`gh` on PATH: no network, and nothing of the package is imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
TEAM_WORKFLOW = ROOT / "examples" / "github" / "panic-contract.yml"
WORKFLOWS = [ROOT / ".github" / "workflows" / "contract.yml", TEAM_WORKFLOW]
GITLAB = ROOT / "examples" / "gitlab" / "panic-contract.gitlab-ci.yml"
README = ROOT / "README.md"
SENTINEL = "sentinel-token-ci-7f3a2d"  # must never reach an argument, a log line or an output

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
VERDICTS = ("drift", "failed", "usage", "outage", "auth", "inconclusive", "interrupted")


def tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return loaded


def steps() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = action()["runs"]["steps"]
    return found


# --- the checkers GitHub and GitLab users run -------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_passes_actionlint_with_shellcheck(workflow: Path) -> None:
    result = subprocess.run(
        [tool("actionlint"), f"-shellcheck={tool('shellcheck')}", str(workflow)],
        cwd=ROOT,  # `uses: ./` is read from here: actionlint checks the inputs given against action.yml
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == result.returncode, result.stdout + result.stderr


@pytest.mark.e2e
def test_actionlint_holds_a_workflow_to_the_actions_declared_inputs(tmp_path: Path) -> None:
    """The check above can fail: an input the action does not declare is an error."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".git").mkdir()  # actionlint finds the project root, where `./` is, by its .git
    shutil.copy(ACTION, tmp_path / "action.yml")
    text = (ROOT / ".github" / "workflows" / "contract.yml").read_text(encoding="utf-8")
    assert "          target: staging\n" in text
    typo = tmp_path / ".github" / "workflows" / "contract.yml"
    typo.write_text(text.replace("          target: staging\n", "          targt: staging\n"))
    result = subprocess.run([tool("actionlint"), str(typo)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert 1 == result.returncode
    assert 'input "targt" is not defined in action "panic-contract check"' in result.stdout


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.github-actions", ACTION),
        *(("vendor.github-workflows", w) for w in WORKFLOWS),
        ("vendor.gitlab-ci", GITLAB),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_every_template_is_valid_against_its_published_schema(schema: str, path: Path) -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, str(path)], capture_output=True, text=True, check=False
    )
    assert 0 == result.returncode, result.stdout + result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("schema", "source", "broken"),
    [
        ("vendor.github-actions", ACTION, ("  using: composite\n", "  using: compost\n")),
        ("vendor.gitlab-ci", GITLAB, ("exit_codes: [10]", "exit_codes: ten")),
    ],
    ids=["action", "gitlab"],
)
def test_the_schemas_reject_a_broken_copy(schema: str, source: Path, broken: tuple[str, str], tmp_path: Path) -> None:
    text = source.read_text(encoding="utf-8")
    assert broken[0] in text
    copy = tmp_path / source.name
    copy.write_text(text.replace(broken[0], broken[1]))
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, str(copy)], capture_output=True, text=True, check=False
    )
    assert 1 == result.returncode, result.stdout + result.stderr


def shellcheck(script: str, shell: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"script.{shell}"
    path.write_text(script)
    return subprocess.run([tool("shellcheck"), "-s", shell, str(path)], capture_output=True, text=True, check=False)


@pytest.mark.e2e
def test_the_actions_scripts_and_the_gitlab_script_pass_shellcheck(tmp_path: Path) -> None:
    """actionlint checks the scripts of workflows, not of an action: shellcheck reads these directly."""
    for step in steps():
        result = shellcheck(step["run"], "bash", tmp_path)
        assert 0 == result.returncode, f"{step['id']}: {result.stdout}"
    result = shellcheck("\n".join(gitlab_job()["script"]), "sh", tmp_path)  # POSIX: the image's shell may be sh
    assert 0 == result.returncode, result.stdout


@pytest.mark.e2e
def test_shellcheck_finds_what_it_is_there_to_find(tmp_path: Path) -> None:
    assert 1 == shellcheck("args=$1\npanic-contract check $args\n", "bash", tmp_path).returncode


# --- the rules of action metadata the schema does not check -----------------------------------------------


def strings(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a YAML tree, with the path to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{where}[{index}]")
    elif isinstance(node, str):
        yield where, node


def test_the_action_is_a_composite_action_with_a_name_and_a_description() -> None:
    meta = action()
    assert isinstance(meta["name"], str)
    assert meta["name"].strip()
    assert isinstance(meta["description"], str)
    assert meta["description"].strip()
    assert "composite" == meta["runs"]["using"]
    for name, spec in {**meta["inputs"], **meta["outputs"]}.items():
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name), name
        assert str(spec.get("description", "")).strip(), f"{name} has no description"
    for name, spec in meta["inputs"].items():
        assert isinstance(spec.get("default", ""), str), f"input {name}: a default is a string"


def test_every_step_runs_bash_and_has_an_id_of_its_own() -> None:
    ids = [step.get("id") for step in steps()]
    assert len(ids) == len(set(ids))
    for step in steps():
        assert step.get("id"), step["name"]
        assert "run" in step, f"{step['name']}: only run steps here (no action of another owner to pin)"
        assert "bash" == step.get("shell"), f"{step['name']}: a composite run step must name its shell"


def test_no_run_script_holds_an_expression() -> None:
    """Inputs and step outputs reach the scripts through env: only, so no value can inject shell code."""
    for step in steps():
        assert "${{" not in step["run"], step["id"]


def test_every_expression_names_a_declared_input_or_an_earlier_steps_output() -> None:
    meta = action()
    seen: list[str] = []
    for index, step in enumerate(meta["runs"]["steps"]):
        for where, text in strings(step.get("env", {}), f"{step['id']}.env"):
            for expression in EXPRESSION.findall(text):
                assert_known(expression, meta, earlier=meta["runs"]["steps"][:index], where=where)
                seen.append(expression)
    for name, spec in meta["outputs"].items():
        (expression,) = EXPRESSION.findall(spec["value"])
        assert_known(expression, meta, earlier=meta["runs"]["steps"], where=f"outputs.{name}")
    for name, spec in meta["inputs"].items():
        for expression in EXPRESSION.findall(spec.get("default", "")):
            assert expression in {"github.token"}, f"inputs.{name}: default {expression}"
    unused = set(meta["inputs"]) - {e.removeprefix("inputs.") for e in seen}
    assert set() == unused, "inputs no step reads"


def assert_known(expression: str, meta: Mapping[str, Any], *, earlier: list[dict[str, Any]], where: str) -> None:
    if match := re.fullmatch(r"inputs\.([\w-]+)", expression):
        assert match[1] in meta["inputs"], f"{where}: {expression} is not a declared input"
        return
    match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
    assert match, f"{where}: {expression}: only inputs.X and steps.ID.outputs.X are used (and simulated below)"
    step = {s["id"]: s for s in earlier}.get(match[1])
    assert step, f"{where}: {expression} names no earlier step"
    name = match[2]
    assert f"{name}=" in step["run"] or f'"{name}"' in step["run"], f"{where}: step {match[1]} never writes {name}"


def test_credentials_are_never_inputs() -> None:
    """A token given as an input would show in the workflow file; it comes from the calling step's env."""
    for name in action()["inputs"]:
        assert not re.search(r"secret|password|client|panic-api-token|^token$", name), name


# --- the action's scripts, run as the runner runs them ----------------------------------------------------

FAKE_COMMAND = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ARGV"], "a") as log:
    log.write(json.dumps({{
        "argv": args,
        "token_reached": os.environ.get("PANIC_API_TOKEN", "") != "",
        "accepted_drift_env": os.environ.get("PANIC_API_ACCEPTED_DRIFT"),
    }}) + "\\n")
options = dict(a.split("=", 1) for a in args if a.startswith("--") and "=" in a)
if os.environ.get("FAKE_REPORT") and "--drift-report" in options:
    with open(options["--drift-report"], "w") as report:
        report.write(os.environ["FAKE_REPORT"])
if "--drift-report-md" in options:
    with open(options["--drift-report-md"], "w") as md:
        md.write("## API drift\\n")
if "--drift-report-html" in options:
    with open(options["--drift-report-html"], "w") as page:
        page.write("<!DOCTYPE html>\\n")
if "--drift-report-sarif" in options:
    with open(options["--drift-report-sarif"], "w") as sarif:
        sarif.write('{{"version": "2.1.0", "runs": []}}\\n')
print(os.environ.get("FAKE_SAYS", "checking"), flush=True)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""

# python3 -m venv DIR makes DIR/bin/python, a pip that records what it installs and puts the fake command
# beside it; every other python3 call is the real interpreter.
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  cat > "$3/bin/python" <<'EOF'
#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_PIP_LOG"
[ "${{FAKE_PIP_EXIT:-0}}" = 0 ] || {{ echo "ERROR: no such package" >&2; exit "$FAKE_PIP_EXIT"; }}
cp "$FAKE_COMMAND" "$(dirname "$0")/panic-contract"
EOF
  chmod +x "$3/bin/python"
  exit 0
fi
exec {python} "$@"
"""

FAKE_GH = """#!{python}
import json, os, sys
state_path = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_path)) if os.path.exists(state_path) else {{"issues": [], "calls": []}}
args = sys.argv[1:]
state["calls"].append(args)
def save():
    json.dump(state, open(state_path, "w"))
if os.environ.get("FAKE_GH_FAIL"):
    save(); print("HTTP 403: Resource not accessible by integration", file=sys.stderr); sys.exit(1)
def value(flag):
    return args[args.index(flag) + 1]
if args[:2] == ["label", "create"]:
    pass
elif args[:2] == ["issue", "list"]:
    print(json.dumps([{{"number": i["number"], "title": i["title"]}} for i in state["issues"]
                      if i["state"] == "open" and value("--label") in i["labels"]]))
elif args[:2] == ["issue", "create"]:
    number = len(state["issues"]) + 1
    state["issues"].append({{"number": number, "title": value("--title"), "labels": [value("--label")],
                            "state": "open", "body": sys.stdin.read(), "edits": 0}})
    print(f"https://github.com/o/r/issues/{{number}}")
elif args[:2] == ["issue", "edit"]:
    issue = state["issues"][int(args[2]) - 1]
    issue["body"] = sys.stdin.read()
    issue["edits"] += 1
else:
    sys.exit(f"fake gh: unexpected {{args}}")
save()
"""


@dataclass
class ActionRun:
    exit_code: int  # of the first step that failed, else 0: what the job sees of the action
    outputs: dict[str, dict[str, str]]  # step id -> its outputs
    action_outputs: dict[str, str]
    ran: list[str]  # the ids of the steps that ran
    stdout: str
    argv: list[list[str]] = field(default_factory=list)  # each call of panic-contract
    token_reached: bool = False

    def annotations(self, level: str) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith(f"::{level} ")]


class Runner:
    """Runs the action's steps as the GitHub runner does, in a workspace of its own under tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.workspace = tmp_path / "workspace"
        self.temp = tmp_path / "runner-temp"
        self.fakes = tmp_path / "fakes"
        for folder in (self.workspace, self.temp, self.fakes):
            folder.mkdir(exist_ok=True)
        python = sys.executable
        for name, text in (("panic-contract", FAKE_COMMAND), ("python3", FAKE_PYTHON), ("gh", FAKE_GH)):
            (self.fakes / name).write_text(text.format(python=python))
            (self.fakes / name).chmod(0o755)
        self.command = self.fakes / "panic-contract"
        (self.fakes / "bin").mkdir(exist_ok=True)
        for name in ("python3", "gh"):  # the fake command itself is only installed by the fake pip
            (self.fakes / "bin" / name).symlink_to(self.fakes / name)
        self.argv_log = tmp_path / "argv.jsonl"
        self.pip_log = tmp_path / "pip.log"
        self.gh_state = tmp_path / "gh.json"

    def run(
        self,
        inputs: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        only: tuple[str, ...] | None = None,
    ) -> ActionRun:
        meta = action()
        given = dict(inputs or {})
        assert set(given) <= set(meta["inputs"]), "the test gives an input the action does not declare"
        values = {
            name: given.get(name, spec.get("default", "")).replace("${{ github.token }}", "fake-github-token")
            for name, spec in meta["inputs"].items()
        }
        self.argv_log.unlink(missing_ok=True)
        path_file = self.temp / "github-path"
        path_file.unlink(missing_ok=True)
        path_file.touch()
        base = {name: os.environ[name] for name in ("PATH", "LANG", "SYSTEMROOT") if name in os.environ}
        base |= {
            "HOME": str(self.tmp),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_PATH": str(path_file),
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_RUN_ID": "42",
            "GITHUB_SERVER_URL": "https://github.com",
            "FAKE_ARGV": str(self.argv_log),
            "FAKE_PIP_LOG": str(self.pip_log),
            "FAKE_COMMAND": str(self.command),
            "FAKE_GH_STATE": str(self.gh_state),
            **(env or {}),  # the calling step's env: the credentials, and the fakes' script
        }
        outputs: dict[str, dict[str, str]] = {}
        ran: list[str] = []
        stdout = ""
        exit_code = 0
        if only:  # later steps alone: the install step's PATH entry, as it leaves it
            (self.temp / "venv-bin").mkdir(exist_ok=True)
            shutil.copy(self.command, self.temp / "venv-bin" / "panic-contract")
            path_file.write_text(f"{self.temp / 'venv-bin'}\n")
        for step in meta["runs"]["steps"]:
            if only and step["id"] not in only:
                continue
            script = self.tmp / f"step-{step['id']}.sh"
            script.write_text(step["run"])
            output_file = self.temp / f"output-{step['id']}"
            output_file.write_text("")
            added = [line for line in path_file.read_text().splitlines() if line]
            step_env = {
                **base,
                "PATH": os.pathsep.join([*reversed(added), str(self.fakes / "bin"), base["PATH"]]),
                "GITHUB_OUTPUT": str(output_file),
                **{
                    name: EXPRESSION.sub(lambda m: evaluate(m[1], values, outputs), text)
                    for name, text in step.get("env", {}).items()
                },
            }
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],  # the runner's `shell: bash`
                cwd=self.workspace,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            ran.append(step["id"])
            stdout += result.stdout + result.stderr
            outputs[step["id"]] = read_outputs(output_file.read_text())
            if result.returncode:
                exit_code = result.returncode
                break
        action_outputs = {
            name: EXPRESSION.sub(lambda m: evaluate(m[1], values, outputs), spec["value"])
            for name, spec in meta["outputs"].items()
        }
        calls = [json.loads(line) for line in self.argv_log.read_text().splitlines()] if self.argv_log.exists() else []
        return ActionRun(
            exit_code,
            outputs,
            action_outputs,
            ran,
            stdout,
            [c["argv"] for c in calls],
            any(c["token_reached"] for c in calls),
        )

    def issues(self) -> list[dict[str, Any]]:
        if not self.gh_state.exists():
            return []
        found: list[dict[str, Any]] = json.loads(self.gh_state.read_text())["issues"]
        return found

    def gh_calls(self) -> list[list[str]]:
        return json.loads(self.gh_state.read_text())["calls"] if self.gh_state.exists() else []


def evaluate(expression: str, inputs: Mapping[str, str], outputs: Mapping[str, Mapping[str, str]]) -> str:
    """The two forms of expression the action uses (test_every_expression_names_... holds it to them)."""
    if expression.startswith("inputs."):
        return inputs[expression.removeprefix("inputs.")]
    _, step, _, name = expression.split(".")
    return outputs.get(step, {}).get(name, "")


def read_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: name=value lines, and name<<DELIMITER blocks."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            found[name] = "\n".join(body)
        elif line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def report(verdict: str, code: int, reason: str, findings: list[dict[str, Any]] | None = None) -> str:
    return json.dumps(
        {
            "verdict": verdict,
            "exit_code": code,
            "reason": reason,
            "findings": findings or [],
            "base_url": "https://staging-panic.aura.services",
        }
    )


def fake(code: int, verdict: str | None, reason: str = "", **extra: str) -> dict[str, str]:
    """The fake command's script: its exit code, and the report it writes (none when verdict is None)."""
    env = {"FAKE_EXIT": str(code), **extra}
    if verdict is not None:
        env["FAKE_REPORT"] = report(verdict, code, reason)
    return env


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


# Each verdict, as the report gives it: the outputs, and whether the action fails the job, with what code.
CASES = [
    (0, "ok", "no breaking finding", 0),
    (1, "drift", "1 finding(s) of kind null-in-non-nullable", 1),
    (1, "failed", "2 test(s) failed without a contract finding", 1),
    (4, "usage", "--request-budget (or PANIC_API_REQUEST_BUDGET) is 3", 4),
    (10, "outage", "cannot reach staging-panic.aura.services: connection refused (3 attempts)", 0),
    (11, "auth", "staging-panic.aura.services rejected our token: refresh PANIC_API_TOKEN", 11),
    (12, "inconclusive", "no 200 body was validated: pass ids that exist with --callout-ids", 12),
    (130, "interrupted", "interrupted by SIGTERM after 12 requests", 130),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("code", "verdict", "reason", "job_exit"), CASES, ids=[c[1] for c in CASES])
def test_each_verdict_gives_its_outputs_and_fails_the_job_or_not(
    runner: Runner, code: int, verdict: str, reason: str, job_exit: int
) -> None:
    run = runner.run(env={"PANIC_API_TOKEN": SENTINEL, **fake(code, verdict, reason)})
    assert job_exit == run.exit_code, run.stdout
    assert ["install", "check", "issues", "verdict"] == run.ran  # every step ran: the last one decides
    assert {
        "verdict": verdict,
        "exit-code": str(code),
        "reason": reason,
        "drift-report": "drift.json",
        "drift-report-md": "drift.md",
        "drift-report-html": "drift.html",
        "drift-report-sarif": "",  # not asked for by default
        "issues": "",
    } == run.action_outputs
    assert (runner.workspace / "drift.json").is_file()
    assert f"panic-contract: {verdict} (exit {code}): {reason}" in run.stdout
    assert run.token_reached  # the calling step's env reaches the command...
    assert SENTINEL not in json.dumps(run.argv) + run.stdout + json.dumps(run.outputs)  # ...and nothing else


@pytest.mark.e2e
def test_an_outage_is_a_warning_that_says_it_will_be_checked_again(runner: Runner) -> None:
    run = runner.run(env=fake(10, "outage", "cannot reach staging-panic.aura.services: connection refused"))
    assert 0 == run.exit_code
    assert [
        "::warning title=Panic API outage::cannot reach staging-panic.aura.services: connection refused (not this "
        "repository's fault: the next scheduled run checks again, or run the workflow by hand)"
    ] == run.annotations("warning")
    assert [] == run.annotations("error")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("credentials", "secret"),
    [
        ({"PANIC_API_TOKEN": SENTINEL}, "PANIC_API_TOKEN"),
        (
            {"PANIC_API_CLIENT_ID": "client-7", "PANIC_API_CLIENT_SECRET": SENTINEL},
            "PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET",
        ),
        (
            {"PANIC_API_TOKEN": " \t", "PANIC_API_CLIENT_ID": "c", "PANIC_API_CLIENT_SECRET": SENTINEL},
            "PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET",
        ),
    ],
    ids=["token", "client-credentials", "blank-token-means-client-credentials"],
)
def test_a_rejected_token_fails_naming_the_secret_to_refresh(
    runner: Runner, credentials: dict[str, str], secret: str
) -> None:
    run = runner.run(env={**credentials, **fake(11, "auth", "staging-panic.aura.services rejected our token")})
    assert 11 == run.exit_code
    assert [
        "::error title=Panic API token rejected::staging-panic.aura.services rejected our token "
        f"(refresh the secret {secret})"
    ] == run.annotations("error")
    assert SENTINEL not in run.stdout


@pytest.mark.e2e
def test_drift_adds_no_annotation_of_its_own(runner: Runner) -> None:
    """The command annotates each breaking finding and writes the job summary: the action repeats neither."""
    run = runner.run(env=fake(1, "drift", "1 finding(s) of kind missing-field"))
    assert 1 == run.exit_code
    assert [] == run.annotations("error") + run.annotations("warning")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("fail_on", "code", "verdict", "job_exit", "level"),
    [
        ("drift", 11, "auth", 0, "warning"),
        ("drift, outage", 10, "outage", 10, "error"),
        ("drift,outage  auth", 12, "inconclusive", 0, None),
        ("", 1, "drift", 0, None),
    ],
)
def test_fail_on_says_which_verdicts_fail_the_job(
    runner: Runner, fail_on: str, code: int, verdict: str, job_exit: int, level: str | None
) -> None:
    run = runner.run({"fail-on": fail_on}, env=fake(code, verdict, "why"))
    assert job_exit == run.exit_code
    assert verdict == run.action_outputs["verdict"]
    if level:
        (annotation,) = run.annotations(level)
        assert "::why" in annotation


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ({"fail-on": "drift, okay"}, 'fail-on names "okay", which is not a verdict: use drift, failed, usage,'),
        ({"fail-on": "ok"}, 'fail-on names "ok", which is not a verdict'),
        ({"fail-on": "*"}, 'fail-on names "*", which is not a verdict'),
        ({"strict-drift": "yes"}, 'strict-drift is "yes": give true or false'),
        ({"open-issues": "True\nverdict=ok"}, 'open-issues is "True verdict=ok": give true or false'),
    ],
)
def test_a_bad_input_is_a_usage_error_before_anything_is_sent(
    runner: Runner, inputs: dict[str, str], reason: str
) -> None:
    run = runner.run(inputs, env=fake(0, "ok"))
    assert 4 == run.exit_code
    assert [] == run.argv  # the command never ran
    assert "usage" == run.action_outputs["verdict"]
    assert run.action_outputs["reason"].startswith(reason)
    (annotation,) = run.annotations("error")
    assert annotation.startswith(f"::error title=panic-contract::{reason}")


@pytest.mark.e2e
def test_the_inputs_become_the_documented_options(runner: Runner) -> None:
    (runner.workspace / "out").mkdir()
    run = runner.run(
        {
            "callout-ids": "992011,992012",
            "accepted-drift": ".github/panic-contract/accepted-drift.yml",
            "drift-report": "out/d.json",
            "drift-report-md": "out/d.md",
            "drift-report-html": "out/d.html",
            "strict-drift": "true",
        },
        env=fake(0, "ok"),
    )
    assert [
        [
            "check",
            "--target=staging",
            "--callout-ids=992011,992012",
            "--accepted-drift=.github/panic-contract/accepted-drift.yml",
            "--drift-report=out/d.json",
            "--drift-report-md=out/d.md",
            "--drift-report-html=out/d.html",
            "--strict-drift",
        ]
    ] == run.argv
    assert ("out/d.json", "out/d.md", "out/d.html") == tuple(
        run.action_outputs[name] for name in ("drift-report", "drift-report-md", "drift-report-html")
    )


@pytest.mark.e2e
def test_the_sarif_input_becomes_the_option_and_its_output_names_the_file(runner: Runner) -> None:
    (runner.workspace / "out").mkdir()
    (runner.workspace / "out" / "d.sarif").write_text("left by an earlier run")
    run = runner.run(
        {"drift-report": "", "drift-report-md": "", "drift-report-sarif": "out/d.sarif"}, env=fake(0, "ok")
    )
    assert [
        ["check", "--target=staging", "--drift-report-html=drift.html", "--drift-report-sarif=out/d.sarif"]
    ] == run.argv
    assert "out/d.sarif" == run.action_outputs["drift-report-sarif"]
    assert "2.1.0" in (runner.workspace / "out" / "d.sarif").read_text()
    skipped = runner.run({"drift-report-sarif": ""}, env=fake(0, "ok"))
    assert "" == skipped.action_outputs["drift-report-sarif"]


def test_the_workflow_uploads_the_sarif_the_action_wrote() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "github" / "panic-contract.yml").read_text())
    assert "write" == workflow["permissions"]["security-events"]
    steps = workflow["jobs"]["contract"]["steps"]
    (check,) = [step for step in steps if step.get("id") == "contract"]
    (upload,) = [step for step in steps if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    assert "drift.sarif" == check["with"]["drift-report-sarif"]
    assert "${{ steps.contract.outputs.drift-report-sarif }}" == upload["with"]["sarif_file"]
    assert "steps.contract.outputs.drift-report-sarif != ''" in upload["if"]


@pytest.mark.e2e
def test_empty_inputs_give_no_option_so_the_environment_speaks(runner: Runner) -> None:
    run = runner.run(
        {"target": "", "drift-report": "", "drift-report-md": "", "drift-report-html": ""},
        env={"PANIC_API_CALLOUT_IDS": "1,2", **fake(0, None, FAKE_SAYS="verdict: ok (exit 0): all good")},
    )
    assert [["check"]] == run.argv
    assert {"verdict": "ok", "reason": "all good", "drift-report": "", "drift-report-md": ""}.items() <= (
        run.action_outputs.items()
    )


@pytest.mark.e2e
def test_a_base_url_is_the_target(runner: Runner) -> None:
    run = runner.run({"base-url": "http://127.0.0.1:8080"}, env=fake(0, "ok"))
    assert ["check", "--base-url=http://127.0.0.1:8080"] == run.argv[0][:2]
    assert not any(a.startswith("--target") for a in run.argv[0])


# Text of any kind, and shell code that would leave a file named `pwned` in the workspace if it ran.
INJECTIONS = ["$(touch pwned)", "`touch pwned`", '"; touch pwned; echo "', "'; touch pwned; '", "*", "$HOME", "-x"]
any_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1)
input_values = st.lists(st.one_of(any_text, st.sampled_from(INJECTIONS)), min_size=1, max_size=3).map("".join)


@pytest.mark.e2e
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=input_values, accepted=input_values, base_url=input_values)
def test_any_input_reaches_the_command_verbatim_as_one_argument_and_runs_nothing(
    runner: Runner, ids: str, accepted: str, base_url: str
) -> None:
    """No quoting, globbing, splitting or command substitution: the values are data, whatever they hold."""
    run = runner.run(
        {
            "callout-ids": ids,
            "accepted-drift": accepted,
            "base-url": base_url,
            "drift-report": "",
            "drift-report-md": "",
            "drift-report-html": "",
        },
        env=fake(0, None),
        only=("check",),
    )
    assert [["check", f"--base-url={base_url}", f"--callout-ids={ids}", f"--accepted-drift={accepted}"]] == run.argv
    assert not (runner.workspace / "pwned").exists()


@pytest.mark.e2e
def test_shell_code_in_fail_on_is_not_run(runner: Runner) -> None:
    run = runner.run({"fail-on": "drift $(touch pwned) `touch pwned`"}, env=fake(0, "ok"))
    assert not (runner.workspace / "pwned").exists()
    assert 4 == run.exit_code  # fail-on names a word that is not a verdict
    assert [] == run.argv


@pytest.mark.e2e
def test_a_report_from_an_earlier_run_is_never_read_as_this_ones(runner: Runner) -> None:
    (runner.workspace / "drift.json").write_text(report("ok", 0, "yesterday's run"))
    run = runner.run(env=fake(10, None, FAKE_SAYS="verdict: outage (exit 10): cannot reach staging-panic"))
    assert {
        "verdict": "outage",
        "exit-code": "10",
        "reason": "cannot reach staging-panic",
        "drift-report": "",
    }.items() <= (run.action_outputs.items())
    assert not (runner.workspace / "drift.json").exists()


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("code", "says", "written", "verdict", "reason", "job_exit"),
    [
        # a report that could not be written keeps the run's verdict in the other one, but the exit code is 4
        (
            4,
            "verdict: usage (exit 4): cannot write drift.md",
            report("ok", 0, "no breaking finding"),
            "usage",
            "cannot write drift.md",
            4,
        ),
        (
            4,
            "panic-contract check: --target must be mock or staging",
            None,
            "usage",
            "panic-contract check: --target must be mock or staging",
            4,
        ),
        (2, "Traceback (most recent call last): ...", None, "error", "Traceback (most recent call last): ...", 2),
        (5, "", None, "error", "checking", 5),
        (1, "", "[1, 2]", "drift", "checking", 1),  # not a report: the exit code speaks
    ],
    ids=["mismatched-report", "usage-without-report", "undocumented-exit", "silent", "not-a-report"],
)
def test_without_a_report_for_this_exit_code_the_exit_code_and_the_last_line_speak(
    runner: Runner, code: int, says: str, written: str | None, verdict: str, reason: str, job_exit: int
) -> None:
    env = {"FAKE_EXIT": str(code), "FAKE_SAYS": says or "checking"}
    if written:
        env["FAKE_REPORT"] = written
    run = runner.run(env=env)
    assert job_exit == run.exit_code
    assert (verdict, reason) == (run.action_outputs["verdict"], run.action_outputs["reason"])
    if verdict == "error":
        assert [f"::error title=panic-contract::{reason}"] == run.annotations("error")


@pytest.mark.e2e
def test_a_reason_with_line_breaks_stays_one_output_and_forges_none(runner: Runner) -> None:
    run = runner.run(env=fake(1, "drift", "first line\nverdict=ok\r\nexit-code=0"))
    assert "drift" == run.action_outputs["verdict"]
    assert "1" == run.action_outputs["exit-code"]
    assert "first line verdict=ok exit-code=0" == run.action_outputs["reason"]
    assert 1 == run.exit_code


@pytest.mark.e2e
def test_a_percent_sign_in_the_reason_is_escaped_in_the_annotation(runner: Runner) -> None:
    run = runner.run(env=fake(10, "outage", "100% of 3 attempts failed"))
    (warning,) = run.annotations("warning")
    assert "::100%25 of 3 attempts failed" in warning


@pytest.mark.e2e
def test_the_install_step_installs_the_actions_own_checkout_without_extras(runner: Runner) -> None:
    run = runner.run(env=fake(0, "ok"))
    assert 0 == run.exit_code
    assert [f"-m pip install --quiet --disable-pip-version-check {ROOT}"] == runner.pip_log.read_text().splitlines()
    assert f"{runner.temp / 'panic-contract-venv' / 'bin'}\n" == (runner.temp / "github-path").read_text()


@pytest.mark.e2e
def test_the_install_step_installs_the_requirement_given(runner: Runner) -> None:
    requirement = "panic-contract @ git+https://github.com/o/panic-contract@v1"
    runner.run({"package": requirement}, env=fake(0, "ok"))
    assert [
        f"-m pip install --quiet --disable-pip-version-check {requirement}"
    ] == runner.pip_log.read_text().splitlines()


@pytest.mark.e2e
def test_a_failed_install_fails_with_pips_code_and_never_echoes_the_requirement(runner: Runner) -> None:
    requirement = f"panic-contract @ git+https://{SENTINEL}@github.com/o/panic-contract@v1"
    run = runner.run({"package": requirement}, env={"FAKE_PIP_EXIT": "1", **fake(0, "ok")})
    assert 1 == run.exit_code
    assert ["install"] == run.ran
    assert [
        "::error title=panic-contract::pip could not install panic-contract from the package input "
        "(pip's message is above)"
    ] == run.annotations("error")
    assert SENTINEL not in run.stdout


# --- one issue per drift -----------------------------------------------------------------------------------


def finding(kind: str, field_: str, *, fingerprint: str | None = None, severity: str = "breaking") -> dict[str, Any]:
    found = {
        "kind": kind,
        "severity": severity,
        "field": field_,
        "message": f"GET /panic-api/v2/callouts/992011: {field_} [{kind}]",
        "count": 3,
    }
    if fingerprint:
        found["fingerprint"] = fingerprint
    return found


def drifted(*findings: dict[str, Any]) -> dict[str, str]:
    return {"FAKE_EXIT": "1", "FAKE_REPORT": report("drift", 1, f"{len(findings)} finding(s)", list(findings))}


@pytest.mark.e2e
def test_each_drift_opens_one_issue_and_later_runs_update_it_never_duplicate(runner: Runner) -> None:
    first = drifted(
        finding("null-in-non-nullable", "$.customerId", fingerprint="f1a2b3"),
        finding("unknown-status", "$.status"),
        finding("new-field", "$.responderEta", severity="additive"),  # does not fail the run: no issue
    )
    run = runner.run({"open-issues": "true"}, env=first)
    assert 1 == run.exit_code  # the drift still fails the job
    assert "1,2" == run.action_outputs["issues"]
    assert [
        "API drift: null-in-non-nullable at $.customerId [f1a2b3]",
        "API drift: unknown-status at $.status",
    ] == [i["title"] for i in runner.issues()]
    assert all(["api-drift"] == i["labels"] for i in runner.issues())
    assert "https://github.com/o/r/actions/runs/42" in runner.issues()[0]["body"]

    runner.run({"open-issues": "true"}, env=first)
    assert [1, 1] == [i["edits"] for i in runner.issues()]  # updated in place, not opened again

    again = drifted(finding("unknown-status", "$.status"), finding("missing-field", "$.id"))
    run = runner.run({"open-issues": "true"}, env=again)
    assert "2,3" == run.action_outputs["issues"]
    assert 3 == len(runner.issues())


@pytest.mark.e2e
def test_a_run_with_many_findings_opens_twenty_issues_and_says_so(runner: Runner) -> None:
    many = drifted(*(finding("missing-field", f"$.field{n}") for n in range(25)))
    run = runner.run({"open-issues": "true"}, env=many)
    assert 20 == len(runner.issues())
    (warning,) = run.annotations("warning")
    assert "25 drift findings: issues for the first 20 only; the report lists all" in warning


@pytest.mark.e2e
def test_with_strict_drift_an_additive_finding_opens_an_issue_too(runner: Runner) -> None:
    runner.run(
        {"open-issues": "true", "strict-drift": "true"}, env=drifted(finding("new-field", "$.x", severity="additive"))
    )
    assert ["API drift: new-field at $.x"] == [i["title"] for i in runner.issues()]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("inputs", "env"),
    [
        ({}, drifted(finding("missing-field", "$.id"))),  # open-issues is off by default
        ({"open-issues": "true"}, fake(10, "outage", "down")),  # only drift opens issues
        ({"open-issues": "true"}, fake(0, "ok")),
    ],
    ids=["off", "outage", "ok"],
)
def test_no_issue_is_touched_unless_asked_and_drifted(
    runner: Runner, inputs: dict[str, str], env: dict[str, str]
) -> None:
    runner.run(inputs, env=env)
    assert [] == runner.gh_calls()


@pytest.mark.e2e
def test_a_failing_gh_is_a_warning_and_the_drift_still_fails_the_job(runner: Runner) -> None:
    run = runner.run({"open-issues": "true"}, env={"FAKE_GH_FAIL": "1", **drifted(finding("missing-field", "$.id"))})
    assert 1 == run.exit_code
    assert ["install", "check", "issues", "verdict"] == run.ran
    (warning,) = run.annotations("warning")
    assert "gh could not open or update the drift issues (HTTP 403: Resource not accessible by integration)" in warning


# --- the workflows -----------------------------------------------------------------------------------------


def workflow(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def action_step(job: Mapping[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("id") == "contract"]
    return step


@pytest.mark.parametrize(("path", "job", "uses"), [(WORKFLOWS[0], "staging", "./"), (TEAM_WORKFLOW, "contract", None)])
def test_the_staging_jobs_use_the_action_with_the_accepted_drift_file_the_credentials_and_a_pip_cache(
    path: Path, job: str, uses: str | None
) -> None:
    spec = workflow(path)["jobs"][job]
    step = action_step(spec)
    assert uses is None or uses == step["uses"]
    assert "panic-contract" in step["uses"] or "./" == step["uses"]
    assert "hashFiles('.github/panic-contract/accepted-drift.yml')" in step["with"]["accepted-drift"]
    assert {
        "PANIC_API_TOKEN": "${{ secrets.PANIC_API_TOKEN }}",
        "PANIC_API_CLIENT_ID": "${{ secrets.PANIC_API_CLIENT_ID }}",
        "PANIC_API_CLIENT_SECRET": "${{ secrets.PANIC_API_CLIENT_SECRET }}",
    }.items() <= step["env"].items()
    (python,) = [s for s in spec["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert "pip" == python["with"]["cache"]
    # setup-python's pip cache needs a file that exists: here pyproject.toml; in a team's repository, the
    # workflow itself, where the README says to copy it.
    dependency = python["with"]["cache-dependency-path"]
    copied_to = {TEAM_WORKFLOW: ".github/workflows/panic-contract.yml"}
    assert copied_to.get(path) == dependency or (ROOT / dependency).is_file(), dependency
    (upload,) = [s for s in spec["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert "always()" == upload["if"]
    assert {
        "drift.json",
        "drift.md",
        "drift.html",
        *(["drift.sarif"] if "drift-report-sarif" in step["with"] else []),
    } == set(upload["with"]["path"].split())
    (where,) = [s for s in spec["steps"] if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    assert "steps.upload.outputs.artifact-url" in where["env"]["ARTIFACT_URL"]  # the job summary says where


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_a_second_daily_run_is_the_retry_of_an_outage(path: Path) -> None:
    triggers = workflow(path)[True]  # YAML 1.1 reads the key `on` as true
    assert 2 == len(triggers["schedule"])
    assert "workflow_dispatch" in triggers


def test_the_offline_job_runs_the_readmes_two_commands() -> None:
    spec = workflow(WORKFLOWS[0])["jobs"]["offline"]
    runs = [s.get("run") for s in spec["steps"]]
    assert {"pytest", "pytest tests/self -n 2"} <= set(runs)


# --- the GitLab job ----------------------------------------------------------------------------------------


def gitlab_job() -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["panic-contract"]
    return job


def test_the_gitlab_job_allows_an_outage_and_keeps_the_reports() -> None:
    job = gitlab_job()
    assert {"exit_codes": [10]} == job["allow_failure"]
    assert "always" == job["artifacts"]["when"]
    reports = ("PANIC_API_DRIFT_REPORT", "PANIC_API_DRIFT_REPORT_MD", "PANIC_API_DRIFT_REPORT_HTML")
    assert [job["variables"][name] for name in reports] == job["artifacts"]["paths"]
    assert "staging" == job["variables"]["PANIC_API_TARGET"]
    assert any("panic-contract check" in line for line in job["script"])
    assert {"schedule", "web"} == {re.search(r'"(\w+)"', r["if"])[1] for r in job["rules"]}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("code", "says"),
    [
        (0, None),
        (1, None),
        (4, None),
        (10, "the Panic API is down (outage, exit 10)"),
        (11, "refresh the CI/CD variable PANIC_API_TOKEN"),
        (12, None),
    ],
)
@pytest.mark.parametrize("accepted_file", [True, False], ids=["accepted-drift-file", "none"])
def test_the_gitlab_script_keeps_the_exit_code_and_says_what_to_do(
    tmp_path: Path, code: int, says: str | None, accepted_file: bool
) -> None:
    """Run as GitLab's runner runs it: the job's variables in the environment, the lines in one POSIX shell."""
    runner = Runner(tmp_path)  # its fakes: pip (through `python -m pip`) and the command
    job = gitlab_job()
    bin_dir = tmp_path / "gitlab-bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {runner.pip_log}\n")
    (bin_dir / "python").chmod(0o755)
    shutil.copy(runner.command, bin_dir / "panic-contract")
    if accepted_file:
        (runner.workspace / ".gitlab" / "panic-contract").mkdir(parents=True)
        (runner.workspace / ".gitlab" / "panic-contract" / "accepted-drift.yml").write_text("[]\n")
    script = tmp_path / "gitlab.sh"
    script.write_text("\n".join(["set -e", *job["script"]]))
    result = subprocess.run(
        ["/bin/sh", str(script)],
        cwd=runner.workspace,
        env={
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "CI_PROJECT_DIR": str(runner.workspace),
            **job["variables"],
            "PANIC_API_TOKEN": SENTINEL,
            "FAKE_ARGV": str(runner.argv_log),
            **fake(code, None, FAKE_SAYS=f"verdict: x (exit {code}): y"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert code == result.returncode, result.stdout + result.stderr
    assert [
        "-m pip install --quiet --disable-pip-version-check --root-user-action=ignore "
        + job["variables"]["PANIC_CONTRACT_PACKAGE"]
    ] == runner.pip_log.read_text().splitlines()
    (call,) = [json.loads(line) for line in runner.argv_log.read_text().splitlines()]
    assert ["check"] == call["argv"]  # the options come from the job's PANIC_API_* variables
    if says:
        assert says in result.stdout
    assert SENTINEL not in result.stdout + result.stderr
    expected = ".gitlab/panic-contract/accepted-drift.yml" if accepted_file else None
    assert expected == call["accepted_drift_env"]  # the file is wired in where it exists, else nothing


# --- the README's section ----------------------------------------------------------------------------------


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_the_readme_documents_every_input_and_output_of_the_action() -> None:
    section = readme_section("Use it from your repository")
    documented = set(re.findall(r"^\| `([\w-]+)` \|", section, flags=re.MULTILINE))
    meta = action()
    assert set(meta["inputs"]) | set(meta["outputs"]) == documented
    for name, spec in meta["inputs"].items():
        default = spec.get("default", "")
        if default and "${{" not in default:
            assert f"| `{name}` | `{default}` |" in section, f"README gives {name} another default"


def test_the_readme_points_at_the_files_and_the_exit_code_branches() -> None:
    section = readme_section("Use it from your repository")
    for needed in (
        "examples/github/panic-contract.yml",
        ".github/workflows/panic-contract.yml",
        "examples/gitlab/panic-contract.gitlab-ci.yml",
        "PANIC_API_TOKEN",
        "PANIC_API_CLIENT_SECRET",
        ".github/panic-contract/accepted-drift.yml",
        "panic-contract check",
    ):
        assert needed in section, needed
    uses = action_step(workflow(TEAM_WORKFLOW)["jobs"]["contract"])["uses"]
    assert f"uses: {uses}" in section
    for branch in ("drift", "outage", "auth"):
        assert f"**{branch}**" in section
