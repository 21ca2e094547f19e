"""Lesson 04b in a real JupyterLab: draw digits with the mouse and read the pad's prediction.

The server, the browser and the skip rules are those of tests/test_browser.py (JupyterLab on
127.0.0.1 with a temporary token and root folder, Debian's Chromium driven by Playwright, both
stopped even when a test fails). Here a copy of the lesson is opened there and run from top to
bottom; then mouse strokes draw a "1" and a "7" on the pad, and the pad must read them. The
screenshots are kept in pytest's temporary folder; the test prints where.
"""

import shutil
from pathlib import Path

import pytest
from test_browser import KERNEL_READY, TOKEN, browser, jupyterlab, needs_chromium  # noqa: F401

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "04b_draw_a_digit.ipynb"

pytestmark = [pytest.mark.slow, needs_chromium]

ALL_CELLS_RUN = """name => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || panel.context.path !== name) return false;
    const cells = panel.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type === 'code' && !cell.executionCount) return false;
    }
    return panel.sessionContext.session.kernel.status === 'idle';
}"""

# JupyterLab draws only the cells near the viewport: go to the pad's cell before looking for it
SCROLL_TO_PAD = """async () => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const cells = notebook.model.cells;
    for (let i = 0; i < cells.length; i++) {
        if (cells.get(i).sharedModel.getSource().startsWith('pad = DrawPad')) {
            notebook.activeCellIndex = i;
            await notebook.scrollToItem(i, 'start');
            return i;
        }
    }
    return -1;
}"""

PREDICTION_IS = """digit => {
    const verdict = document.querySelector('.nnlib-drawpad .dp-verdict');
    return verdict !== null && verdict.dataset.prediction === digit;
}"""


def draw(page, canvas, stroke):
    """One mouse stroke through `stroke`, points given in pad pixels (280 x 280)."""
    box = canvas.bounding_box()
    scale = box["width"] / 280

    def at(point):
        return box["x"] + point[0] * scale, box["y"] + point[1] * scale

    page.mouse.move(*at(stroke[0]))
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*at(point), steps=12)
    page.mouse.up()


@pytest.fixture
def lesson_page(browser, jupyterlab):  # noqa: F811
    url, folder = jupyterlab
    shutil.copy(LESSON, folder / LESSON.name)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    try:
        page.goto(f"{url}/lab/tree/{LESSON.name}?reset&token={TOKEN}")
        page.wait_for_function(KERNEL_READY, arg=LESSON.name, timeout=90_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        yield page
    finally:
        page.close()


def test_the_pad_reads_a_one_and_a_seven_drawn_with_the_mouse(lesson_page, tmp_path):
    page = lesson_page
    page.wait_for_function(ALL_CELLS_RUN, arg=LESSON.name, timeout=300_000)
    assert page.evaluate(SCROLL_TO_PAD) >= 0
    pad = page.locator(".nnlib-drawpad")
    pad.get_by_text("Draw a digit first.").wait_for(timeout=30_000)
    canvas = pad.locator("canvas.dp-canvas")
    canvas.scroll_into_view_if_needed()
    news = page.get_by_role("button", name="No", exact=True)   # JupyterLab asks about its news
    if news.count():
        news.first.click()

    draw(page, canvas, [(150, 45), (132, 240)])                       # a "1"
    page.wait_for_function(PREDICTION_IS, arg="1", timeout=30_000)
    pad.screenshot(path=tmp_path / "drawpad_one.png")

    page.get_by_role("button", name="Clear").click()
    page.wait_for_function("() => document.querySelector('.nnlib-drawpad .dp-verdict')"
                           ".innerText.includes('Draw a digit first.')", timeout=30_000)

    draw(page, canvas, [(60, 60), (215, 60), (120, 245)])            # a "7", in one stroke
    page.wait_for_function(PREDICTION_IS, arg="7", timeout=30_000)
    assert "the network reads" in pad.locator(".dp-verdict").inner_text()

    # the inspector: click the most active unit of the first hidden layer, switch it off
    cells = pad.locator('.dp-cell[data-layer="0"]')
    busiest = page.evaluate("""() => {
        const cells = [...document.querySelectorAll('.nnlib-drawpad .dp-cell[data-layer="0"]')];
        const values = cells.map(cell => Number(cell.title.split(': ')[1] || 0));
        return values.indexOf(Math.max(...values));
    }""")
    cells.nth(busiest).click()
    page.wait_for_function(
        "unit => document.querySelector('.nnlib-drawpad .dp-unit-title').innerText"
        ".endsWith('unit ' + unit)", arg=busiest, timeout=30_000)
    assert pad.locator("canvas.dp-weights").is_visible()
    assert "activation for your drawing" in pad.locator(".dp-unit-value").inner_text()
    pad.get_by_text("switch this unit off").click()
    page.wait_for_function("() => document.querySelector('.nnlib-drawpad .dp-legend')"
                           ".innerText.includes('switched off')", timeout=30_000)
    pad.screenshot(path=tmp_path / "drawpad_seven.png")
    print(f"\nscreenshots of the pad: {tmp_path / 'drawpad_one.png'} and "
          f"{tmp_path / 'drawpad_seven.png'}")
    # a test digit from MNIST, then Undo removes it again
    page.get_by_role("button", name="Clear").click()
    page.get_by_role("button", name="Show a test digit").click()
    pad.get_by_text("MNIST test digit, labelled").wait_for(timeout=30_000)
    label = pad.locator(".dp-caption").inner_text().split()[-1]
    page.wait_for_function(PREDICTION_IS, arg=label, timeout=30_000)
    page.get_by_role("button", name="Undo").click()
    page.wait_for_function("() => document.querySelector('.nnlib-drawpad .dp-verdict')"
                           ".innerText.includes('Draw a digit first.')", timeout=30_000)

    # the only error shown is the one the lesson raises on purpose (an empty drawing)
    errors = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    assert len(errors) == 1 and "EmptyDrawingError" in errors[0], errors
