"""Observation browser without a browser: widget values are set from Python."""

import re

import numpy as np
import pytest

from dl3lab.reduction import DataStore
from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline
from dl3lab.widgets.observations import ObservationBrowser

CRAB_RUNS = [23523, 23526, 23559, 23592]


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


def table_ids(browser):
    """Obs ids in the rows of the HTML table (first cell after the selection mark)."""
    return [int(i) for i in re.findall(r"<tr><td>(?:&#10003;)?</td><td[^>]*>(\d+)</td>", browser.table.value)]


def pks_runs(store):
    objects = np.char.strip(np.asarray(store.obs_table["OBJECT"], dtype=str))
    return np.asarray(store.obs_table["OBS_ID"])[objects == "PKS 2155-304"].tolist()


def test_filter_controls_drive_the_table(store):
    browser = ObservationBrowser(store)
    assert table_ids(browser) == store.obs_ids
    assert browser.count.value.startswith(f"{len(store.obs_ids)} of {len(store.obs_ids)}")
    browser.controls["max_distance"].widget.value = 2.5
    assert browser.filtered_obs_ids == CRAB_RUNS
    assert table_ids(browser) == CRAB_RUNS
    browser.controls["lon"].widget.value = 329.716938
    browser.controls["lat"].widget.value = -30.225588
    assert browser.filtered_obs_ids == pks_runs(store)
    zenith = np.asarray(store.obs_table["ZEN_PNT"], dtype=float)
    browser.controls["zenith_max"].widget.value = 20.0
    passing = set(np.asarray(store.obs_table["OBS_ID"])[zenith <= 20].tolist())
    assert browser.filtered_obs_ids == [i for i in pks_runs(store) if i in passing]
    assert 0 < len(browser.filtered_obs_ids) < len(pks_runs(store))


def test_invalid_filter_value_shows_the_trait_error(store):
    browser = ObservationBrowser(store)
    browser.controls["max_distance"].widget.value = 2.5
    browser.controls["max_distance"].widget.value = -3.0
    assert browser.obs_filter.max_distance == 2.5
    assert "max_distance" in browser.controls["max_distance"].error.value
    assert browser.filtered_obs_ids == CRAB_RUNS


def test_selection_buttons_and_list(store):
    browser = ObservationBrowser(store)
    browser.controls["object_name"].widget.value = "crab"
    assert browser.filtered_obs_ids == CRAB_RUNS
    assert [value for _, value in browser.selection.options] == CRAB_RUNS
    browser.select_filtered_button.click()
    assert browser.selected_obs_ids == CRAB_RUNS
    assert browser.selection.value == tuple(CRAB_RUNS)
    assert browser.table.value.count("&#10003;") == 4
    browser.selection.value = (23559, 23523)
    assert browser.selected_obs_ids == [23523, 23559]
    # A selected run that the filter no longer passes stays selected and listed.
    browser.controls["object_name"].widget.value = "PKS 2155"
    assert browser.selected_obs_ids == [23523, 23559]
    labels = dict((value, label) for label, value in browser.selection.options)
    assert "filtered out" in labels[23523] and "filtered out" not in labels[pks_runs(store)[0]]
    assert browser.selection.value == (23523, 23559)
    browser.clear_button.click()
    assert browser.selected_obs_ids == [] and browser.selection.value == ()


def test_pipeline_obs_ids_are_linked(store):
    pipeline = ReductionPipeline(store, obs_ids=[23592], geometry=GeometrySpec(lon=83.633, lat=22.0145))
    browser = ObservationBrowser(store, pipeline=pipeline)
    assert browser.selected_obs_ids == [23592]
    assert (browser.obs_filter.lon, browser.obs_filter.lat) == (83.633, 22.0145)
    browser.controls["max_distance"].widget.value = 2.5
    browser.select_filtered()
    assert pipeline.obs_ids == CRAB_RUNS
    browser.selection.value = (23526,)
    assert pipeline.obs_ids == [23526]
    pipeline.obs_ids = [23523, 12345]  # edited elsewhere: the browser follows
    assert browser.selected_obs_ids == [23523, 12345]
    assert browser.selection.value == (23523, 12345)
    assert "not in the observation index" in browser.selection.options[-1][0]
    browser.close()
    pipeline.obs_ids = [23559]
    assert browser.selected_obs_ids == [23523, 12345]


def test_missing_column_error_is_displayed(store, hess_dir):
    table = store.obs_table.copy()
    table.remove_column("LIVETIME")
    browser = ObservationBrowser(DataStore(store.hdu_table, table, base_dir=hess_dir))
    assert "livetime (s)" in browser.table.value and "<td style='padding:0 6px'>-</td>" in browser.table.value
    browser.controls["min_livetime"].widget.value = 600.0
    assert "LIVETIME" in browser.error.value and "obs-index.fits.gz" in browser.error.value
    assert browser.filtered_obs_ids == []
    browser.controls["min_livetime"].widget.value = 0.0
    assert browser.error.value == "" and len(browser.filtered_obs_ids) == len(table)
