import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks():
    return re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_opens_with_the_main_job_then_the_test_command():
    main_job, tests = _blocks()[:2]
    assert main_job.strip().endswith("python -m harness run --faults all")
    assert tests.strip().endswith("python -m pytest -q")


def test_ci_runs_exactly_the_readme_test_command():
    tests = _blocks()[1].strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci
