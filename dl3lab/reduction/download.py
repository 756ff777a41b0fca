"""Download the public H.E.S.S. DL3 DR1 data, verified against SHA-256 checksums shipped with dl3lab.

Every file is streamed into a temporary file beside its target, hashed while it
arrives, and renamed into place only when its checksum matches, so a target file
that exists is always complete and verified. Files already present with the right
checksum are skipped. Only the standard library is used for HTTP.

The data are licensed CC BY 4.0 (attribution: *HESS DL3 DR1, H.E.S.S. collaboration*);
their ``README.txt``, which holds the terms of use, is always downloaded with them.
"""

import contextlib
import hashlib
import ipaddress
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import DownloadError

__all__ = [
    "DATASET",
    "DEFAULT_BASE_URL",
    "URL_ENV",
    "CRAB_RUNS",
    "DownloadResult",
    "download_dataset",
    "read_checksums",
    "select_files",
    "resolve_base_url",
]

#: Name of the dataset (and of its directory in the cache).
DATASET = "hess-dl3-dr1"
#: Where gammapy-data publishes the dataset.
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/gammapy/gammapy-data/master/hess-dl3-dr1/"
#: Environment variable overriding the base URL.
URL_ENV = "DL3LAB_DOWNLOAD_URL"
#: The four Crab runs of the tutorials.
CRAB_RUNS = (23523, 23526, 23559, 23592)
#: Files downloaded whatever the run selection (the licence first).
INDEX_FILES = ("README.txt", "README.md", "obs-index.fits.gz", "hdu-index.fits.gz")
#: The checksum list shipped with dl3lab (package data of ``dl3lab``).
SHIPPED_CHECKSUMS = Path(__file__).resolve().parent.parent / "data" / f"{DATASET}.sha256"
_RUN_FILE = "data/hess_dl3_dr1_obs_id_{:06d}.fits.gz"
_CHUNK = 1 << 16


@dataclass
class DownloadResult:
    """Files fetched and files skipped (already present and valid), relative to ``dest``."""

    dest: Path
    downloaded: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __str__(self):
        return (f"{DATASET} in {self.dest}: {len(self.downloaded)} file(s) downloaded, "
                f"{len(self.skipped)} already present and verified")


def _safe_name(name, source):
    """Relative POSIX path of a list entry; names that could leave the target directory are refused."""
    text = name.strip()
    path = PurePosixPath(text)
    bad = (
        not text
        or "\\" in text
        or "\x00" in text
        or path.is_absolute()
        or text.startswith("~")
        or ":" in path.parts[0]
        or any(part in ("..", ".") for part in path.parts)
    )
    if bad:
        raise DownloadError(f"refusing unsafe file name {name!r} in {source} (must stay inside the target directory)")
    return path.as_posix()


def read_checksums(path=None):
    """``{relative path: sha256}`` from a ``sha256sum``-style list (default: the one shipped with dl3lab).

    Raises
    ------
    DownloadError
        For a malformed line or a name that is absolute or contains ``..``.
    """
    if path is None:
        text, source = SHIPPED_CHECKSUMS.read_text(encoding="utf-8"), f"the {DATASET} checksum list shipped with dl3lab"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    checksums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise DownloadError(f"{source}, line {number}: expected '<sha256>  <file name>', got {line!r}")
        checksums[_safe_name(parts[1].lstrip("*"), source)] = digest
    return checksums


def select_files(checksums, runs="crab"):
    """Names to download: the index files and README, plus the selected runs.

    Parameters
    ----------
    checksums : dict
        ``{name: sha256}`` from `read_checksums`.
    runs : {"crab", "all"}, str or sequence of int
        ``"crab"`` (the four Crab runs), ``"all"``, or observation ids (``"23523,23526"``).
    """
    if isinstance(runs, str) and runs.strip().lower() == "all":
        return list(checksums)
    if isinstance(runs, str) and runs.strip().lower() == "crab":
        ids = CRAB_RUNS
    else:
        try:
            ids = [int(r) for r in (runs.split(",") if isinstance(runs, str) else runs) if str(r).strip()]
        except ValueError:
            message = f"--runs must be 'crab', 'all' or comma-separated observation ids, got {runs!r}"
            raise DownloadError(message) from None
    names = [name for name in INDEX_FILES if name in checksums]
    unknown = [obs_id for obs_id in ids if _RUN_FILE.format(obs_id) not in checksums]
    names += [_RUN_FILE.format(obs_id) for obs_id in ids if obs_id not in unknown]
    if unknown:
        raise DownloadError(f"observation(s) {unknown} are not part of {DATASET}")
    return names


