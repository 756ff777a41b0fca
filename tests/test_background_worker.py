"""The background helper process: same numbers as the calling process, and a safe fallback."""

import os
import threading

import numpy as np
import pytest

from dl3lab.reduction import DataStore, MapAxis, MapDataset, MapDatasetMaker, WcsGeom
from dl3lab.reduction.makers import background_worker as bw
from dl3lab.reduction.makers.background_projection import BackgroundComputation, BackgroundTask
from dl3lab.reduction.makers.sky import pixel_trig, pointing_radians, solid_angle_sr

IDS = [23523, 23592]


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


@pytest.fixture(scope="module")
def geom():
    axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    return WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=5, binsz=0.02)


@pytest.fixture
def worker():
    bw.set_helper_process(None)
    bw.shutdown()
    worker = bw.background_worker()
    assert worker.ready(timeout=120), "the helper process did not start"
    yield worker
    bw.set_helper_process(None)


def _backgrounds(store, geom, threads=2, oversampling=None, width="6 deg"):
    reference = MapDataset.create(geom)
    maker = MapDatasetMaker(threads=threads, background_oversampling=oversampling)
    return [
        maker.run(reference.cutout(obs.get_pointing_icrs(obs.tmid), width=width), obs).background.data
        for obs in store.get_observations(IDS)
    ]


@pytest.mark.parametrize("oversampling", [None, 2])
def test_process_gives_the_values_of_the_calling_process(store, geom, worker, oversampling):
    before = worker.completed
    # two cutout sizes: three sky grids, each sent to the process once; the shared file is unlinked once mapped
    remote = _backgrounds(store, geom, oversampling=oversampling) + _backgrounds(
        store, geom, oversampling=oversampling, width="3 deg")
    assert worker.completed == before + 4 and not worker._buffer.path.exists()
    local = _backgrounds(store, geom, threads=1, oversampling=oversampling) + _backgrounds(
        store, geom, threads=1, oversampling=oversampling, width="3 deg")
    assert worker.completed == before + 4  # one thread: the process is not used
    for a, b in zip(remote, local):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        assert a.sum() > 100


def test_disabled_process_is_not_used(store, geom, worker):
    bw.set_helper_process(False)
    assert bw.background_worker() is None
    values = _backgrounds(store, geom)
    assert worker.broken  # forbidding stops the running process
    np.testing.assert_array_equal(values[0], _backgrounds(store, geom, threads=1)[0])


def test_a_killed_process_falls_back_to_the_calling_process(store, geom, worker):
    expected = _backgrounds(store, geom, threads=1)
    os.kill(worker.pid, 9)
    worker._proc.wait(timeout=10)
    got = _backgrounds(store, geom)
    assert worker.broken
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    replacement = bw.background_worker()  # a process that worked and died is replaced
    assert replacement is not worker and replacement.ready(timeout=120)


def test_other_threads_use_the_process_but_not_dask_workers(store, geom, worker, monkeypatch):
    from dl3lab.reduction.makers import map_dataset_maker

    def in_thread():
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("bkg", _backgrounds(store, geom)))
        thread.start()
        thread.join()
        return result["bkg"]

    before = worker.completed
    assert len(in_thread()) == 2 and worker.completed == before + 2  # a pipeline's thread, for example
    monkeypatch.setattr(map_dataset_maker, "_in_dask_worker", lambda: True)
    assert len(in_thread()) == 2 and worker.completed == before + 2


def _served(requests):
    """Answers of `serve` (run in a thread, on pipes) to ``requests``."""
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    with open(r_in, "rb") as stdin, open(w_out, "wb") as stdout:
        thread = threading.Thread(target=bw.serve, args=(stdin, stdout))
        thread.start()
        with open(w_in, "wb") as to_server:
            for request in requests:
                bw._write(to_server, request)
        thread.join(timeout=60)
    answers = []
    with open(r_out, "rb") as from_server:
        while (answer := bw._read(from_server)) is not None:
            answers.append(answer)
    return answers


