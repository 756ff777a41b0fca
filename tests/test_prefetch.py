"""Reading the next observation in a helper thread while one is reduced (``Observations`` iteration)."""

import pytest

from dl3lab.reduction import DataStore
from dl3lab.reduction.errors import DataFormatError
from dl3lab.reduction.executor import set_max_threads

from .conftest import store_with_truncated_run


@pytest.fixture
def threads():
    def use(n):
        set_max_threads(n)

    yield use
    set_max_threads(None)


def _file_read(obs):
    """Whether the observation's run file has been read (waiting for a read in progress)."""
    files = obs._files
    for key in list(files._loading):
        files._wait(key)
    return bool(files._open)


def test_iteration_reads_the_next_observation_ahead(hess_dir, threads):
    threads(2)
    observations = DataStore.from_dir(hess_dir).get_observations([23523, 23526, 23559])
    assert [obs.obs_id for obs in observations] == [23523, 23526, 23559]
    # nothing is read for an iteration that does not touch the data
    assert not any(_file_read(obs) for obs in observations)
    first, second, third = observations
    iterator = iter(observations)
    assert next(iterator) is first
    assert not _file_read(second)
    first.events  # noqa: B018 -- reading the first starts reading the second
    assert _file_read(second)
    assert not _file_read(third)
    assert next(iterator) is second
    second.gti  # noqa: B018
    assert _file_read(third)
    # the prefetched data are the same as a plain read
    fresh = DataStore.from_dir(hess_dir).obs(23526)
    assert len(second.events) == len(fresh.events)
    assert second.aeff.data.tolist() == fresh.aeff.data.tolist()


def test_no_read_ahead_with_one_thread(hess_dir, threads):
    threads(1)
    observations = DataStore.from_dir(hess_dir).get_observations([23523, 23526])
    for obs in observations:
        obs.events  # noqa: B018
        break
    assert not _file_read(observations[1])


def test_a_broken_next_file_fails_when_used(hess_dir, tmp_path, threads):
    threads(2)
    broken = store_with_truncated_run(hess_dir, tmp_path / "store", [23523, 23526], broken_id=23526)
    observations = DataStore.from_dir(tmp_path / "store").get_observations([23523, 23526])
    for obs in observations:
        if obs.obs_id == 23523:
            assert len(obs.events) > 0  # starts reading the broken file in the background: no error here
        else:
            with pytest.raises(DataFormatError) as info:
                obs.events  # noqa: B018
            assert str(broken) in str(info.value) and "23526" in str(info.value)
