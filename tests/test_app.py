"""``dl3lab app``: Voilà on 127.0.0.1 runs the app notebook, the command prints the URL, the URL answers,
and stopping the command stops the server; Aladin Lite is served locally from the npm package."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from ipyaladin import Aladin

from dl3lab.app import ALADIN_LITE_VERSION, AppError, StaticServer, find_app_notebook, install_aladin_lite
from dl3lab.widgets.sky_view import ALADIN_LITE_CDN

ROOT = Path(__file__).resolve().parent.parent
ALADIN_CACHE = ROOT / ".cache" / "aladin-lite"


def start_app(args, env):
    """Start ``dl3lab app`` and return the process and a queue receiving its output lines."""
    command = [sys.executable, "-m", "dl3lab.cli", "app", "--no-browser", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=ROOT)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return process, lines


def wait_for_url(lines, timeout=120):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith("    http://127.0.0.1:"):  # the command's own line (Voilà's is not indented)
            return line.strip(), seen
    raise AssertionError("no URL printed:\n" + "".join(seen))


def answers(port):
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_app_command_serves_the_notebook_and_stops(hess_dir, tmp_path):
    env = dict(os.environ, DL3LAB_CACHE=str(tmp_path / "cache"))
    process, lines = start_app(["--port", "0", "--aladin-lite", "cdn", "--data", str(hess_dir)], env)
    try:
        url, output = wait_for_url(lines)
        assert any("real H.E.S.S. DL3 DR1" in line for line in output)
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with urllib.request.urlopen(url, timeout=180) as response:
            assert response.status == 200
            page = response.read().decode()
        # the page is the app notebook, executed: its title and the widget's view are there, no traceback
        notebook = nbformat.read(find_app_notebook(), as_version=4)
        title = next(c.source for c in notebook.cells if c.cell_type == "markdown").splitlines()[0].lstrip("# ")
        assert title in page
        assert "application/vnd.jupyter.widget-view+json" in page
        assert "Traceback" not in page
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    assert not answers(port), "Voilà still answers after the command was stopped"


def test_app_command_refuses_a_busy_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, DL3LAB_CACHE=str(tmp_path / "cache"))
        done = subprocess.run([sys.executable, "-m", "dl3lab.cli", "app", "--no-browser", "--port", str(port),
                               "--aladin-lite", "cdn", "--notebook", str(find_app_notebook())],
                              capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert f"cannot use port {port}" in done.stderr


def test_local_aladin_lite_is_the_version_ipyaladin_imports_and_is_served_with_cors():
    assert f"aladin-lite@{ALADIN_LITE_VERSION}" in ALADIN_LITE_CDN
    assert ALADIN_LITE_CDN in str(Aladin._esm)
    script = install_aladin_lite(root=ALADIN_CACHE)
    package = json.loads((script.parents[1] / "package.json").read_text())
    assert package["name"] == "aladin-lite" and package["version"] == ALADIN_LITE_VERSION
    with StaticServer(script.parent) as server:
        request = urllib.request.Request(f"{server.url}{script.name}", headers={"Origin": "http://127.0.0.1:1"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "javascript" in response.headers["Content-Type"]
            assert response.read() == script.read_bytes()


def test_missing_npm_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AppError, match="npm is needed"):
        install_aladin_lite(root=tmp_path / "aladin")


def test_kernels_load_the_aladin_lite_named_by_the_environment():
    url = "http://127.0.0.1:1/aladin.js"
    code = "from dl3lab.widgets.sky_view import SkyView; print(SkyView()._esm)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                          env=dict(os.environ, DL3LAB_ALADIN_LITE_URL=url))
    assert f'from"{url}"' in done.stdout.replace(" ", "")
    assert ALADIN_LITE_CDN not in done.stdout
