"""The app in a real browser: Debian's Chromium, driven by Playwright, on a Voilà server on 127.0.0.1.

The test set-up installs what it needs when it is missing: Debian's ``chromium`` package
(``apt-get``; set ``DL3LAB_CHROMIUM`` to use another binary) and the ``aladin-lite`` npm
package in ``.cache/aladin-lite`` of the checkout. Playwright drives the browser through
``executable_path``; it never downloads a browser of its own. The test starts the app
(Voilà on the app notebook, Aladin Lite served from 127.0.0.1) and stops it at the end;
screenshots go to ``test-output/screenshots`` (``DL3LAB_TEST_OUTPUT`` moves the folder).

Errors and the network
----------------------
The test works offline: every request to a host other than 127.0.0.1 is aborted by a
Playwright route and recorded. Only Aladin Lite's sky survey (HiPS tiles, the survey
registry it asks to resolve survey names, its start-up logger) and Voilà's Font Awesome
stylesheet go there. Any uncaught page error, any console error, any failed request or
HTTP error status from 127.0.0.1 fails the test, except what follows from those blocked
requests and is identified as such:

- the console's "Failed to load resource" for a blocked URL;
- errors that name a blocked host, or a survey whose look-up went through a blocked host
  (Aladin Lite's default survey ``P/DSS2/color``), or are ``TypeError: Failed to fetch``
  (a failed fetch; a failed local request fails the test on its own);
- the answer to Aladin Lite's last attempt, when its survey registry is unreachable, to
  read that survey name as a path of the page's server
  (``/voila/files/P/DSS2/color/properties``, which Voilà refuses);
- once a survey request was blocked, Aladin Lite's ``TypeError`` on reading
  ``longitudeReversed`` of an undefined base image layer: ipyaladin asks for the view's
  WCS when the view moves, and Aladin Lite builds it from the base survey layer, which
  does not exist when the survey could not load (how often this happens depends on
  timing).

Every excused message is written to ``excused-console.txt`` beside the screenshots.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dl3lab.app import AppServer, StaticServer, install_aladin_lite

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DL3LAB_CHROMIUM", "/usr/bin/chromium")
#: Aladin Lite's default survey: when the survey registry is blocked, it is looked up by name as a local path.
OFFLINE_SURVEYS = ("P/DSS2/color",)
#: Milliseconds to wait for the first page (a kernel starts and runs the whole notebook).
PAGE_TIMEOUT = 240_000
#: Milliseconds to wait for the app to react to a change.
UPDATE_TIMEOUT = 90_000
LOCAL = re.compile(r"^https?://127\.0\.0\.1(:\d+)?/")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic"]

# Records Aladin Lite's layer events (dispatched on the view's element; captured on the way down).
TRACK_SKY_LAYERS = """
window.__skyEvents = [];
for (const type of ["AL:Layer.added", "AL:Layer.removed", "AL:GraphicOverlayLayer.added",
                    "AL:GraphicOverlayLayer.removed"]) {
  document.addEventListener(type, (event) => {
    const detail = event.detail || {};
    const layer = detail.layer || {};
    const name = detail.overlay ? detail.overlay.name : (typeof layer === "string" ? layer : layer.layer);
    window.__skyEvents.push({type: type.slice(3), name: String(name)});
  }, true);
}
"""


def output_dir():
    path = Path(os.environ.get("DL3LAB_TEST_OUTPUT", ROOT / "test-output")) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _apt_install(package):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode == 0:
        return
    subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"apt-get install {package} failed:\n{done.stderr[-2000:]}")


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium (installed with apt-get when missing and allowed)."""
    path = Path(CHROMIUM)
    if not path.exists():
        if "DL3LAB_CHROMIUM" in os.environ or os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail(f"Chromium not found at {path}: install Debian's chromium package or set DL3LAB_CHROMIUM")
        _apt_install("chromium")
    return str(path)


