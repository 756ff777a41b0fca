"""Observation selection on the real H.E.S.S. observation index, against independent numpy calculations."""

import numpy as np
import pytest
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from dl3lab.reduction import DataStore, ObservationFilter, select_observations
from dl3lab.reduction.data import observation_summary, selection_mask
from dl3lab.reduction.errors import DataFormatError, MissingDataError

CRAB = (83.633, 22.0145)
CRAB_RUNS = [23523, 23526, 23559, 23592]
PKS_2155 = (329.716938, -30.225588)


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


def haversine_deg(ra1, dec1, ra2, dec2):
    """Great-circle distance (deg) by the haversine formula, independent of astropy."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    a = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))


def column(store, name):
    return np.asarray(store.obs_table[name], dtype=float)


def test_crab_runs_within_2p5_deg(store):
    assert select_observations(store, target=CRAB, max_distance=2.5) == CRAB_RUNS
    target = SkyCoord(*CRAB, unit="deg")
    assert select_observations(store.obs_table, target=target.galactic, max_distance=2.5 * u.deg) == CRAB_RUNS


@pytest.mark.parametrize("target", [CRAB, PKS_2155])
@pytest.mark.parametrize("max_distance", [0.4, 0.5 + 1e-6, 2.0, 25.0])
def test_distance_cut_matches_haversine(store, target, max_distance):
    distance = haversine_deg(column(store, "RA_PNT"), column(store, "DEC_PNT"), *target)
    expected = np.asarray(store.obs_table["OBS_ID"])[distance <= max_distance].tolist()
    assert select_observations(store, target=target, max_distance=max_distance) == expected
    summary = observation_summary(store, target=target)
    np.testing.assert_allclose(summary["DISTANCE"].quantity.to_value("deg"), distance, atol=1e-6)


def test_pks_2155_runs_are_the_ones_named_so(store):
    named = np.asarray(store.obs_table["OBS_ID"])[np.char.strip(np.asarray(store.obs_table["OBJECT"], dtype=str))
                                                  == "PKS 2155-304"]
    selected = select_observations(store, target=PKS_2155, max_distance=2.0)
    assert len(selected) > 0
    assert selected == named.tolist()
    assert select_observations(store, object_name="pks 2155") == named.tolist()


def test_zenith_and_livetime_cuts_match_numpy(store):
    zenith = column(store, "ZEN_PNT")
    livetime = column(store, "LIVETIME")
    ids = np.asarray(store.obs_table["OBS_ID"])
    mask = selection_mask(store, zenith_range=(20, 40), min_livetime=1600 * u.s)
    np.testing.assert_array_equal(mask, (zenith >= 20) & (zenith <= 40) & (livetime >= 1600))
    assert 0 < mask.sum() < len(ids)
    assert select_observations(store, zenith_range=(None, 30)) == ids[zenith <= 30].tolist()
    assert select_observations(store, min_livetime=0.45 * u.h) == ids[livetime >= 1620].tolist()


def test_zenith_from_altitude_when_zen_pnt_is_missing(store):
    table = store.obs_table.copy()
    table.remove_column("ZEN_PNT")
    expected = 90 - column(store, "ALT_PNT")
    ids = np.asarray(table["OBS_ID"])
    assert select_observations(table, zenith_range=(30, 45)) == ids[(expected >= 30) & (expected <= 45)].tolist()


def test_no_cut_selects_everything_in_index_order(store):
    assert select_observations(store) == store.obs_ids
    assert ObservationFilter().select(store) == store.obs_ids


def test_missing_columns_name_the_column_and_the_file(store, hess_dir):
    with pytest.raises(DataFormatError, match="RA_PNT") as info:
        select_observations(store.obs_table["OBS_ID", "DEC_PNT"], target=CRAB, max_distance=1,
                            filename="custom-index.fits")
    assert "custom-index.fits" in str(info.value)
    table = store.obs_table.copy()
    table.remove_columns(["ZEN_PNT", "ALT_PNT"])
    broken = DataStore(store.hdu_table, table, base_dir=hess_dir)
    with pytest.raises(DataFormatError, match="ZEN_PNT and ALT_PNT") as info:
        select_observations(broken, zenith_range=(0, 30))
    assert "obs-index.fits.gz" in str(info.value)
    # Cuts that are not requested need no column.
    assert select_observations(broken, target=CRAB, max_distance=2.5) == CRAB_RUNS


def test_wrong_units_and_missing_index(store, hess_dir):
    table = store.obs_table.copy()
    table["LIVETIME"].unit = u.deg
    with pytest.raises(DataFormatError, match="LIVETIME.*unit"):
        select_observations(table, min_livetime=10)
    table["LIVETIME"].unit = u.min
    ids = np.asarray(table["OBS_ID"])
    assert select_observations(table, min_livetime=1600 * 60) == ids[column(store, "LIVETIME") >= 1600].tolist()
    with pytest.raises(MissingDataError, match="no observation index"):
        select_observations(DataStore(store.hdu_table, None, base_dir=hess_dir))


def test_inconsistent_cuts_are_rejected(store):
    with pytest.raises(ValueError, match="needs a target"):
        select_observations(store, max_distance=2)
    with pytest.raises(ValueError, match="non-negative"):
        select_observations(store, target=CRAB, max_distance=-1)
    with pytest.raises(ValueError, match="exceeds"):
        select_observations(store, zenith_range=(40, 20))
    with pytest.raises(TypeError):
        select_observations([1, 2, 3])


def test_missing_values_fail_the_cut():
    table = Table({"OBS_ID": [1, 2, 3], "LIVETIME": np.ma.masked_array([100.0, 200.0, 300.0], [False, True, False])})
    table["LIVETIME"].unit = "s"
    assert select_observations(table, min_livetime=50) == [1, 3]
    assert np.isnan(observation_summary(table)["LIVETIME"][1])


def test_filter_traits_are_validated_and_select_like_the_function(store):
    obs_filter = ObservationFilter(lon=PKS_2155[0], lat=PKS_2155[1], max_distance=2.0)
    expected = select_observations(store, target=PKS_2155, max_distance=2.0)
    assert obs_filter.select(store) == expected
    np.testing.assert_array_equal(np.flatnonzero(obs_filter.mask(store)),
                                  np.flatnonzero(np.isin(store.obs_table["OBS_ID"], expected)))
    obs_filter.update({"zenith_min": 10.0, "zenith_max": 20.0})
    zenith = column(store, "ZEN_PNT")
    in_range = np.asarray(store.obs_table["OBS_ID"])[(zenith >= 10) & (zenith <= 20)]
    assert obs_filter.select(store) == [i for i in expected if i in in_range]
    for name, value in (("lat", 91.0), ("max_distance", -0.1), ("max_distance", 200.0), ("zenith_min", 30.0),
                        ("min_livetime", -1.0), ("lon", float("nan")), ("frame", "fk5")):
        before = getattr(obs_filter, name)
        with pytest.raises(traitlets.TraitError):
            setattr(obs_filter, name, value)
        assert getattr(obs_filter, name) == before


def test_filter_target_in_galactic_frame(store):
    crab = SkyCoord(*CRAB, unit="deg").galactic
    obs_filter = ObservationFilter(frame="galactic", lon=crab.l.deg, lat=crab.b.deg, max_distance=2.5)
    assert obs_filter.select(store) == CRAB_RUNS
    summary = obs_filter.summary(store)
    distance = haversine_deg(column(store, "RA_PNT"), column(store, "DEC_PNT"), *CRAB)
    np.testing.assert_allclose(summary["DISTANCE"].quantity.to_value("deg"), distance, atol=1e-6)
