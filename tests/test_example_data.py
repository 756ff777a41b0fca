"""Where the example data come from: DL3LAB_DATA, the download cache, the shared copy, or a simulated store."""

import shutil

import pytest

from dl3lab.reduction import DataStore
from dl3lab.reduction import example_data as ex
from dl3lab.reduction.errors import MissingDataError

CRAB_FILES = ["README.txt", "obs-index.fits.gz", "hdu-index.fits.gz"] + [
    f"data/hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz" for obs_id in ex.CRAB_RUNS
]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No DL3LAB_DATA, an empty cache in tmp_path, and no shared data directory (tests add what they need)."""
    monkeypatch.delenv("DL3LAB_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("DL3LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ex, "_shared_candidates", lambda: iter(()))
    return monkeypatch


def _fill_cache(hess_dir, target, files=CRAB_FILES):
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(hess_dir / name, target / name)


def test_dl3lab_data_wins(env, hess_dir, tmp_path):
    _fill_cache(hess_dir, tmp_path / "cache" / "hess-dl3-dr1")
    env.setenv("DL3LAB_DATA", str(hess_dir))
    found = ex.find_example_data()
    assert (found.path, found.source, found.simulated) == (hess_dir, "DL3LAB_DATA", False)
    assert ex.example_data_dir() == hess_dir
    env.setenv("DL3LAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(MissingDataError, match="DL3LAB_DATA"):
        ex.example_data_dir()


def test_complete_download_cache_comes_next(env, hess_dir, tmp_path):
    cache = tmp_path / "cache" / "hess-dl3-dr1"
    _fill_cache(hess_dir, cache)
    env.setattr(ex, "_shared_candidates", lambda: iter([hess_dir]))
    found = ex.find_example_data()
    assert (found.path, found.source, found.simulated) == (cache, "download cache", False)
    assert "real H.E.S.S. DL3 DR1" in found.description


def test_incomplete_cache_falls_back_to_the_shared_copy(env, hess_dir, tmp_path):
    _fill_cache(hess_dir, tmp_path / "cache" / "hess-dl3-dr1", CRAB_FILES[:-1])
    env.setattr(ex, "_shared_candidates", lambda: iter([tmp_path / "missing", hess_dir]))
    found = ex.find_example_data()
    assert (found.path, found.source, found.simulated) == (hess_dir, "shared data directory", False)


def test_shared_candidate_beside_the_checkout(monkeypatch, hess_dir, tmp_path):
    """The default candidates include ``../shared/data/hess-dl3-dr1`` relative to the repository (as the tests use)."""
    monkeypatch.delenv("DL3LAB_DATA", raising=False)
    monkeypatch.setenv("DL3LAB_CACHE", str(tmp_path / "cache"))
    candidates = [p.resolve() for p in ex._shared_candidates()]
    assert ex.download_cache_dir() == tmp_path / "cache" / "hess-dl3-dr1"
    from tests.conftest import SHARED

    assert (SHARED / "data" / "hess-dl3-dr1").resolve() in candidates


def test_simulated_store_is_the_last_resort(env, tmp_path):
    with pytest.raises(MissingDataError, match="dl3lab download"):
        ex.find_example_data(simulate=False)
    found = ex.find_example_data()
    expected = (tmp_path / "cache" / "simulated-crab", "simulated example", True)
    assert (found.path, found.source, found.simulated) == expected
    assert "simulated" in found.description
    store = DataStore.from_dir(found.path)
    assert sorted(store.obs_ids) == sorted(ex.CRAB_RUNS)
    obs = store.obs(23592)
    assert obs.events.meta["OBJECT"] == "Crab-like" and len(obs.events) > 1000
    index = found.path / "hdu-index.fits.gz"
    before = (index.stat().st_mtime_ns, index.read_bytes())
    assert ex.example_data_dir() == found.path  # generated once, then reused
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before
    again = ex.make_simulated_example(tmp_path / "again")
    for path in found.path.rglob("*.fits.gz"):
        assert (again / path.relative_to(found.path)).read_bytes() == path.read_bytes()


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("DL3LAB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ex.cache_dir() == tmp_path / "xdg" / "dl3lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ex.cache_dir().parts[-2:] == (".cache", "dl3lab")


def test_demo_says_which_data_it_uses(env, hess_dir, capsys):
    import dl3lab.cli as cli

    runs = []
    env.setattr(cli.runpy, "run_module", lambda name, run_name: runs.append(name))
    env.setenv("DL3LAB_DATA", str(hess_dir))
    assert cli.main(["demo"]) == 0
    assert "real H.E.S.S. DL3 DR1 data" in capsys.readouterr().out
    env.delenv("DL3LAB_DATA")
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "simulated data" in out and "simulated-crab" in out
    assert runs == ["dl3lab.examples.makers_tutorial"] * 2


def test_demo_tutorial_runs_on_the_simulated_store(env, capsys):
    import runpy

    env.setenv("DL3LAB_DATA", str(ex.make_simulated_example()))
    runpy.run_module("dl3lab.examples.makers_tutorial", run_name="__main__")
    out = capsys.readouterr().out
    assert "SpectrumDatasetOnOff" in out and "obs-23592" in out