def test_protocol_answers_missing_grids_and_errors(store, geom, tmp_path):
    import sys

    obs = store.obs(IDS[0])
    image = geom.to_image()
    task = BackgroundTask(obs.bkg, geom.axes["energy"], obs.observation_time_duration, dtype=np.float32)
    pointing = pointing_radians(obs.get_pointing_icrs(obs.tmid))
    path = tmp_path / "buffer"
    shape = (11, image.data_shape[0] * image.data_shape[1])
    path.write_bytes(bytes(4 * shape[0] * shape[1]))
    broken = BackgroundTask(obs.bkg, geom.axes["energy"], obs.observation_time_duration, dtype=np.float32)
    broken.bkg = None
    stdout = sys.stdout
    try:
        answers = _served([
            ("compute", (task, "grid", pointing, (str(path), 1), shape)),
            ("grid", ("grid", pixel_trig(image), solid_angle_sr(image))),
            ("compute", (broken, "grid", pointing, (str(path), 1), shape)),
            ("compute", (task, "grid", pointing, (str(path), 1), shape)),
        ])
    finally:
        sys.stdout = stdout
    assert [a[0] for a in answers] == ["ready", "missing", "error", "ok"]
    assert "Traceback" in answers[2][1] and "AttributeError" in answers[2][1]
    written = np.fromfile(path, dtype=np.float32).reshape(shape)
    direct = BackgroundComputation(obs.bkg, geom, obs.get_pointing_icrs(obs.tmid), obs.observation_time_duration,
                                   dtype=np.float32).result()
    np.testing.assert_array_equal(written, direct.reshape(shape))


def test_a_process_dying_during_a_request_reports_worker_lost(store, geom, worker):
    obs = store.obs(IDS[0])
    large = WcsGeom.create(skydir=(83.63, 22.01), axes=[geom.axes["energy"]], width=12, binsz=0.02)
    image = large.to_image()  # about 0.1 s of work: the process is killed while it computes
    task = BackgroundTask(obs.bkg, large.axes["energy"], obs.observation_time_duration, dtype=np.float32)
    grid = lambda: (pixel_trig(image), solid_angle_sr(image))  # noqa: E731
    pending = worker.try_submit(task, "a-grid", grid, pointing_radians(obs.get_pointing_icrs(obs.tmid)))
    assert pending is not None
    assert worker.try_submit(task, "a-grid", grid, (0.0, 0.0)) is None  # one request at a time
    os.kill(worker.pid, 9)
    with pytest.raises(bw.WorkerLost):
        pending.result()
    assert worker.broken and worker.try_submit(task, "a-grid", grid, (0.0, 0.0)) is None


def test_no_room_for_the_shared_file_uses_the_calling_process(store, geom, worker, monkeypatch):
    def full(size):
        raise OSError(28, "No space left on device")

    expected = _backgrounds(store, geom, threads=1)
    monkeypatch.setattr(bw, "_Buffer", full)
    worker._buffer = None
    before = worker.completed
    got = _backgrounds(store, geom)
    assert worker.completed == before and not worker.broken  # the process stays available
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_shared_file_falls_back_to_the_temporary_directory(monkeypatch):
    real = os.posix_fallocate

    def no_shm(fd, offset, size):
        if os.readlink(f"/proc/self/fd/{fd}").startswith("/dev/shm"):
            raise OSError(28, "No space left on device")
        return real(fd, offset, size)

    monkeypatch.setattr(os, "posix_fallocate", no_shm)
    buffer = bw._Buffer(1 << 20)
    try:
        assert not str(buffer.path).startswith("/dev/shm") and buffer.path.stat().st_size == 1 << 20
        assert not [p for p in os.listdir("/dev/shm") if p.startswith("dl3lab-bkg-") and p in str(buffer.path)]
    finally:
        buffer.close()
    assert not buffer.path.exists()
