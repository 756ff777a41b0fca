"""``dl3lab app``: the interactive reduction app, served by Voilà on 127.0.0.1.

Voilà runs the app notebook (``notebooks/02-interactive-pipeline.ipynb``) in a fresh
kernel for every page load and shows its widgets without the code. Aladin Lite, the
sky view's JavaScript library, normally comes from a CDN; when the ``aladin-lite``
npm package is installed in the dl3lab cache (:func:`install_aladin_lite`, which
``dl3lab app`` calls when ``npm`` is available) the app serves it from 127.0.0.1, so
that the app works without internet access (the sky survey tiles behind the maps
still need the network; the layers of dl3lab are drawn without them).
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import webbrowser
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .reduction.example_data import cache_dir

__all__ = [
    "ALADIN_LITE_VERSION",
    "APP_NOTEBOOK",
    "AppError",
    "AppServer",
    "StaticServer",
    "aladin_lite_file",
    "find_app_notebook",
    "install_aladin_lite",
    "add_app_parser",
    "run_app",
]

#: The Aladin Lite release that ipyaladin 0.8 imports (its CDN address names it).
ALADIN_LITE_VERSION = "3.9.2-beta"
#: The app notebook, relative to the checkout (or the working directory).
APP_NOTEBOOK = Path("notebooks") / "02-interactive-pipeline.ipynb"
#: Voilà's usual port.
DEFAULT_PORT = 8866
#: Seconds after which the kernel of a closed page is shut down.
CULL_IDLE_SECONDS = 300
_HOST = "127.0.0.1"


class AppError(RuntimeError):
    """The app cannot start (missing notebook, Voilà not installed, server died...)."""


# --------------------------------------------------------------------- Aladin Lite
def aladin_lite_file(root=None):
    """Path of ``aladin.js`` of the npm package in the cache (it may not exist yet).

    ``root`` defaults to ``<dl3lab cache>/aladin-lite/<version>``.
    """
    root = Path(root) if root is not None else cache_dir() / "aladin-lite" / ALADIN_LITE_VERSION
    return root / "node_modules" / "aladin-lite" / "dist" / "aladin.js"


def install_aladin_lite(root=None, npm=None, quiet=True):
    """Install the ``aladin-lite`` npm package into the cache (once) and return the path of ``aladin.js``.

    Raises `AppError` when ``npm`` is missing or the installation fails.
    """
    target = aladin_lite_file(root)
    if target.is_file():
        return target
    npm = npm or shutil.which("npm")
    if not npm:
        raise AppError("npm is needed to install Aladin Lite (the sky view's library); install Node.js and npm")
    prefix = target.parents[3]
    prefix.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(prefix), "--no-save", "--no-package-lock", "--ignore-scripts",
               "--no-audit", "--no-fund", f"aladin-lite@{ALADIN_LITE_VERSION}"]
    done = subprocess.run(command, capture_output=quiet, text=True, check=False)
    if done.returncode != 0 or not target.is_file():
        detail = (done.stderr or "").strip().splitlines()[-5:] if quiet else []
        raise AppError(f"could not install aladin-lite@{ALADIN_LITE_VERSION} into {prefix} with npm "
                       f"(exit {done.returncode})" + ("".join(f"\n  {line}" for line in detail)))
    return target


class _CorsHandler(SimpleHTTPRequestHandler):
    """Static files with ``Access-Control-Allow-Origin: *`` (the page imports them from another port)."""

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002  (quiet)
        pass


class StaticServer:
    """Serve a directory over HTTP on 127.0.0.1 (port 0: any free port) from a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, directory, port=0):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise AppError(f"cannot serve {self.directory}: not a directory")
        self._server = ThreadingHTTPServer((_HOST, port), partial(_CorsHandler, directory=str(self.directory)))
        self._server.daemon_threads = True
        self._thread = None

    @property
    def url(self):
        """Base URL, ending with ``/``."""
        return f"http://{_HOST}:{self._server.server_address[1]}/"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="dl3lab-static", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------------ Voilà
def find_app_notebook(path=None):
    """The app notebook: ``path`` if given, else the one of the checkout or of the working directory."""
    if path is not None:
        candidates = [Path(path)]
    else:
        candidates = [Path(__file__).resolve().parent.parent / APP_NOTEBOOK, Path.cwd() / APP_NOTEBOOK]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise AppError(f"app notebook not found (looked at {', '.join(str(c) for c in candidates)})")


def free_port():
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        return sock.getsockname()[1]


