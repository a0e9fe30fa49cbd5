"""History: no past month may lose rows between snapshots, unless accepted once.

The previous snapshot is the manifest committed at git HEAD. Both snapshots' rows per month
are compared only when both counted them on the same time column. A known shrink (a
source's history legitimately corrected) is accepted for one snapshot with
`seedctl snapshot --allow-shrink` (or SEEDCTL_ALLOW_SHRINK=<who> for a stage under `dvc repro`:
an environment variable, not a param, so params.yaml and dvc.lock never disagree): the
manifest stage records the accepted months in the manifest (`history_accepted`: which
tables and months, by whom, when), and validation passes exactly those months. The
committed manifest is then the baseline of the next snapshot.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ALLOW_SHRINK_ENV = "SEEDCTL_ALLOW_SHRINK"
ACCEPT_COMMAND = "seedctl snapshot --allow-shrink"
ACCEPTED_KEY = "history_accepted"


def measured_on(entry: dict[str, Any]) -> str | None:
    """The column a manifest entry counted rows per month on; None when it counted none
    (no time column, or one stored as text)."""
    date_range = entry.get("date_range") or {}
    if not date_range.get("column") or date_range.get("note"):
        return None
    return str(date_range["column"])


def incomparable(entry: dict[str, Any], before: dict[str, Any]) -> str | None:
    """Why the two entries' months cannot be compared (a note), or None when they can."""
    now, then = measured_on(entry), measured_on(before)
    if not before.get("rows_per_month") or now == then:
        return None
    return (
        f"skipped: the previous snapshot counted rows per month on {then!r}, this one "
        f"{f'on {now!r}' if now else 'on no time column'}; the next snapshot compares again"
    )


def shrunk_months(entry: dict[str, Any], before: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Months the previous entry had that now hold fewer rows: {month: {before, after}}."""
    if incomparable(entry, before):
        return {}
    now_months = entry.get("rows_per_month", {})
    return {
        month: {"before": old, "after": now_months.get(month, 0)}
        for month, old in before.get("rows_per_month", {}).items()
        if now_months.get(month, 0) < old
    }


def acceptance(
    tables: dict[str, Any], previous: dict[str, Any] | None, by: str | None, now: datetime | None = None
) -> dict[str, Any] | None:
    """The manifest's record of an accepted shrink, when `by` (who asked: --allow-shrink, or
    SEEDCTL_ALLOW_SHRINK for a stage under `dvc repro`) asks for one and some month did
    shrink; else None."""
    if not by or not previous:
        return None
    shrunk = {
        name: months
        for name, entry in tables.items()
        if name in previous.get("tables", {}) and (months := shrunk_months(entry, previous["tables"][name]))
    }
    if not shrunk:
        return None
    at = (now or datetime.now(UTC)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {"by": by, "at": at, "versus": previous.get("version"), "tables": shrunk}


def accepted_months(manifest: dict[str, Any], name: str) -> dict[str, dict[str, int]]:
    """The months of table `name` whose shrink this snapshot's manifest records as accepted."""
    return ((manifest.get(ACCEPTED_KEY) or {}).get("tables") or {}).get(name, {})


def previous_manifest(seeds_dir: Path, rev: str = "HEAD") -> dict[str, Any] | None:
    """The manifest committed at `rev` (the previous snapshot), or None outside git/at first."""
    from seedctl.errors import SeedctlError
    from seedctl.layout import MANIFEST_FILE
    from seedctl.store.versions import git

    try:
        # `rev:./path` is relative to the working directory: one git process, not two.
        return json.loads(git(seeds_dir, "show", f"{rev}:./{MANIFEST_FILE}"))
    except (SeedctlError, OSError, ValueError):  # OSError: no git, no seeds_dir
        return None
