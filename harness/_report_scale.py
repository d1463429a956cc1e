"""The facts of a report about how its run scaled: a campaign's figures, a shard, the shards merged.

Rules for this module:
- Input is the plain report dict (``docs/report-format.md``: its optional ``campaign``, ``shard`` and
  ``merged``); output is ``(label, text)`` rows for the page's table of facts. Only the stdlib; no HTML here
  (the page escapes what it shows).
"""

from __future__ import annotations

from typing import Any


def scale_facts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows saying what the campaign did, which shard this is, or which shards were merged (none for a plain
    run)."""
    rows: list[tuple[str, str]] = []
    campaign = report.get("campaign")
    if isinstance(campaign, dict):
        rows.append(("Campaign", f"{campaign.get('cases')} cases in {campaign.get('elapsed_s')} s of a "
                     f"{campaign.get('budget_s')} s budget ({campaign.get('cases_per_s')} cases/s), "
                     f"{campaign.get('chunks')} chunks of {campaign.get('examples_per_chunk')} plans; stopped: "
                     f"{campaign.get('stopped')}"))
        rows.append(("Found", f"{campaign.get('found')} new failing case(s), {campaign.get('stored')} newly stored; "
                     f"{campaign.get('cells_failing')} of {campaign.get('cells')} cells failing"))
        database = campaign.get("database")
        rows.append(("Example database", f"{database}: replayed {campaign.get('replayed')} stored case(s) first, "
                     f"{campaign.get('replayed_failing')} still failing, {campaign.get('removed')} passing now "
                     "(removed)" if database else "none (--no-example-db)"))
    shard = report.get("shard")
    if isinstance(shard, dict):
        rows.append(("Shard", f"{shard.get('index')}/{shard.get('count')}: this report holds one part of the run; "
                     "`python -m harness merge` joins the parts"))
    merged = report.get("merged")
    if isinstance(merged, dict):
        parts = ", ".join(f"{m.get('shard')}: {m.get('cases')} cases in {m.get('duration_s')} s ({m.get('run')})"
                          for m in merged.get("from", ()) if isinstance(m, dict))
        rows.append(("Merged", f"{merged.get('shards')} shards; {parts}"))
    return rows
