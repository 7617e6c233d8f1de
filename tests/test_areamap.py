"""core.areamap: the outlines one level below the filter, small enough to inline, with
the points inside the frame."""

from __future__ import annotations

import re

from core import areamap
from core.geo import Boundaries
from tests.conftest import FIXTURES
from tests.helpers import jakarta_geojson

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def small() -> Boundaries:
    return Boundaries.from_geojson(FIXTURES / "boundaries_small.geojson")


def test_the_levels_below_each_filter():
    b = small()
    assert [c for c, _, _ in areamap.areas_below(b, None)] == ["31.71", "31.72"]
    assert [n for _, n, _ in areamap.areas_below(b, None)] == ["Kota Uji Pusat",
                                                               "Kota Uji Utara"]
    assert [c for c, _, _ in areamap.areas_below(b, "31.71")] == ["31.71.01", "31.71.02"]
    assert [c for c, _, _ in areamap.areas_below(b, "31.72.01")] == ["31.72.01.1001",
                                                                     "31.72.01.1002"]
    assert [c for c, _, _ in areamap.areas_below(b, "31.71.02.1001")] == ["31.71.02.1001"]


def test_points_are_placed_in_the_frame_and_outside_ones_left_out():
    drawing = areamap.draw(areamap.areas_below(small(), "31.71"), [
        {"lat": -6.2, "lon": 106.8, "id": "corner"},  # the north-west corner
        {"lat": -6.22, "lon": 106.8135, "id": "far"},  # the south-east corner
        {"lat": -6.205, "lon": 106.835, "id": "away"},  # in kota 31.72
    ])
    assert [(p["id"], p["x"], p["y"]) for p in drawing.points] == [
        ("corner", 0.0, 0.0), ("far", drawing.points[1]["x"], 480.0)]
    width = float(drawing.view_box.split()[2]) - 16
    assert drawing.points[1]["x"] == width  # the frame's east edge
    # two kecamatan, each one closed ring inside the frame
    for shape in drawing.shapes:
        assert shape.path.count("M") == 1 and shape.path.endswith("Z")
        values = [float(v) for v in NUMBER.findall(shape.path)]
        assert min(values) >= 0 and max(values) <= 480
    assert areamap.draw([], []) is None


def test_jakarta_stays_small_enough_to_inline():
    b = Boundaries.from_geojson(jakarta_geojson())
    whole = areamap.draw(areamap.areas_below(b, None), [])
    # the five kota of the mainland (Kepulauan Seribu only when chosen)
    assert [s.code for s in whole.shapes] == ["31.71", "31.72", "31.73", "31.74", "31.75"]
    assert sum(len(s.path) for s in whole.shapes) < 20_000
    kota = areamap.draw(areamap.areas_below(b, "31.74"), [])
    assert len(kota.shapes) == 10 and sum(len(s.path) for s in kota.shapes) < 15_000
    seribu = areamap.draw(areamap.areas_below(b, "31.01"), [])
    assert seribu is not None and seribu.shapes
