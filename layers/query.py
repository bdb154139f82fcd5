"""What a request asks of a layer (bbox, time, filters, scope) and the SQL WHERE clause it means."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from gis.core.errors import InvalidInput
from layers.registry import LayerSpec

# Query parameters every layer request may carry besides its filters.
COMMON_PARAMS = ("bbox", "at", "datetime", "mine")


@dataclass(frozen=True)
class LayerQuery:
    """A parsed request for features of one layer; `where()` turns it into SQL over the source `t`."""

    spec: LayerSpec
    bbox: tuple[float, float, float, float] | None = None
    at: dt.date | dt.datetime | None = None
    interval: tuple[dt.datetime | dt.date | None, dt.datetime | dt.date | None] | None = None
    filters: Mapping[str, tuple] = field(default_factory=dict)
    # Grid codes the caller is limited to (a worker's grids); None means no restriction.
    scope: tuple[str, ...] | None = None
    # Every version of a dated layer, not only the current ones (looking a feature up by id).
    any_time: bool = False

    def cache_key(self) -> tuple:
        """A hashable identity of everything that changes the answer."""
        return (self.spec.name, self.bbox, self.at, self.interval,
                tuple(sorted(self.filters.items())), self.scope, self.any_time)

    def where(self, include_bbox: bool = True) -> tuple[str, dict]:
        """SQL conditions over `t` (joined with AND) and their bind parameters."""
        spec, conds, params = self.spec, [], {}
        if self.bbox is not None and include_bbox:
            params.update(bx0=self.bbox[0], by0=self.bbox[1], bx1=self.bbox[2], by1=self.bbox[3])
            conds.append(f"ST_Intersects(t.{spec.geom_column}, ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 4326))")
        conds.extend(self._time(params))
        for i, (name, values) in enumerate(sorted(self.filters.items())):
            if spec.properties[name] == "boolean" and len(values) == 1:
                # A plain predicate, not `= ANY(array[true])`: the planner can then match it with
                # partial indexes (open events) and estimate it.
                conds.append(f"t.{name}" if values[0] else f"NOT t.{name}")
                continue
            params[f"f{i}"] = list(values)
            conds.append(f"t.{name} = ANY(:f{i})")
        if self.scope is not None:
            params["scope"] = list(self.scope)
            conds.append(spec.scope)
        return (" AND ".join(conds) or "TRUE"), params

    def _time(self, params: dict) -> list[str]:
        time = self.spec.time
        if time is None or self.any_time:
            return []
        if time.is_interval:
            # Dated versions are valid over [start, end); NULL start = since ever, NULL end = current.
            s, e = f"t.{time.start}", f"t.{time.end}"
            if self.at is not None:
                params["at"] = self.at
                return [f"({s} IS NULL OR {s} <= :at)", f"({e} IS NULL OR :at < {e})"]
            if self.interval is not None:
                lo, hi = self.interval
                conds = []
                if lo is not None:
                    params["t0"] = lo
                    conds.append(f"({e} IS NULL OR {e} > :t0)")
                if hi is not None:
                    params["t1"] = hi
                    conds.append(f"({s} IS NULL OR {s} <= :t1)")
                return conds
            return [f"{e} IS NULL"] if self.spec.versioned else []
        conds = []
        if self.interval is not None:
            lo, hi = self.interval
            if lo is not None:
                params["t0"] = lo
                conds.append(f"t.{time.start} >= :t0")
            if hi is not None:
                params["t1"] = hi
                conds.append(f"t.{time.start} <= :t1")
        return conds


def parse_query(spec: LayerSpec, args: Mapping[str, str], *, scope: list[str] | None = None,
                extra_params: tuple[str, ...] = ()) -> LayerQuery:
    """A LayerQuery from query-string arguments; unknown parameters and bad values say what to send.

    `scope` is the caller's grid codes when they are limited to them (grid workers): applied to
    layers that are scoped for workers, and to any scoped layer when the client asks `mine=true`.
    """
    allowed = set(COMMON_PARAMS) | set(spec.filters) | set(extra_params)
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise InvalidInput("Unknown parameter",
                           f"Layer {spec.name} does not understand {', '.join(unknown)}; it accepts "
                           f"{', '.join(sorted(allowed))}.", parameters=unknown)
    bbox = parse_bbox(args.get("bbox"))
    at = parse_instant(args["at"], "at") if args.get("at") else None
    interval = parse_datetime(args["datetime"]) if args.get("datetime") else None
    if at is not None and not (spec.time and spec.time.is_interval):
        raise InvalidInput("at does not apply", f"Layer {spec.name} has no dated versions; "
                           "use `datetime` for instants or intervals.", parameter="at")
    if at is not None and interval is not None:
        raise InvalidInput("at and datetime together", "Send either `at` (one date) or `datetime`, not both.")
    if interval is not None and spec.time is None:
        raise InvalidInput("datetime does not apply", f"Layer {spec.name} has no time; drop `datetime`.",
                           parameter="datetime")
    filters = {name: _values(spec, name, args[name]) for name in spec.filters if args.get(name)}
    mine = parse_bool(args.get("mine"), "mine") if args.get("mine") else False
    if mine and not spec.scope:
        raise InvalidInput("mine does not apply", f"Layer {spec.name} is not tied to grids.", parameter="mine")
    limited = None
    if scope is not None and spec.scope and (spec.scoped_for_workers or mine):
        limited = tuple(sorted(scope))
    return LayerQuery(spec, bbox=bbox, at=at, interval=interval, filters=filters, scope=limited)


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """`minLon,minLat,maxLon,maxLat` in WGS84 (a 6-number 3D bbox keeps its horizontal part)."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise InvalidInput("Invalid bbox", "Give bbox as minLon,minLat,maxLon,maxLat (4 numbers, WGS84); "
                           f"got {len(parts)} values.", parameter="bbox")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput("Invalid bbox", f"bbox values must be numbers; got {raw[:80]!r}.",
                           parameter="bbox") from None
    if not all(math.isfinite(n) for n in nums):
        raise InvalidInput("Invalid bbox", "bbox values must be finite numbers.", parameter="bbox")
    x0, y0, x1, y1 = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise InvalidInput("Invalid bbox", "bbox is longitude -180..180 then latitude -90..90 (WGS84, "
                           "lon first).", parameter="bbox")
    if x0 > x1 or y0 > y1:
        raise InvalidInput("Invalid bbox", "bbox minimums must not exceed maximums: "
                           "minLon,minLat,maxLon,maxLat.", parameter="bbox")
    return x0, y0, x1, y1


