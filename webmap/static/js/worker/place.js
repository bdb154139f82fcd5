/* Locate without a network, from the grids and buildings cached on the phone, by the server's
 * rule (gis/spatial/assign/rule.py): covered by one grid → inside, by several → edge (smallest
 * code), the accuracy circle crossing the covering grid's boundary → ambiguous (a covering
 * building footprint's grid decides), else the nearest grid within snap_m → snapped, else outside;
 * the building is the footprint covering the point, else the nearest within 15 m.
 *
 * What may differ from the server: distances here are measured in a local metric frame (the
 * server measures snapping distances on the ellipsoid: the two agree to well under 0.1 % at
 * these distances), only the current grid versions of the worker's own grids are known, and
 * cadres are not shown. The report carries only the coordinates; the server places it again. */

const E2 = 0.00669437999014;
const A = 6378137.0;

// Metres per degree of longitude and latitude at latitude `lat` on the WGS84 ellipsoid.
function scales(lat) {
  const phi = (lat * Math.PI) / 180;
  const w = 1 - E2 * Math.sin(phi) ** 2;
  return [(Math.PI / 180) * A * Math.cos(phi) / Math.sqrt(w), (Math.PI / 180) * A * (1 - E2) / w ** 1.5];
}

function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

// Ray casting; a point on the boundary counts as covered (ST_Covers), within 1 mm.
function ringContains(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

// Distance in metres from the origin to segment a–b given in local metres.
function segmentDistance(ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len > 0 ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len)) : 0;
  return Math.hypot(ax + t * dx, ay + t * dy);
}

function boundaryDistance(geometry, lon, lat) {
  const [kx, ky] = scales(lat);
  let best = Infinity;
  polygonsOf(geometry).forEach((poly) => poly.forEach((ring) => {
    for (let i = 1; i < ring.length; i += 1) {
      const d = segmentDistance((ring[i - 1][0] - lon) * kx, (ring[i - 1][1] - lat) * ky, (ring[i][0] - lon) * kx, (ring[i][1] - lat) * ky);
      if (d < best) best = d;
    }
  }));
  return best;
}

export function covers(geometry, lon, lat) {
  return polygonsOf(geometry).some((poly) => ringContains(poly[0], lon, lat) && !poly.slice(1).some((hole) => ringContains(hole, lon, lat)))
    || boundaryDistance(geometry, lon, lat) < 0.001;
}

const byCode = (a, b) => (a.properties.code < b.properties.code ? -1 : a.properties.code > b.properties.code ? 1 : 0);
const ref = (f) => (f ? { code: f.properties.code, name: f.properties.name } : null);

export function placeOffline(grids, buildings, lon, lat, accuracy, { snapM = 30, buildingNearM = 15 } = {}) {
  const covering = grids.filter((g) => covers(g.geometry, lon, lat)).sort(byCode);
  const near = buildings
    .map((b) => ({ b, covers: covers(b.geometry, lon, lat), d: boundaryDistance(b.geometry, lon, lat) }))
    .filter((c) => c.covers || c.d <= buildingNearM)
    .sort((p, q) => (q.covers - p.covers) || (p.d - q.d) || byCode(p.b, q.b));
  const building = near.length ? near[0] : null;
  let status;
  let grid;
  let distance = 0;
  if (covering.length) {
    grid = covering[0];
    const crosses = accuracy > 0 && boundaryDistance(grid.geometry, lon, lat) <= accuracy;
    status = crosses ? "ambiguous" : covering.length > 1 ? "edge" : "inside";
    if (crosses && building && building.covers) {
      const holder = grids.filter((g) => covers(g.geometry, ...centre(building.b.geometry))).sort(byCode)[0];
      if (holder) grid = holder;
    }
  } else {
    const nearest = grids.map((g) => ({ g, d: boundaryDistance(g.geometry, lon, lat) })).sort((p, q) => p.d - q.d || byCode(p.g, q.g))[0];
    distance = nearest ? nearest.d : Infinity;
    if (nearest && distance <= snapM) {
      status = accuracy > 0 && distance <= accuracy ? "ambiguous" : "snapped";
      grid = nearest.g;
    } else {
      status = "outside";
      grid = null;
    }
  }
  return {
    status, offline: true, distance_m: Number.isFinite(distance) ? distance : null, grid: ref(grid),
    building: building ? ref(building.b) : null,
    community: grid && grid.properties.community_code ? { code: grid.properties.community_code, name: grid.properties.community_name } : null,
    street: null, district: null, cadres: [],
  };
}

// A point inside a footprint (its first ring's vertex mean, nudged to the ring when that falls outside).
function centre(geometry) {
  const ring = polygonsOf(geometry)[0][0];
  const n = ring.length - 1 || 1;
  const mean = ring.slice(0, n).reduce((acc, [x, y]) => [acc[0] + x / n, acc[1] + y / n], [0, 0]);
  return covers(geometry, mean[0], mean[1]) ? mean : ring[0];
}
