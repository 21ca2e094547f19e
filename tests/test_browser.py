"""The widgets in a real JupyterLab, driven by headless Chromium through Playwright.

The widget unit tests drive the Python side only; this test proves that the widgets render in the
browser and answer a student's clicks: JupyterLab is started on 127.0.0.1, a notebook that shows
nnlib's explorers is run there, a control is moved with the keyboard, and the picture or text the
widget shows must change. Chromium comes from the system (Debian package ``chromium``); it is
never downloaded. Without it the test is skipped, except under CI, where it must run.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "nnlib-browser-test"


def _browser_unavailable_reason():
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[browser]')"
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (Debian: apt-get install chromium)"
    return None


_reason = _browser_unavailable_reason()
if _reason and os.environ.get("CI") == "true":
    raise RuntimeError(f"the browser test must run in CI, but {_reason}")
needs_chromium = pytest.mark.skipif(_reason is not None, reason=_reason or "")
pytestmark = [pytest.mark.slow, needs_chromium]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a temporary folder; yields (url, folder)."""
    folder = tmp_path_factory.mktemp("lab")
    port = _free_port()
    log_path = folder / "server.log"
    with open(log_path, "w") as log:  # the server keeps its own copy of the file handle
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", f"--IdentityProvider.token={TOKEN}", "--allow-root",
             f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True"],
            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + log_path.read_text())
                time.sleep(0.3)
        yield url, folder
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


KERNEL_READY = """name => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.context && panel.context.path === name
                   && panel.sessionContext.session && panel.sessionContext.session.kernel;
    return Boolean(kernel) && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def open_and_run(browser, jupyterlab, cells, name):
    """Write a notebook of `cells`, open it in JupyterLab, run all cells; return the page."""
    url, folder = jupyterlab
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, folder / name)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # ?reset: a fresh workspace, so that the notebooks of earlier tests are not reopened
    page.goto(f"{url}/lab/tree/{name}?reset&token={TOKEN}")
    page.wait_for_function(KERNEL_READY, arg=name, timeout=90_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def assert_no_error_output(page):
    errors = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, "a cell printed to stderr:\n" + "\n".join(errors.all_inner_texts())


def test_softmax_explorer_redraws_when_the_temperature_slider_moves(browser, jupyterlab, tmp_path):
    page = open_and_run(browser, jupyterlab, [
        "from nnlib.widgets import softmax_explorer\nsoftmax_explorer()"], "softmax.ipynb")
    result = page.locator(".widget-html", has_text="p = [")
    result.wait_for(timeout=90_000)
    assert "p = [0.002, 0.016, 0.117, 0.865]" in result.inner_text()  # softmax([2, 4, 6, 8])
    picture = page.locator("img.widget-image").first
    picture_before = picture.get_attribute("src")

    temperature = page.locator(".widget-slider", has_text="T").locator(".noUi-handle").first
    temperature.focus()
    page.keyboard.press("Home")  # T = 0.1: the largest logit takes (almost) everything
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')]"
        ".some(e => e.innerText.includes('p = [0.000, 0.000, 0.000, 1.000]'))", timeout=30_000)
    page.wait_for_function(
        "before => document.querySelector('img.widget-image').src !== before",
        arg=picture_before, timeout=30_000)
    page.screenshot(path=tmp_path / "softmax_explorer.png")
    assert_no_error_output(page)
    page.close()


def test_shape_explorer_reports_numpys_verdict(browser, jupyterlab, tmp_path):
    page = open_and_run(browser, jupyterlab, [
        "from nnlib.widgets import shape_explorer\nshape_explorer()"], "shapes.ipynb")
    verdict = page.locator(".widget-html", has_text="B.shape")
    verdict.wait_for(timeout=90_000)
    assert "result shape (2, 4)" in verdict.inner_text()  # (2, 3) @ (3, 4)

    operation = page.locator(".widget-dropdown", has_text="operation").locator("select")
    operation.select_option(label="A * B   (elementwise)")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')]"
        ".some(e => e.innerText.includes('could not be broadcast'))", timeout=30_000)
    page.screenshot(path=tmp_path / "shape_explorer.png")
    assert_no_error_output(page)
    page.close()


MONITOR_CELL = """\
import numpy as np
from nnlib import Dense, ReLU, Sequential
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.widgets import TrainingMonitor
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 2))
y = (X[:, 0] > 0).astype(int)
network = Sequential([Dense(2, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng)],
                     loss=SoftmaxCrossEntropy())
history = network.fit(X, y, epochs=4, batch_size=32, rng=rng, verbose=0,
                      callbacks=[TrainingMonitor()])
"""


def test_training_monitor_shows_its_widget_not_its_text_fallback(browser, jupyterlab, tmp_path):
    page = open_and_run(browser, jupyterlab, [MONITOR_CELL], "monitor.ipynb")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')]"
        ".some(e => e.innerText.includes('epoch 4/4: loss'))", timeout=90_000)
    page.locator(".widget-hprogress .progress-bar-success").wait_for(timeout=30_000)
    # the output is re-published after every epoch, with its text for viewers without widgets;
    # JupyterLab must still show exactly one live box, and never that text
    assert page.locator(".jp-OutputArea-output .widget-hprogress").count() == 1
    assert page.locator(".jp-OutputArea-output img.widget-image").count() == 1
    assert page.locator('[data-mime-type="text/plain"]').count() == 0
    assert "Loading widget" not in page.locator(".jp-Notebook").inner_text()
    page.screenshot(path=tmp_path / "training_monitor.png")
    assert_no_error_output(page)
    page.close()
