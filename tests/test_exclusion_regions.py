"""Validated exclusion circles of the pipeline (the reduction-layer side of the exclusion editor)."""

import numpy as np
import pytest
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord

from dl3lab.reduction import ExclusionCircle
from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline
from dl3lab.reduction.pipeline.exclusion import (
    add_exclusion_circle,
    exclusion_sky_regions,
    remove_exclusion_circle,
    validate_exclusion_regions,
)

# Crab Nebula in galactic coordinates (SIMBAD: l = 184.5575, b = -5.7843 deg).
CRAB_ICRS = (83.633, 22.0145)
CRAB_GAL = (184.5575, -5.7843)


@pytest.mark.parametrize("name,value,match", [("lat", 90.5, "latitude"), ("lat", -91, "latitude"),
                                               ("radius", 0.0, "radius"), ("radius", -0.2, "radius"),
                                               ("radius", 181, "radius"), ("lon", float("inf"), "finite")])
def test_invalid_values_are_rejected_with_the_reason(name, value, match):
    circle = ExclusionCircle(10, 20, 0.5)
    with pytest.raises(traitlets.TraitError, match=match):
        setattr(circle, name, value)
    assert circle.to_dict() == {"lon": 10.0, "lat": 20.0, "radius": 0.5}


def test_longitude_is_wrapped_and_dicts_round_trip():
    circle = ExclusionCircle(-10.0, 45.0, 1.0)
    assert circle.lon == 350.0
    assert ExclusionCircle.from_dict(circle.to_dict()).to_dict() == circle.to_dict()
    with pytest.raises(ValueError, match="keys"):
        ExclusionCircle.from_dict({"lon": 1, "lat": 2})
    with pytest.raises(ValueError, match="radius"):
        ExclusionCircle.from_dict({"lon": 1, "lat": 2, "radius": 0})
    with pytest.raises(ValueError, match="mapping"):
        ExclusionCircle.from_dict(3)


def test_circle_at_a_position_is_expressed_in_the_geometry_frame():
    position = SkyCoord(*CRAB_ICRS, unit="deg", frame="icrs")
    galactic = ExclusionCircle.at(position, 0.3 * u.deg, frame="galactic")
    np.testing.assert_allclose([galactic.lon, galactic.lat], CRAB_GAL, atol=2e-3)
    assert galactic.radius == pytest.approx(0.3)
    icrs = ExclusionCircle.at(position.galactic, 18 * u.arcmin, frame="icrs")
    np.testing.assert_allclose([icrs.lon, icrs.lat, icrs.radius], [*CRAB_ICRS, 0.3], atol=1e-8)
    with pytest.raises(ValueError, match="radius"):
        ExclusionCircle.at(position, -1, frame="icrs")


def test_list_helpers_return_new_validated_lists():
    regions = [{"lon": 83.6, "lat": 22.0, "radius": 0.3}]
    added = add_exclusion_circle(regions, ExclusionCircle(84.0, 21.0, 0.2))
    assert added is not regions and len(regions) == 1
    assert added[1] == {"lon": 84.0, "lat": 21.0, "radius": 0.2}
    assert remove_exclusion_circle(added, 0) == [added[1]]
    assert len(added) == 2
    with pytest.raises(IndexError, match="there are 2"):
        remove_exclusion_circle(added, 2)
    with pytest.raises(ValueError, match="exclusion region 2: .*latitude"):
        validate_exclusion_regions(regions + [{"lon": 0, "lat": 95, "radius": 1}])
    with pytest.raises(ValueError, match="radius"):
        add_exclusion_circle(regions, {"lon": 1, "lat": 2, "radius": -1})


def test_sky_regions_in_the_frame_and_the_same_pipeline_mask():
    regions = [{"lon": 184.5575, "lat": -5.7843, "radius": 0.4}]
    (circle,) = exclusion_sky_regions(regions, frame="galactic")
    assert circle.center.frame.name == "galactic"
    assert circle.radius == 0.4 * u.deg
    np.testing.assert_allclose([circle.center.icrs.ra.deg, circle.center.icrs.dec.deg], CRAB_ICRS, atol=2e-3)
    # The pipeline builds its exclusion mask from the same dicts: pixels inside are excluded.
    geometry = GeometrySpec(frame="galactic", lon=184.5575, lat=-5.7843, width=2.0, binsz=0.1,
                            energy_nbin=1, energy_true_nbin=2)
    pipeline = ReductionPipeline(None, geometry=geometry, exclusion_regions=regions)
    mask = pipeline.exclusion_mask()
    excluded = (~mask.data).sum()
    pixel_area = 0.1**2
    assert excluded * pixel_area == pytest.approx(np.pi * 0.4**2, rel=0.1)