@pytest.fixture(scope="module")
def app(hess_dir, tmp_path_factory):
    """The app on 127.0.0.1, with Aladin Lite from the npm package served locally; yields its URL."""
    script = install_aladin_lite(root=ROOT / ".cache" / "aladin-lite")
    cache = tmp_path_factory.mktemp("dl3lab-cache")
    with StaticServer(script.parent) as static:
        server = AppServer(port=0, data=hess_dir, aladin_lite_url=f"{static.url}{script.name}",
                           log=output_dir() / "voila.log", env={"DL3LAB_CACHE": str(cache)})
        with server:
            yield server.url


class Console:
    """Collects what the page reports, sorts out what the offline rule excuses, keeps the rest."""

    def __init__(self, page, origin):
        self.origin = origin
        self.blocked, self.errors, self.excused = [], [], []
        page.route(lambda url: url.startswith(("http:", "https:")) and not LOCAL.match(url), self._block)
        page.on("pageerror", lambda error: self._check(f"page error: {error}", str(error)))
        page.on("console", self._console)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _block(self, route):
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def _offline_consequence(self, text):
        hosts = {urlsplit(url).hostname for url in self.blocked}
        survey_blocked = any("/properties" in url or "/MocServer/" in url for url in self.blocked)
        no_base_layer = survey_blocked and "reading 'longitudeReversed'" in text
        return bool(self.blocked) and ("Failed to fetch" in text or any(h in text for h in hosts)
                                       or any(s in text for s in OFFLINE_SURVEYS) or no_base_layer)

    def _survey_as_local_path(self, url):
        return url.startswith(self.origin) and any(f"/{s}/properties" in url for s in OFFLINE_SURVEYS)

    def _check(self, report, text, excused=None):
        if excused if excused is not None else self._offline_consequence(text):
            self.excused.append(report)
        else:
            self.errors.append(report)

    def _console(self, message):
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        report = f"console error: {message.text} ({url})"
        if message.text.startswith("Failed to load resource"):
            self._check(report, message.text, excused=url in self.blocked or self._survey_as_local_path(url))
        else:
            self._check(report, message.text)

    def _request_failed(self, request):
        if LOCAL.match(request.url):
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if LOCAL.match(response.url) and response.status >= 400:
            self._check(f"HTTP {response.status}: {response.url}", response.url,
                        excused=self._survey_as_local_path(response.url))

    def write(self, path):
        lines = [f"blocked: {url}" for url in self.blocked] + [f"excused: {e}" for e in self.excused]
        path.write_text("\n".join(lines) + "\n")


def sky_events(page, type_, name):
    return page.evaluate("([t, n]) => window.__skyEvents.filter(e => e.type === t && e.name === n).length",
                         [type_, name])


def wait_for_more(page, type_, name, than):
    page.wait_for_function("([t, n, k]) => window.__skyEvents.filter(e => e.type === t && e.name === n).length > k",
                           arg=[type_, name, than], timeout=UPDATE_TIMEOUT)


def line_paths(page, selector):
    """The ``d`` attributes of the bqplot lines under ``selector``."""
    return page.locator(f"{selector} path.line").evaluate_all("paths => paths.map(p => p.getAttribute('d'))")


