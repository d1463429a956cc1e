"""The README's commands and examples, as written: each example is extracted from README.md and run."""

import re
from pathlib import Path

import pytest
from _plugin_project import project  # noqa: F401 - project is a fixture

from faultio import FAULT_KINDS

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

#: The README's two pasteable tests: the file each says to paste it into, the fixture that tells it apart,
#: the planted bug (what it replaces, with what) and the kinds under which the README says the bug fails.
EXAMPLES = {
    "faultio-stream": ("tests/test_server.py", "fault_streams", "await stream.read_bytes(length)",
                       "await stream.read_bytes(length, partial=True)", ("eintr", "ewouldblock", "dribble")),
    "asyncio-streams": ("tests/test_asyncio_server.py", "fault_event_loop", "await reader.readexactly(length)",
                        "await reader.read(length)", ("eintr", "ewouldblock", "dribble")),
}


def _blocks():
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def _example(fixture: str) -> str:
    """The README's python block that uses ``fixture``."""
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if fixture in b]
    return block


def _shown_failure(path: str) -> list[str]:
    """The failure output the README shows for the test in ``path``, as fnmatch patterns: the loop step
    (which moves whenever the loop's internals do) is a wildcard, every other character is literal."""
    (shown,) = [b for b in re.findall(r"```\n(faultio: .*?)```", README, re.S) if f"'{path}::" in b]
    literal = {"[": "[[]", "]": "[]]", "*": "[*]", "?": "[?]"}
    patterns = []
    for line in shown.rstrip("\n").splitlines():
        line = "".join(literal.get(c, c) for c in line)
        patterns.append(re.sub(r"loop step \d+\)$", "loop step *)", line))
    return patterns


def _write(project, path: str, text: str) -> None:
    target = project.path / path
    target.parent.mkdir(exist_ok=True)
    target.write_text(text)


def test_readme_opens_with_the_main_job_then_the_test_command():
    main_job, tests = _blocks()[:2]
    assert main_job.strip().endswith("python -m harness run --faults all")
    assert tests.strip().endswith("python -m pytest -q")


def test_ci_runs_exactly_the_readme_test_command():
    tests = _blocks()[1].strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_readme_example_passes_under_every_fault(project, name):
    path, fixture, _, _, _ = EXAMPLES[name]
    _write(project, path, _example(fixture))
    result = project.runpytest("-v")
    result.assert_outcomes(passed=len(FAULT_KINDS))
    for kind in FAULT_KINDS:
        result.stdout.fnmatch_lines([f"{path}::test_server_reads_every_message[[]{kind}[]] PASSED*"])


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_readme_example_with_the_planted_bug_fails_where_the_readme_says_with_the_output_it_shows(project,
                                                                                                   name):
    path, fixture, correct, planted, failing = EXAMPLES[name]
    example = _example(fixture)
    assert example.count(correct) == 1
    _write(project, path, example.replace(correct, planted))
    result = project.runpytest("-v")
    for kind in FAULT_KINDS:
        outcome = "FAILED" if kind in failing else "PASSED"
        result.stdout.fnmatch_lines([f"{path}::test_server_reads_every_message[[]{kind}[]] {outcome}*"])
    result.assert_outcomes(failed=len(failing), passed=len(FAULT_KINDS) - len(failing))
    result.stdout.fnmatch_lines(_shown_failure(path))


def test_the_readme_says_which_kinds_catch_each_planted_bug():
    for path, _, _, planted, failing in EXAMPLES.values():
        said = " ".join(README[README.index(planted.replace("await ", "")):README.index(f"'{path}::")].split())
        kinds = ", ".join(f"`{kind}`" for kind in failing[:-1]) + f" and `{failing[-1]}`"
        assert f"the runs under {kinds}" in said, (path, kinds)
