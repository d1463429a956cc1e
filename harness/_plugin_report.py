"""The pytest session's report: every faulted test's case in one ``report.json`` + ``index.html``.

Rules for this module:
- Only the process that owns the session calls this (never a pytest-xdist worker): the cases arrive as
  plain dicts on the test reports, from this process or from the workers, and are written once.
- The report has the documented shape (``docs/report-format.md``) and goes through the harness's own
  writers (``harness._report`` for the top level, ``harness._report_html.write_report_dir`` for the files);
  nothing here renders or validates.
- Outside ``run``, the report depends only on the seed, the tests and faultio: cases are sorted in a fixed
  order whatever order the workers finished them in.
"""

from __future__ import annotations

import datetime
import shlex
import time
from pathlib import Path
from typing import Any, Sequence

import pytest

from faultio import FAULT_KINDS

from ._case import TRANSPORTS
from ._report import build_report, summarize
from ._report_html import write_report_dir
from ._plugin_settings import GENERATED, Settings

_FAULT_ORDER = {kind: i for i, kind in enumerate(("clean", *FAULT_KINDS, GENERATED))}


def _order(case: dict[str, Any]) -> tuple:
    base = case["id"].split("[")[0]
    return (base, _FAULT_ORDER.get(case["fault"], len(_FAULT_ORDER)), TRANSPORTS.index(case["transport"]),
            case.get("index", 0), case["id"])


def _seen(values: Sequence[str], order: Sequence[str]) -> list[str]:
    present = set(values)
    known = [v for v in order if v in present]
    return known + sorted(present - set(known))


def build(config: pytest.Config, settings: Settings, cases: Sequence[dict[str, Any]], *,
          started: float) -> dict[str, Any]:
    """The report dict for the session's faulted test cases."""
    cases = sorted(cases, key=_order)
    # A test id appears once: a retried test (e.g. pytest-rerunfailures) keeps its last result.
    unique = list({c["id"]: c for c in cases}.values())
    targets = _seen([c.get("target", "") for c in unique], ())
    jobs = getattr(config.option, "numprocesses", None)
    try:
        jobs = max(1, int(jobs or 1))
    except (TypeError, ValueError):
        jobs = 1
    command = shlex.join(["python", "-m", "pytest", *config.invocation_params.args])
    report = build_report(
        [], seed=settings.seed, target=", ".join(t for t in targets if t) or (settings.target or "faultio:IOStream"),
        command=command, faults=_seen([c["fault"] for c in unique], tuple(_FAULT_ORDER)),
        operations=_seen([c["operation"] for c in unique], list(dict.fromkeys(c["operation"] for c in unique))),
        transports=_seen([c["transport"] for c in unique], TRANSPORTS), report_path=None,
        run_id=time.strftime("%Y%m%d-%H%M%S", time.gmtime(started or time.time())) + f"-pytest-s{settings.seed}",
        started=datetime.datetime.fromtimestamp(started or time.time(), datetime.timezone.utc),
        duration_s=max(0.0, time.time() - (started or time.time())), jobs=jobs,
        fail_on=settings.fail_on(settings.target or "faultio:IOStream"))
    report["cases"] = unique
    report["summary"] = summarize(unique)
    return report


def write(config: pytest.Config, settings: Settings, cases: Sequence[dict[str, Any]], *, started: float) -> Path:
    """Write the session's report into ``settings.report`` (relative to pytest's invocation directory);
    return the path of ``index.html``."""
    directory = Path(config.invocation_params.dir) / settings.report
    return write_report_dir(build(config, settings, cases, started=started), directory)