class AppServer:
    """A Voilà server on 127.0.0.1 running the app notebook, as a child process.

    Parameters
    ----------
    notebook : path-like, optional
        The notebook (default: :func:`find_app_notebook`).
    port : int
        Port (0: a free one).
    data : path-like, optional
        Data store for the notebook (``DL3LAB_DATA``); default: the example data.
    aladin_lite_url : str, optional
        Where the sky view loads Aladin Lite from (``DL3LAB_ALADIN_LITE_URL``);
        default: the CDN.
    log : path-like, optional
        File receiving Voilà's output (default: the parent's stdout and stderr).
    env : dict, optional
        Extra environment variables for the server and its kernels.

    Notes
    -----
    The notebook's ``python3`` kernel is this interpreter (a kernel spec in a temporary
    directory put first on ``JUPYTER_PATH``), whatever other kernel specs the user has.
    Kernels whose page was closed are shut down after `CULL_IDLE_SECONDS`.
    """

    def __init__(self, notebook=None, port=DEFAULT_PORT, data=None, aladin_lite_url=None, log=None, env=None):
        self.notebook = find_app_notebook(notebook)
        self.port = port or free_port()
        self.data = data
        self.aladin_lite_url = aladin_lite_url
        self.log = Path(log) if log is not None else None
        self.extra_env = dict(env or {})
        self.process = None
        self._log_file = None
        self._kernels = None

    @property
    def url(self):
        """The app's address."""
        return f"http://{_HOST}:{self.port}/"

    def command(self):
        """The Voilà command line."""
        cull = [f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
                "--MappingKernelManager.cull_interval=60"]
        return [sys.executable, "-m", "voila", str(self.notebook), "--no-browser", f"--port={self.port}",
                f"--Voila.ip={_HOST}", "--Voila.port_retries=0", "--show_tracebacks=True", *cull]

    def _kernel_path(self):
        """A directory with a ``python3`` kernel spec running this interpreter."""
        self._kernels = Path(tempfile.mkdtemp(prefix="dl3lab-app-"))
        spec = self._kernels / "kernels" / "python3"
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3 (dl3lab)",
                                                      "language": "python"}))
        return str(self._kernels)

    def _environment(self):
        env = dict(os.environ)
        env.update(self.extra_env)
        env["JUPYTER_PATH"] = os.pathsep.join([self._kernel_path(), *filter(None, [env.get("JUPYTER_PATH")])])
        if self.data is not None:
            env["DL3LAB_DATA"] = str(Path(self.data).resolve())
        if self.aladin_lite_url:
            env["DL3LAB_ALADIN_LITE_URL"] = self.aladin_lite_url
        return env

    def start(self, timeout=120):
        """Start Voilà and wait until it answers HTTP requests."""
        try:
            import voila  # noqa: F401
        except ImportError:
            raise AppError("Voilà is not installed: pip install 'dl3lab[app]'") from None
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Voilà does
            try:
                sock.bind((_HOST, self.port))
            except OSError as exc:
                raise AppError(f"cannot use port {self.port} on {_HOST} ({exc.strerror}): choose another with --port"
                               ) from None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log, "wb")  # noqa: SIM115  (closed in stop)
        output = self._log_file
        # A session of its own: Ctrl-C in a terminal reaches only the parent, which stops Voilà (and so its kernels).
        self.process = subprocess.Popen(self.command(), env=self._environment(), cwd=self.notebook.parent,
                                        stdout=output, stderr=subprocess.STDOUT if output else None,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        # Any HTTP answer will do; the page itself is not asked for, as it would start a kernel.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AppError(f"Voilà exited with code {self.process.returncode} before answering on {self.url}"
                               + (f"; see {self.log}" if self.log else ""))
            connection = http.client.HTTPConnection(_HOST, self.port, timeout=2)
            try:
                connection.request("GET", "/favicon.ico")
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
            finally:
                connection.close()
        raise AppError(f"Voilà did not answer on {self.url} within {timeout} s")

    def wait(self):
        """Block until the server exits; return its exit code."""
        return self.process.wait()

    def stop(self, timeout=20):
        """Stop the server (and its kernels)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._kernels is not None:
            shutil.rmtree(self._kernels, ignore_errors=True)
            self._kernels = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# -------------------------------------------------------------------- command
def _local_aladin_lite(mode):
    """``aladin.js`` to serve, or None for the CDN, following ``--aladin-lite``."""
    if mode == "cdn":
        return None
    try:
        return install_aladin_lite()
    except AppError as exc:
        if mode == "local":
            raise
        print(f"dl3lab app: {exc}; the sky view loads Aladin Lite from its CDN instead", file=sys.stderr)
        return None


def _has_display():
    """Whether a graphical browser can open (not in a terminal-only session, where it could be a text one)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def run_app(args):
    """Body of ``dl3lab app``: serve Aladin Lite (if local), start Voilà, print the URL, wait; the exit code."""
    try:
        return _run_app(args)
    except AppError as exc:
        print(f"dl3lab app: error: {exc}", file=sys.stderr)
        return 1


def _run_app(args):
    from .reduction.example_data import describe_data_store, find_example_data

    notebook = find_app_notebook(args.notebook)
    if args.data:
        data, what = Path(args.data), describe_data_store(args.data)
    else:
        found = find_example_data()
        data, what = found.path, found.description
    signal.signal(signal.SIGTERM, _exit_on_signal)  # stop Voilà and its kernels when terminated
    script = _local_aladin_lite(args.aladin_lite)
    static = StaticServer(script.parent).start() if script else None
    server = AppServer(notebook, port=args.port, data=data,
                       aladin_lite_url=f"{static.url}{script.name}" if static else None)
    try:
        server.start(timeout=args.timeout)
        print(f"dl3lab app: {notebook.name} on {data}\nData: {what}\n"
              f"Aladin Lite: {static.url if static else 'CDN'}\n\n    {server.url}\n\n(Ctrl-C stops the app)",
              flush=True)
        if not args.no_browser and _has_display():
            webbrowser.open(server.url)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
        if static is not None:
            static.stop()


def add_app_parser(sub):
    """Add the ``app`` sub-command to the ``dl3lab`` argument parser."""
    p = sub.add_parser("app", help="start the interactive reduction app (Voila on 127.0.0.1) and print its URL")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--data", help="data store directory (default: DL3LAB_DATA or the example data)")
    p.add_argument("--notebook", help=f"notebook to serve (default: {APP_NOTEBOOK.as_posix()})")
    p.add_argument("--aladin-lite", choices=("auto", "local", "cdn"), default="auto",
                   help="serve Aladin Lite from the npm package on 127.0.0.1 ('local'), load it from its CDN "
                        "('cdn'), or local when npm can install it ('auto', the default)")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for the server (default 120)")
    p.set_defaults(func=run_app)
