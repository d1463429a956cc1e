"""The built-in ``tornado4`` target: Tornado 4.x's own IOStream on faultio's loop.

The main venv has Tornado 6, so the end-to-end test installs Tornado 4.5.3 into a cache directory of its own
(``pip install --target``; reused by later runs, the main venv untouched) and runs the harness CLI in a
subprocess with that directory first on ``PYTHONPATH``: the fixed cases of the plain matrix (a few seconds
once Tornado is cached), whose findings must be exactly the list docs/targets.md gives. It carries ``slow``
in its name, so ``-k 'not slow'`` leaves it out.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from harness import TargetError, load_target

from harness._scenarios import OPERATIONS

#: The operations the documented findings were taken with (read_deadline and write_deadline came later:
#: docs/time-faults.md).
OPERATIONS_BEFORE_DEADLINES = ",".join(op for op in OPERATIONS if op not in ("read_deadline", "write_deadline"))

TORNADO4_VERSION = "4.5.3"
PIP_TIMEOUT_S = 300
RUN_TIMEOUT_S = 300


def _cache_root(config: pytest.Config) -> Path:
    """A directory that outlives the session, keyed by the Tornado and Python versions (Tornado 4 builds a
    C extension for the interpreter): pytest's cache dir, or the system temp dir without the cache plugin."""
    key = f"tornado-{TORNADO4_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}"
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir(key))
    path = Path(tempfile.gettempdir()) / f"faultio-{key}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _installed(site: Path) -> bool:
    return (site / "tornado" / "__init__.py").is_file() and (site / ".complete").is_file()


@pytest.fixture(scope="module")
def tornado4_site(pytestconfig):
    """A directory holding Tornado 4.5.3 (installed on first use, then reused); skips when pip cannot
    install it."""
    root = _cache_root(pytestconfig)
    site = root / "site"
    if not _installed(site):
        staging = root / f"staging-{uuid.uuid4().hex}"  # install aside, then move in: concurrent runs are safe
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-input", "--no-deps", "--target", str(staging), f"tornado=={TORNADO4_VERSION}"]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.skip(f"pip could not install tornado=={TORNADO4_VERSION} within {PIP_TIMEOUT_S} s")
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            pytest.skip(f"pip could not install tornado=={TORNADO4_VERSION} (exit {proc.returncode}): {tail}")
        (staging / ".complete").write_text(TORNADO4_VERSION)
        if site.exists() and not _installed(site):
            shutil.rmtree(site, ignore_errors=True)  # a broken earlier attempt
        try:
            staging.rename(site)
        except OSError:  # another run got there first
            shutil.rmtree(staging, ignore_errors=True)
    if not _installed(site):
        pytest.skip(f"tornado=={TORNADO4_VERSION} is not usable in {site}")
    return site


def _env_with(site: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def test_tornado4_target_refuses_tornado_6_naming_what_it_found_and_how_to_install():
    import tornado

    if tornado.version_info[0] == 4:  # pragma: no cover - the main venv has Tornado 6
        pytest.skip("this environment has Tornado 4; the refusal is for any other version")
    with pytest.raises(TargetError, match=r"needs Tornado 4\.x") as caught:
        load_target("tornado4")
    message = str(caught.value)
    assert f"Tornado {tornado.version} is installed" in message
    assert "pip install 'tornado>=4.5,<5'" in message


def test_importing_harness_does_not_import_tornado():
    code = "import sys, harness, harness._targets; print('tornado' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_tornado4_is_a_listed_builtin_target():
    from harness._targets import BUILTIN_TARGETS

    assert "tornado4" in BUILTIN_TARGETS and "4.x" in BUILTIN_TARGETS["tornado4"]


DOCS = Path(__file__).resolve().parents[1] / "docs" / "targets.md"


def documented_findings() -> dict[str, list[str]]:
    """``case id -> slugs`` of the finding list in docs/targets.md (between the tornado4-findings markers)."""
    text = DOCS.read_text()
    block = text.split("<!-- tornado4-findings:begin -->", 1)[1].split("<!-- tornado4-findings:end -->", 1)[0]
    found = {}
    for line in block.splitlines():
        if ": " in line:
            case_id, slugs = line.split(": ", 1)
            found[case_id.strip()] = sorted(s.strip() for s in slugs.split(","))
    return found


def test_the_documented_finding_list_is_well_formed():
    from harness.engine import INVARIANTS

    found = documented_findings()
    assert found and all(slug in INVARIANTS for slugs in found.values() for slug in slugs)


def test_slow_tornado4_target_gives_exactly_the_documented_findings(tornado4_site, tmp_path):
    env = _env_with(tornado4_site)
    probe = subprocess.run([sys.executable, "-c", "import tornado; print(tornado.version)"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == TORNADO4_VERSION, probe.stderr
    command = [sys.executable, "-m", "harness", "run", "--target", "tornado4", "--transport", "plain",
               "--faults", "eintr,econnreset,ewouldblock,dribble,flood", "--operations", OPERATIONS_BEFORE_DEADLINES,
               "--examples", "0", "--jobs", "2", "--json"]
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    assert report["target"] == "tornado4" and report["transports"] == ["plain"]
    assert report["fail_on"] == ["contract"]
    errors = [(case["id"], case["details"]) for case in report["cases"] if case["outcome"] == "error"]
    assert errors == []
    found = {case["id"]: case["violations"] for case in report["cases"] if case["violations"]}
    assert found == documented_findings()
    # Exit 1 exactly because some of those findings are contract ones.
    assert proc.returncode == (1 if report["summary"]["failing"] else 0)
