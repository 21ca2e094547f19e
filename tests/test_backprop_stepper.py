"""The step-through of backpropagation computes what the matrix form and finite differences say."""

import matplotlib

matplotlib.use("Agg")  # draw off-screen, without a display

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text

from nnlib import backprop_stepper
from nnlib.backprop_stepper import BackpropStepper, backprop_steps, draw_step, plot_neuron_graph


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def random_params(seed):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=3),
            "W2": rng.normal(size=(3, 1)), "b2": rng.normal(size=1)}


def loss(params, x, y):
    """The loss of lesson 03's network on one example, in the batch (matrix) form."""
    hidden = 1 / (1 + np.exp(-(x[None] @ params["W1"] + params["b1"])))
    p = 1 / (1 + np.exp(-(hidden @ params["W2"] + params["b2"])))[0, 0]
    return -np.log(p) if y == 1 else -np.log(1 - p)


def central_difference(f, array, index, eps=1e-6):
    saved = array[index]
    array[index] = saved + eps
    after = f()
    array[index] = saved - eps
    before = f()
    array[index] = saved
    return (after - before) / (2 * eps)


def by_name(steps):
    return {step.name: step for step in steps}


@pytest.mark.parametrize(("seed", "x", "y"), [(0, (1.0, 0.0), 1), (3, (0.3, -1.2), 0),
                                              (5, (1.0, 1.0), 0)])
def test_every_gradient_matches_a_finite_difference(seed, x, y):
    params = random_params(seed)
    x = np.array(x)
    steps = by_name(backprop_steps(params, x, y))
    assert steps["L"].value == pytest.approx(loss(params, x, y), rel=1e-12)
    for name, shape in backprop_stepper.PARAMETER_SHAPES.items():
        for index in np.ndindex(shape):
            key = (f"dL/d{name}[{index[0]},{index[1]}]" if name == "W1"
                   else f"dL/d{name}[{index[0]}]" if name in ("W2", "b1") else "dL/db2")
            expected = central_difference(lambda: loss(params, x, y), params[name], index)
            assert steps[key].value == pytest.approx(expected, rel=1e-6, abs=1e-9), key
    for i in range(2):
        expected = central_difference(lambda: loss(params, x, y), x, i)
        assert steps[f"dL/dx[{i}]"].value == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_forward_values_and_the_output_gradient_match_the_matrix_form():
    params = random_params(1)
    x, y = np.array([0.5, -2.0]), 1
    steps = by_name(backprop_steps(params, x, y))
    z1 = x @ params["W1"] + params["b1"]
    a1 = 1 / (1 + np.exp(-z1))
    p = 1 / (1 + np.exp(-(a1 @ params["W2"] + params["b2"])))[0]
    np.testing.assert_allclose([steps[f"z1[{h}]"].value for h in range(3)], z1, rtol=1e-12)
    np.testing.assert_allclose([steps[f"a1[{h}]"].value for h in range(3)], a1, rtol=1e-12)
    assert steps["p"].value == pytest.approx(p, rel=1e-12)
    assert steps["dL/dz2"].value == pytest.approx(p - y, rel=1e-12)  # sigmoid + BCE: p - y


def test_the_forward_pass_comes_first_and_each_step_once():
    steps = backprop_steps(random_params(2), [1.0, 0.0], 0)
    phases = [step.phase for step in steps]
    assert phases == ["forward"] * 9 + ["backward"] * 23
    assert len({step.name for step in steps}) == len(steps)
    assert steps[-1].name == "dL/dx[1]" and steps[8].name == "L"


def test_each_formula_ends_with_its_value_and_shows_local_times_upstream():
    steps = by_name(backprop_steps(random_params(4), [1.0, 0.0], 1))
    for step in steps.values():
        value = f"{step.value:.3f}"
        assert step.formula.endswith(value.lstrip("-") if float(value) == 0 else value)
    assert "a1[1] (1 - a1[1]) · dL/da1[1]" in steps["dL/dz1[1]"].formula
    assert steps["dL/dx[0]"].formula.count("dL/dz1") == 3  # the three paths add up


def test_bad_inputs_get_clear_errors():
    params = random_params(0)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        backprop_steps(params, np.ones((4, 2)), 1)
    with pytest.raises(ValueError, match="label 0 or 1"):
        backprop_steps(params, [1.0, 0.0], 2)
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \(2, 3\)"):
        backprop_steps({**params, "W1": np.ones((3, 2))}, [1.0, 0.0], 1)
    with pytest.raises(ValueError, match="index must be between"):
        _, ax = plt.subplots()
        draw_step(ax, backprop_steps(params, [1.0, 0.0], 1), 32, params)
    with pytest.raises(ValueError, match="missing"):
        plot_neuron_graph({"w1": 1.0})


def font_sizes(fig):
    return [text.get_fontsize() for text in fig.findobj(Text) if text.get_text().strip()]


def test_pictures_write_their_numbers_legibly():
    params = random_params(0)
    steps = backprop_steps(params, [1.0, 0.0], 1)
    fig, ax = plt.subplots()
    draw_step(ax, steps, 20, params, x=[1.0, 0.0])
    texts = [text.get_text() for text in fig.findobj(Text)]
    assert steps[20].formula in texts
    assert any(f"{steps[3].name} = {steps[3].value:.3f}" in text for text in texts)  # kept
    assert not any(steps[21].name + " =" in text for text in texts)                 # not yet
    assert min(font_sizes(fig)) >= 9

    values = {"w1": 0.5, "x1": 2.0, "w2": -1.0, "x2": 1.5, "b": 1.5, "m1": 1.0, "m2": -1.5, "z": 1.0, "p": 0.731}
    fig = plot_neuron_graph(values, {name: 0.25 for name in values})
    texts = [text.get_text() for text in fig.findobj(Text)]
    assert "-1.500" in texts and texts.count("0.250") == len(values)
    assert min(font_sizes(fig)) >= 9


def test_the_widget_steps_forward_and_back_and_disables_buttons_at_the_ends():
    stepper = BackpropStepper(random_params(0), [1.0, 0.0], 1)
    assert stepper.back.disabled and not stepper.next.disabled
    first_picture = stepper.view.image.value
    stepper.next.click()
    stepper.next.click()
    assert stepper.slider.value == 2 and stepper.step.name == "z1[1]"
    assert stepper.view.image.value != first_picture
    stepper.back.click()
    assert stepper.step.name == "a1[0]"
    stepper.go(100)
    assert stepper.slider.value == len(stepper.steps) - 1 and stepper.next.disabled
    stepper.next.click()
    assert stepper.slider.value == len(stepper.steps) - 1
