"""The makers tutorial, with only its imports changed, prints Gammapy's numbers."""

import contextlib
import io
import re
import runpy

import pytest


@pytest.fixture(scope="module")
def tutorial_output(hess_dir):
    mp = pytest.MonkeyPatch()
    mp.setenv("DL3LAB_DATA", str(hess_dir))
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            runpy.run_module("dl3lab.examples.makers_tutorial", run_name="__main__")
    finally:
        mp.undo()
    return buffer.getvalue()


def _summaries(text):
    """The printed dataset summaries, as dicts of label -> value text."""
    blocks = re.split(r"\n(?=MapDataset\n-+\n)", text)
    result = []
    for block in blocks:
        if not block.lstrip().startswith("MapDataset"):
            continue
        fields = dict(re.findall(r"^  ([A-Z][^:\n]*?)\s+: (.*?)\s*$", block, flags=re.M))
        result.append(fields)
    return result


def test_empty_dataset_summary(tutorial_output):
    empty = _summaries(tutorial_output)[0]
    assert empty["Total counts"] == "0"
    assert empty["Number of total bins"] == "110000"
    assert empty["Number of fit bins"] == "0"
    assert empty["Exposure min"] == "0.00e+00 m2 s"
    assert empty["Predicted excess counts"] == "nan"


def test_single_run_summary(tutorial_output):
    single = _summaries(tutorial_output)[1]
    assert single["Total counts"] == "2016"
    assert single["Total background counts"] == "1866.72"
    assert single["Total excess counts"] == "149.28"
    assert single["Exposure min"] == "1.19e+02 m2 s"
    assert single["Exposure max"] == "1.09e+09 m2 s"
    assert single["Number of total bins"] == "110000"
    assert single["Number of fit bins"] == "110000"


def test_stacked_summary(tutorial_output):
    stacked = _summaries(tutorial_output)[2]
    assert stacked["Total counts"] == "7972"
    assert stacked["Total background counts"] == "7555.42"
    assert stacked["Total excess counts"] == "416.58"
    assert stacked["Exposure min"] == "1.04e+06 m2 s"
    assert stacked["Exposure max"] == "3.22e+09 m2 s"
    assert stacked["Number of total bins"] == "687500"
    assert stacked["Number of fit bins"] == "687214"


def test_datasets_listing(tutorial_output):
    listing = tutorial_output[tutorial_output.index("Datasets\n--------") :]
    pattern = (
        r"Dataset (\d): \n\n  Type       : (\w+)\n  Name       : (\S+)\n"
        r"  Instrument : (\w+)\n  Models     : \['(\S+)'\]"
    )
    entries = re.findall(pattern, listing)
    assert [e[0] for e in entries[:4]] == ["0", "1", "2", "3"]
    for _, kind, name, instrument, model in entries[:4]:
        assert kind == "MapDataset"
        assert instrument == "HESS"
        assert model == f"{name}-bkg"


def test_spectrum_datasets_listing(tutorial_output):
    """The spectral loop prints four ON/OFF spectra, as Gammapy's listing (empty model lists)."""
    listing = tutorial_output[tutorial_output.rindex("Datasets\n--------") :]
    expected = "Datasets\n--------\n\n" + "".join(
        f"Dataset {idx}: \n\n  Type       : SpectrumDatasetOnOff\n  Name       : obs-{obs_id}\n"
        "  Instrument : HESS\n  Models     : \n\n"
        for idx, obs_id in enumerate([23523, 23592, 23526, 23559])
    )
    assert listing.startswith(expected)
    assert listing[len(expected) :].strip() == ""