def _is_loopback(host):
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url=None):
    """The base URL: the argument, else ``$DL3LAB_DOWNLOAD_URL``, else `DEFAULT_BASE_URL` (with a final ``/``).

    Only ``https`` is accepted, and plain ``http`` for the local machine (tests).
    """
    url = base_url or os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        return url if url.endswith("/") else url + "/"
    raise DownloadError(f"download URL must use https (or http on this machine), got {url!r}")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _target(dest, name):
    target = (dest / name).resolve()
    if not target.is_relative_to(dest):
        raise DownloadError(f"refusing to write {name!r} outside {dest}")
    return target


def _fetch(url, target, expected, name, timeout, progress):
    """Stream ``url`` into a temporary file beside ``target``; rename it there if its SHA-256 is ``expected``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                    for block in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(block)
                        out.write(block)
                        if progress is not None:
                            progress.update(len(block))
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"{name}: HTTP {exc.code} {exc.reason} from {url}") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise DownloadError(f"{name}: cannot download from {url} ({exc})") from exc
        got = digest.hexdigest()
        if got != expected:
            raise DownloadError(
                f"{name}: checksum mismatch for the file from {url} (expected sha256 {expected}, got {got}); "
                "nothing was written"
            )
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def download_dataset(dest=None, runs="crab", base_url=None, quiet=False, overwrite=False, checksums=None,
                     timeout=60):
    """Download HESS DL3 DR1 files into ``dest`` and verify them.

    Parameters
    ----------
    dest : path, optional
        Target directory (default: the dl3lab cache, ``$DL3LAB_CACHE/hess-dl3-dr1``).
    runs : {"crab", "all"}, str or sequence of int
        Runs to fetch besides the index files and READMEs.
    base_url : str, optional
        Where the files are (default: ``$DL3LAB_DOWNLOAD_URL`` or `DEFAULT_BASE_URL`).
    quiet : bool
        No progress bar.
    overwrite : bool
        Replace a present file whose checksum does not match (otherwise that is an error).
    checksums : path or dict, optional
        Checksum list (default: the one shipped with dl3lab).
    timeout : float
        Network timeout per request (s).

    Returns
    -------
    `DownloadResult`

    Raises
    ------
    DownloadError
        On a network error, a checksum mismatch (the file is not kept), an unsafe file
        name, or a present file that does not match without ``overwrite``.
    """
    from .example_data import download_cache_dir

    table = checksums if isinstance(checksums, dict) else read_checksums(checksums)
    table = {_safe_name(name, "the checksum list"): digest for name, digest in table.items()}
    names = select_files(table, runs)
    url = resolve_base_url(base_url)
    dest = Path(dest).expanduser() if dest is not None else download_cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    targets = {name: _target(dest, name) for name in names}
    result = DownloadResult(dest)
    todo = []
    for name in names:
        target = targets[name]
        if target.exists():
            if _sha256(target) == table[name]:
                result.skipped.append(name)
                continue
            if not overwrite:
                raise DownloadError(f"{name}: {target} exists but its checksum does not match; "
                                    "use --overwrite (overwrite=True) to replace it")
        todo.append(name)
    progress = None
    if todo and not quiet:
        from tqdm.auto import tqdm

        progress = tqdm(total=None, unit="B", unit_scale=True, desc=DATASET)
    try:
        for name in todo:
            if progress is not None:
                progress.set_postfix_str(name, refresh=False)
            _fetch(url + urllib.parse.quote(name), targets[name], table[name], name, timeout, progress)
            result.downloaded.append(name)
    finally:
        if progress is not None:
            progress.close()
    return result