def parse_instant(raw: str, name: str) -> dt.date | dt.datetime:
    """An RFC 3339 date (YYYY-MM-DD: from the district's midnight) or date-time (naive: the district's time).

    Both stay as given; the database reads a date or a naive time in the connection's zone, which
    is the district's (gis.core.clock).
    """
    text = raw.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a date like 2024-05-01 or a date-time like "
                           f"2024-05-01T08:00:00+08:00; got {raw[:40]!r}.", parameter=name) from None
    return value


def parse_datetime(raw: str) -> tuple:
    """OGC `datetime`: an instant, or an interval `start/end` where either end may be `..` or empty."""
    if "/" not in raw:
        instant = parse_instant(raw, "datetime")
        if isinstance(instant, dt.date) and not isinstance(instant, dt.datetime):
            # A whole day: from its midnight to the next one.
            return instant, instant + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        return instant, instant
    lo_raw, _, hi_raw = raw.partition("/")
    lo = None if lo_raw.strip() in ("", "..") else parse_instant(lo_raw, "datetime")
    hi = None if hi_raw.strip() in ("", "..") else parse_instant(hi_raw, "datetime")
    if lo is None and hi is None:
        raise InvalidInput("Invalid datetime", "An interval needs at least one end, e.g. 2024-01-01/..",
                           parameter="datetime")
    if lo is not None and hi is not None and _reversed(lo, hi):
        raise InvalidInput("Invalid datetime", "The interval's start is after its end.", parameter="datetime")
    return lo, hi


def _reversed(lo: dt.date | dt.datetime, hi: dt.date | dt.datetime) -> bool:
    """Whether an interval's start is after its end, when that can be told without the district's zone."""
    def as_dt(value):
        return value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)

    a, b = as_dt(lo), as_dt(hi)
    if (a.tzinfo is None) != (b.tzinfo is None):
        return False  # one end local, one with an offset: the database orders them (an empty answer if reversed)
    return a > b


def parse_bool(raw: str, name: str) -> bool:
    """true/false (also 1/0, yes/no)."""
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise InvalidInput(f"Invalid {name}", f"`{name}` must be true or false; got {raw[:20]!r}.", parameter=name)


def parse_zoom(raw: str | None) -> int | None:
    """A web-map zoom level 0–24."""
    if raw is None or raw == "":
        return None
    try:
        zoom = int(raw)
    except ValueError:
        raise InvalidInput("Invalid zoom", f"`zoom` must be a whole number 0–24; got {raw[:20]!r}.",
                           parameter="zoom") from None
    if not 0 <= zoom <= 24:
        raise InvalidInput("Invalid zoom", f"`zoom` must be 0–24; got {zoom}.", parameter="zoom")
    return zoom


def _values(spec: LayerSpec, name: str, raw: str) -> tuple:
    kind = spec.properties[name]
    out = []
    for part in raw.split(","):
        part = part.strip()
        if kind == "integer":
            try:
                out.append(int(part))
            except ValueError:
                raise InvalidInput(f"Invalid {name}", f"`{name}` takes whole numbers (comma-separated); "
                                   f"got {part[:20]!r}.", parameter=name) from None
        elif kind == "number":
            try:
                out.append(float(part))
            except ValueError:
                raise InvalidInput(f"Invalid {name}", f"`{name}` takes numbers; got {part[:20]!r}.",
                                   parameter=name) from None
        elif kind == "boolean":
            out.append(parse_bool(part, name))
        else:
            out.append(part)
    return tuple(sorted(set(out), key=str))
