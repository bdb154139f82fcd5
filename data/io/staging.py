"""What every layer import shares: its report, staging tables and the columns they take."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from data.bulk import Progress, copy_frame, ewkb_hex

PROGRESS_ROWS = 5_000  # files with more rows than this get a progress bar


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    layer: str
    path: str
    rows: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    new_versions: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        """Human lines for the CLI."""
        verb = "would import" if self.dry_run else "imported"
        rate = f", {self.rows / self.seconds:,.0f} rows/s" if self.seconds > 0 and self.rows >= PROGRESS_ROWS else ""
        head = (f"{verb} {self.layer} from {self.path}: {self.rows:,} rows — {self.added:,} new, "
                f"{self.updated:,} changed, {self.unchanged:,} unchanged"
                + (f" ({self.new_versions:,} new grid versions)" if self.new_versions else "")
                + f" in {self.seconds:.1f} s{rate}")
        lines = [head] + [f"  note: {n}" for n in self.notes] + [f"  warning: {w}" for w in self.warnings]
        if self.dry_run:
            lines.append("  dry run: nothing was written")
        return "\n".join(lines)


def where_rows(rows: list[int], limit: int = 8) -> str:
    """'rows 1, 2, 5 and 3 more' for 0-based row indexes."""
    shown = ", ".join(str(r + 1) for r in rows[:limit])
    return f"row{'s' * (len(rows) > 1)} {shown}" + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def stage(session: Session, name: str, ddl: str, frame: pd.DataFrame, progress: Progress | None = None) -> None:
    """(Re)create the temp table `name` (dropped at commit), COPY `frame` into it, index and analyse it."""
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    session.execute(text(f"CREATE TEMP TABLE {name} ({ddl}) ON COMMIT DROP"))
    copy_frame(session, name, frame, progress=progress)
    if "geom" in frame.columns and len(frame) > 1000:
        session.execute(text(f"CREATE INDEX ON {name} USING gist (geom)"))
    session.execute(text(f"ANALYZE {name}"))


def geom_hex(geoms: np.ndarray) -> np.ndarray:
    """Hex EWKB with polygons promoted to multipolygons (the columns' type); '' for no geometry."""
    g = np.array(geoms, dtype=object)
    present = ~shapely.is_missing(g)
    single = present & (shapely.get_type_id(g) == 3)
    g[single] = [shapely.MultiPolygon([p]) for p in g[single]]
    out = np.full(len(g), "", dtype=object)
    out[present] = ewkb_hex(g[present])
    return out


def ints(parsed: dict, name: str, default: int | None = 0) -> pd.array:
    """A parsed number column as nullable integers, `default` where the file left it empty."""
    v = parsed[name]
    return pd.array([default if np.isnan(x) else int(x) for x in v], dtype="Int64")


def count_changes(session, report: ImportReport, sql: str) -> None:
    """Set the report's added, updated and unchanged counts from one row of `sql`."""
    added, updated, unchanged = session.execute(text(sql)).one()
    report.added, report.updated, report.unchanged = added, updated, unchanged
