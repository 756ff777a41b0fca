"""``dl3lab download hess-dl3-dr1`` against a local HTTP server serving a copy of part of the data."""

import functools
import hashlib
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dl3lab.reduction import DataStore
from dl3lab.reduction.download import (
    CRAB_RUNS,
    DEFAULT_BASE_URL,
    URL_ENV,
    download_dataset,
    read_checksums,
    resolve_base_url,
    select_files,
)
from dl3lab.reduction.errors import DL3LabError, DownloadError

SERVED = ["README.txt", "README.md", "obs-index.fits.gz", "hdu-index.fits.gz"] + [
    f"data/hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz" for obs_id in CRAB_RUNS
]
RUN = "data/hess_dl3_dr1_obs_id_023592.fits.gz"


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(hess_dir, tmp_path):
    """A local HTTP server on 127.0.0.1 serving a copy of the index files, READMEs and the Crab runs."""
    root = tmp_path / "served"
    for name in SERVED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(hess_dir / name, root / name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _leftovers(dest):
    return [p for p in dest.rglob("*") if p.name.endswith(".part")]


def test_good_download_is_verified_and_identical(server, hess_dir, tmp_path):
    url, _, _ = server
    dest = tmp_path / "dest"
    result = download_dataset(dest=dest, runs="crab", base_url=url, quiet=True)
    assert sorted(result.downloaded) == sorted(SERVED) and result.skipped == []
    for name in SERVED:
        assert (dest / name).read_bytes() == (hess_dir / name).read_bytes(), name
    assert "CC BY 4.0" in (dest / "README.md").read_text() and "H.E.S.S." in (dest / "README.txt").read_text()
    assert not _leftovers(dest)
    obs = DataStore.from_dir(dest).obs(23523)
    assert len(obs.events) > 0


def test_present_valid_files_are_skipped(server, tmp_path):
    url, _, httpd = server
    dest = tmp_path / "dest"
    download_dataset(dest=dest, runs="23523,23592", base_url=url, quiet=True)
    n_requests = len(httpd.requests)
    again = download_dataset(dest=dest, runs=[23523, 23592], base_url=url, quiet=True)
    assert again.downloaded == [] and len(again.skipped) == 6
    assert len(httpd.requests) == n_requests
    more = download_dataset(dest=dest, runs="crab", base_url=url, quiet=False)
    assert sorted(more.downloaded) == sorted(f"data/hess_dl3_dr1_obs_id_{i:06d}.fits.gz" for i in (23526, 23559))


def test_corrupted_file_on_the_server_is_not_kept(server, tmp_path):
    url, root, _ = server
    data = bytearray((root / RUN).read_bytes())
    data[1000] ^= 0xFF
    (root / RUN).write_bytes(bytes(data))
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match="hess_dl3_dr1_obs_id_023592.fits.gz.*checksum mismatch"):
        download_dataset(dest=dest, runs="crab", base_url=url, quiet=True)
    assert not (dest / RUN).exists()
    assert not _leftovers(dest)


def test_wrong_checksum_is_refused(server, tmp_path):
    url, _, _ = server
    checksums = read_checksums()
    checksums["README.txt"] = hashlib.sha256(b"something else").hexdigest()
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match="README.txt"):
        download_dataset(dest=dest, runs="23523", base_url=url, quiet=True, checksums=checksums)
    assert not (dest / "README.txt").exists()
    assert not _leftovers(dest)


@pytest.mark.parametrize("name", ["../evil.txt", "data/../../evil.txt", "/evil.txt", "..\\evil.txt", "~/evil"])
def test_path_traversal_is_refused(server, tmp_path, name):
    url, _, httpd = server
    listing = tmp_path / "list.sha256"
    listing.write_text(f"{hashlib.sha256(b'x').hexdigest()}  {name}\n")
    dest = tmp_path / "inner" / "dest"
    with pytest.raises(DownloadError, match="unsafe"):
        download_dataset(dest=dest, runs="all", base_url=url, quiet=True, checksums=listing)
    with pytest.raises(DownloadError, match="unsafe"):
        download_dataset(dest=dest, runs="all", base_url=url, quiet=True, checksums={name: "0" * 64})
    assert httpd.requests == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "inner" / "evil.txt").exists()


def test_present_invalid_file_needs_overwrite(server, hess_dir, tmp_path):
    url, _, _ = server
    dest = tmp_path / "dest"
    (dest / "data").mkdir(parents=True)
    (dest / RUN).write_bytes(b"not the run")
    with pytest.raises(DownloadError, match="overwrite"):
        download_dataset(dest=dest, runs="23592", base_url=url, quiet=True)
    assert (dest / RUN).read_bytes() == b"not the run"
    download_dataset(dest=dest, runs="23592", base_url=url, quiet=True, overwrite=True)
    assert (dest / RUN).read_bytes() == (hess_dir / RUN).read_bytes()


def test_missing_file_on_the_server(server, tmp_path):
    url, root, _ = server
    (root / RUN).unlink()
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_dataset(dest=tmp_path / "dest", runs="23592", base_url=url, quiet=True)


def test_base_url_and_run_selection(monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)
    assert resolve_base_url() == DEFAULT_BASE_URL
    assert DEFAULT_BASE_URL.startswith("https://")
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:8000/mirror")
    assert resolve_base_url() == "http://127.0.0.1:8000/mirror/"
    for bad in ("http://example.org/data/", "ftp://127.0.0.1/x/", "file:///tmp/x/"):
        with pytest.raises(DownloadError, match="https"):
            resolve_base_url(bad)
    checksums = read_checksums()
    assert len(checksums) == 109 and "README.txt" in checksums
    assert len(select_files(checksums, "all")) == 109
    assert select_files(checksums, "crab")[0] == "README.txt"
    assert len(select_files(checksums, "23523, 23592")) == 6
    with pytest.raises(DownloadError, match="99999"):
        select_files(checksums, "23523,99999")
    with pytest.raises(DownloadError, match="--runs"):
        select_files(checksums, "crab-nebula")
    assert issubclass(DownloadError, DL3LabError)


def test_shipped_checksums_match_the_shared_copy(hess_dir):
    checksums = read_checksums()
    for name in ("README.txt", "obs-index.fits.gz", "hdu-index.fits.gz", RUN):
        assert hashlib.sha256((hess_dir / name).read_bytes()).hexdigest() == checksums[name]
    runs = [name for name in checksums if name.startswith("data/")]
    assert len(runs) == 105 and sorted(runs) == sorted(f"data/{p.name}" for p in (hess_dir / "data").glob("*.fits.gz"))


def test_cli_download(server, tmp_path, monkeypatch, capsys):
    from dl3lab.cli import main

    url, root, _ = server
    monkeypatch.setenv(URL_ENV, url)
    dest = tmp_path / "cli"
    assert main(["download", "hess-dl3-dr1", "--dest", str(dest), "--runs", "23523", "--quiet"]) == 0
    assert "5 file(s) downloaded" in capsys.readouterr().out
    (root / "README.md").write_text("changed")
    (dest / "README.md").unlink()
    assert main(["download", "hess-dl3-dr1", "--dest", str(dest), "--runs", "23523", "--quiet"]) == 1
    assert "README.md" in capsys.readouterr().err
