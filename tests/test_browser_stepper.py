"""Lesson 03's step-through widget in a real JupyterLab: click Next, watch the pass advance.

The server, the browser and the skip rules are those of tests/test_browser.py. A small notebook
shows ``backprop_stepper`` for lesson 03's example (the starting weights of its section 4, seed 0;
x = (1, 0), label 1). The test clicks Next a few times and checks, after every click, what the
student sees against ``backprop_steps``, computed here in the test's own process:

- the slider's handle reports the step number;
- the picture in the page is, byte for byte, the PNG of ``draw_step`` for that step, rendered
  here independently of the kernel (the step's name, value and formula are drawn in it);
- Back is disabled on the first step only.

A screenshot of the widget is kept in pytest's temporary folder; the test prints where.
"""

import hashlib
import time

import numpy as np
import pytest
from test_browser import (  # noqa: F401 (browser and jupyterlab are fixtures)
    assert_no_error_output,
    browser,
    jupyterlab,
    needs_chromium,
    open_and_run,
)

from nnlib.backprop_stepper import BackpropStepper, backprop_steps

pytestmark = [pytest.mark.slow, needs_chromium]

CLICKS = 4

STEPPER_CELL = """\
import numpy as np
from nnlib.backprop_stepper import backprop_stepper
rng = np.random.default_rng(0)                                  # lesson 03, section 4
params = {"W1": rng.normal(size=(2, 3)), "b1": np.zeros(3),
          "W2": rng.normal(size=(3, 1)), "b2": np.zeros(1)}
stepper = backprop_stepper(params, np.array([1.0, 0.0]), 1)
stepper
"""

# the picture's bytes as the page shows them (ipywidgets gives the <img> a blob: URL)
SHOWN_PICTURE_SHA256 = """async () => {
    const image = document.querySelector('.jp-OutputArea-output img.widget-image');
    const bytes = await (await fetch(image.src)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('');
}"""

HANDLE_AT = """step => {
    const handle = document.querySelector('.jp-OutputArea-output .widget-slider .noUi-handle');
    return handle !== null && Number(handle.getAttribute('aria-valuenow')) === step;
}"""


def lesson_example():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(2, 3)), "b1": np.zeros(3),
              "W2": rng.normal(size=(3, 1)), "b2": np.zeros(1)}
    return params, np.array([1.0, 0.0]), 1


def new_picture(page, before, timeout=30):
    """The SHA-256 of the picture shown, once it differs from `before` (the kernel redraws)."""
    deadline = time.monotonic() + timeout
    while (shown := page.evaluate(SHOWN_PICTURE_SHA256)) == before:
        if time.monotonic() > deadline:
            pytest.fail(f"the picture did not change within {timeout} s of clicking Next")
        time.sleep(0.1)
    return shown


def expected_picture_sha256(stepper, index):
    """The PNG this process draws for step `index`, as a SHA-256 hex digest."""
    stepper.go(index)
    return hashlib.sha256(stepper.view.image.value).hexdigest()


def test_next_walks_the_forward_pass_one_number_at_a_time(browser, jupyterlab, tmp_path):  # noqa: F811
    params, x, y = lesson_example()
    steps = backprop_steps(params, x, y)
    assert [step.name for step in steps[:CLICKS + 1]] == ["z1[0]", "a1[0]", "z1[1]", "a1[1]",
                                                          "z1[2]"]
    reference = BackpropStepper(params, x, y)
    expected = [expected_picture_sha256(reference, index) for index in range(CLICKS + 1)]
    assert len(set(expected)) == CLICKS + 1, "two steps draw the same picture"

    page = open_and_run(browser, jupyterlab, [STEPPER_CELL], "stepper.ipynb")
    widget = page.locator(".jp-OutputArea-output .widget-vbox").first
    next_button = widget.get_by_role("button", name="Next ▶")
    back_button = widget.get_by_role("button", name="◀ Back")
    next_button.wait_for(timeout=90_000)
    page.locator(".jp-OutputArea-output img.widget-image").wait_for(timeout=30_000)

    assert page.evaluate(HANDLE_AT, 0)
    assert back_button.is_disabled() and next_button.is_enabled()
    shown = [page.evaluate(SHOWN_PICTURE_SHA256)]
    for step in range(1, CLICKS + 1):
        next_button.click()
        page.wait_for_function(HANDLE_AT, arg=step, timeout=30_000)
        shown.append(new_picture(page, shown[-1]))
        assert back_button.is_enabled()
    assert shown == expected, (
        "the page does not show draw_step's picture of the step the slider is on: after "
        f"{CLICKS} clicks it should show {steps[CLICKS].name} = {steps[CLICKS].value:.3f}")

    back_button.click()
    page.wait_for_function(HANDLE_AT, arg=CLICKS - 1, timeout=30_000)
    assert new_picture(page, shown[-1]) == expected[CLICKS - 1]   # Back draws the step before
    page.add_style_tag(content=".Toastify { display: none; }")   # JupyterLab's news, not ours
    widget.screenshot(path=tmp_path / "stepper.png")
    print(f"\nscreenshot of the stepper (step {CLICKS - 1}, {steps[CLICKS - 1].name}): "
          f"{tmp_path / 'stepper.png'}")
    assert_no_error_output(page)
    page.close()
