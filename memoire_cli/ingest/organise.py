"""Events and places of a real gallery: from the owner's keywords and IPTC fields, else from clustering.

**Events.** Dated images are split into *bursts* wherever consecutive capture times are more than
``event_gap_h`` hours apart (3 h by default: the gap rule of time-based photo clustering; a burst is
a connected component of the photos closer than the gap, so it does not depend on the order in
which files are read). An image's event name is its own event keyword; an image without one takes
the most frequent event keyword of its burst (ties: alphabetical), and a burst without any is
named by its date range, ``event YYYY-MM-DD`` when it starts and ends on one day, ``event
YYYY-MM-DD – YYYY-MM-DD`` otherwise (``#2``, ``#3`` … for later bursts with the same range). Dates
are the stored capture times' (UTC when the file gives an offset, else the camera's clock). All the
keyword-less photos of one burst therefore share one event, however many they are. An event
*instance* is a (name, burst); its tag is the name, shared by instances of the same name (as
synth's event tags are event types). Undated images with an event keyword form one undated
instance per name; other undated images have no event.

**Places.** An image's place is its IPTC location (most specific first: ``Sublocation, City,
State, Country``) or its ``Places/…`` keyword. Images with GPS coordinates are grouped by single
linkage within ``place_radius_km`` (great-circle distance; connected components of the pairs
closer than the radius, found with a k-d tree on unit vectors); an image without a named place
takes the most frequent name of its cluster, and a cluster without names is named ``place near
LAT, LON`` (its mean position, 3 decimals ≈ 100 m).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def bursts(times: list[datetime | None], gap_h: float) -> list[int | None]:
    """Burst index per image (time order from 0), None for undated images."""
    order = sorted((t, i) for i, t in enumerate(times) if t is not None)
    out: list[int | None] = [None] * len(times)
    gap = timedelta(hours=gap_h)
    burst, last = -1, None
    for t, i in order:
        if last is None or t - last > gap:
            burst += 1
        out[i] = burst
        last = t
    return out


def date_range(start: datetime, end: datetime) -> str:
    """``YYYY-MM-DD``, or ``YYYY-MM-DD – YYYY-MM-DD`` when ``end`` falls on a later day."""
    a, b = start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")
    return a if a == b else f"{a} – {b}"


def _majority(names: list[str]) -> str | None:
    if not names:
        return None
    counts = Counter(names)
    best = max(counts.values())
    return min(n for n, c in counts.items() if c == best)


def assign_events(times: list[datetime | None], keywords: list[tuple[str, ...]], gap_h: float) -> list[tuple[str, int | None] | None]:
    """Per image: (event name, burst or None for undated) or None (module docstring)."""
    b = bursts(times, gap_h)
    by_burst: dict[int, list[str]] = {}
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    for i, k in enumerate(b):
        if k is None:
            continue
        if keywords[i]:
            by_burst.setdefault(k, []).append(keywords[i][0])
        first[k] = min(first.get(k, times[i]), times[i])  # type: ignore[type-var]
        last[k] = max(last.get(k, times[i]), times[i])  # type: ignore[type-var]
    names: dict[int, str] = {}
    per_range: Counter[str] = Counter()
    for k in sorted(first):
        name = _majority(by_burst.get(k, []))
        if name is None:
            span = date_range(first[k], last[k])
            per_range[span] += 1
            name = f"event {span}" + (f" #{per_range[span]}" if per_range[span] > 1 else "")
        names[k] = name
    out: list[tuple[str, int | None] | None] = []
    for i, k in enumerate(b):
        if k is None:
            out.append((keywords[i][0], None) if keywords[i] else None)
        else:
            out.append((keywords[i][0] if keywords[i] else names[k], k))
    return out


def gps_clusters(coords: list[tuple[float, float] | None], radius_km: float) -> list[int | None]:
    """Cluster index per image (single linkage within ``radius_km``), None without coordinates."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    idx = [i for i, c in enumerate(coords) if c is not None]
    out: list[int | None] = [None] * len(coords)
    if not idx:
        return out
    lat = np.radians([coords[i][0] for i in idx])  # type: ignore[index]
    lon = np.radians([coords[i][1] for i in idx])  # type: ignore[index]
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)  # (n, 3)
    chord = 2 * math.sin(min(radius_km / EARTH_RADIUS_KM, math.pi) / 2)
    pairs = cKDTree(xyz).query_pairs(chord, output_type="ndarray")  # (m, 2)
    n = len(idx)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    _, labels = connected_components(graph, directed=False)
    # Renumber clusters by first appearance so the numbering is stable under input order.
    remap: dict[int, int] = {}
    for j, i in enumerate(idx):
        out[i] = remap.setdefault(int(labels[j]), len(remap))
    return out


def place_name(location: tuple[str | None, ...] | None) -> tuple[str, str] | None:
    """(name, kind) of an IPTC location (sublocation, city, state, country), None when empty."""
    if not location:
        return None
    parts = [p for p in location if p]
    if not parts:
        return None
    kind = ("sublocation", "city", "state", "country")[next(i for i, p in enumerate(location) if p)]
    return ", ".join(dict.fromkeys(parts)), kind


def assign_places(named: list[tuple[str, str] | None], coords: list[tuple[float, float] | None],
                  radius_km: float) -> list[tuple[str, str] | None]:
    """Per image: (place name, kind) or None (module docstring)."""
    clusters = gps_clusters(coords, radius_km)
    by_cluster: dict[int, list[tuple[str, str]]] = {}
    members: dict[int, list[int]] = {}
    for i, c in enumerate(clusters):
        if c is None:
            continue
        members.setdefault(c, []).append(i)
        if named[i] is not None:
            by_cluster.setdefault(c, []).append(named[i])  # type: ignore[arg-type]
    cluster_name: dict[int, tuple[str, str]] = {}
    for c, ids in members.items():
        names = by_cluster.get(c, [])
        if names:
            top = _majority([n for n, _ in names])
            cluster_name[c] = next(nk for nk in names if nk[0] == top)
        else:
            lat = float(np.mean([coords[i][0] for i in ids]))  # type: ignore[index]
            lon = float(np.mean([coords[i][1] for i in ids]))  # type: ignore[index]
            cluster_name[c] = (f"place near {lat:.3f}, {lon:.3f}", "gps cluster")
    return [named[i] if named[i] is not None else (cluster_name[c] if c is not None else None) for i, c in enumerate(clusters)]
