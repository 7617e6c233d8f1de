"""The case page's kelurahan drawing (core.outline) and the officers' masked handles."""

from __future__ import annotations

import pytest
import shapely

from core.caseview import mask_handle
from core.geo import Boundaries
from core.outline import MAX_POINTS, outline
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def small() -> Boundaries:
    return Boundaries.from_geojson(FIXTURES / "boundaries_small.geojson")


def test_a_square_kelurahan_with_its_point_in_the_middle(small):
    drawn = outline(small.geometry("31.71.01.1001"), (-6.205, 106.805))
    assert drawn.path.startswith("M0.0 0.0 L") and drawn.path.endswith(" Z")
    assert drawn.point == (119.3, 120.0)  # north up; a degree of lon is shorter here
    assert drawn.view_box == "-6 -6 250.6 252.0"


def test_a_multipolygon_draws_every_part_and_a_point_outside_widens_the_frame(small):
    drawn = outline(small.geometry("31.72.01.1001"), (-6.25, 106.83))
    assert drawn.path.count("M") == 2
    assert drawn.point[1] == 240.0  # the lowest thing drawn


def test_an_unknown_code_and_a_detailed_polygon(small):
    assert small.geometry("31.99.99.9999") is None
    circle = shapely.Point(106.8, -6.2).buffer(0.01, quad_segs=500)
    drawn = outline(circle)
    assert drawn.point is None and drawn.path.count("L") < MAX_POINTS


@pytest.mark.parametrize("handle, shown", [
    ("+6281234567789", "+62812****789"), ("budi.santoso@contoh.id", "b***@contoh.id"),
    ("12345", "****"), ("", ""), (None, None)], ids=["phone", "email", "short", "empty", "none"])
def test_mask_handle(handle, shown):
    assert mask_handle(handle) == shown