def zoom_out(page, selector, notches):
    """Turn the mouse wheel over the element (Aladin Lite zooms out)."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(notches):
        page.mouse.wheel(0, 200)
        page.wait_for_timeout(200)


def show_tab(page, title):
    page.get_by_role("tab", name=title).click()


def test_app_in_chromium(chromium, app):
    from playwright.sync_api import sync_playwright

    shots = output_dir()
    for old in shots.glob("*.png"):
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.add_init_script(TRACK_SKY_LAYERS)
            console = Console(page, app.rstrip("/"))
            page.goto(app, wait_until="domcontentloaded")

            # The notebook ran; the sky view and the first result are there.
            page.wait_for_selector(".dl3lab-sky-view canvas", state="visible", timeout=PAGE_TIMEOUT)
            status = page.locator(".dl3lab-status")
            page.wait_for_function("() => document.querySelector('.dl3lab-status').innerText.startsWith('done')",
                                   timeout=PAGE_TIMEOUT)
            for name in ("geometry", "pointings", "exclusion"):
                wait_for_more(page, "GraphicOverlayLayer.added", name, 0)
            wait_for_more(page, "Layer.added", "result", 0)
            zoom_out(page, ".dl3lab-sky-view", notches=3)  # the whole footprint in view
            page.wait_for_timeout(1500)  # let Aladin Lite draw the image
            page.screenshot(path=shots / "1-sky.png")

            # Show the safe mask as the sky view's result layer.
            results = sky_events(page, "Layer.added", "result")
            page.locator(".dl3lab-image-choice select").select_option("safe_mask")
            wait_for_more(page, "Layer.added", "result", results)
            page.wait_for_timeout(1500)
            page.screenshot(path=shots / "2-sky-safe-mask.png")

            show_tab(page, "Spectrum")
            page.wait_for_selector(".dl3lab-profile-plot path.line", state="visible", timeout=UPDATE_TIMEOUT)
            assert any(line_paths(page, ".dl3lab-profile-plot"))
            page.screenshot(path=shots / "3-spectrum.png")

            show_tab(page, "Safe mask")
            page.wait_for_selector(".dl3lab-safe-plots path.line", state="visible", timeout=UPDATE_TIMEOUT)
            safe_before = line_paths(page, ".dl3lab-safe-plots")
            assert any(safe_before)
            page.screenshot(path=shots / "4-safe-mask-plots.png")

            show_tab(page, "Summary")
            summary = page.locator(".dl3lab-summary")
            summary_before = summary.inner_text()
            assert "counts" in summary_before.lower()
            show_tab(page, "Safe mask")

            # Move the aeff_percent slider with the keyboard: 20 pages of 5 steps of 0.5 %, 10 % -> 60 %, which
            # moves the energy threshold into the dataset's energy range (it starts at 1 TeV).
            slider = page.locator(".dl3lab-control-aeff_percent")
            readout = slider.locator(".widget-readout")
            value_before = float(readout.inner_text())
            results = sky_events(page, "Layer.added", "result")
            status_before = status.inner_text()
            handle = slider.locator(".noUi-handle")
            handle.focus()
            for _ in range(20):
                handle.press("PageUp")
            assert float(readout.inner_text()) == pytest.approx(value_before + 50.0)

            # The app re-ran: a plot was redrawn, the sky view's safe-mask layer replaced, the summary changed.
            page.wait_for_function("([before]) => { const s = document.querySelector('.dl3lab-status').innerText;"
                                   " return s !== before && s.startsWith('done'); }", arg=[status_before],
                                   timeout=UPDATE_TIMEOUT)
            page.wait_for_function(
                "([before]) => { const now = [...document.querySelectorAll('.dl3lab-safe-plots path.line')]"
                ".map(p => p.getAttribute('d')); return JSON.stringify(now) !== JSON.stringify(before); }",
                arg=[safe_before], timeout=UPDATE_TIMEOUT)
            page.wait_for_timeout(500)
            page.screenshot(path=shots / "5-safe-mask-plots-after.png")
            wait_for_more(page, "Layer.added", "result", results)
            show_tab(page, "Summary")
            page.wait_for_function("([before]) => document.querySelector('.dl3lab-summary').innerText !== before",
                                   arg=[summary_before], timeout=UPDATE_TIMEOUT)
            assert summary.inner_text() != summary_before
            page.screenshot(path=shots / "6-summary-after.png")
            show_tab(page, "Sky")
            page.wait_for_timeout(1500)
            page.screenshot(path=shots / "7-sky-safe-mask-after.png")
            time.sleep(0.5)  # late console messages
        finally:
            browser.close()
    console.write(shots / "excused-console.txt")
    assert not console.errors, "\n".join(console.errors)
