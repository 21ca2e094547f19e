"""Optimisers: two steps against hand-written textbook updates and closed forms; schedules."""

import math

import numpy as np
import pytest

from nnlib.optimizers import (
    SGD,
    AdaGrad,
    Adam,
    CosineWithWarmup,
    ExponentialDecay,
    Momentum,
    RMSProp,
    StepDecay,
)

W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
B0 = np.array([0.1, -0.2])
GRADS = [  # the gradients of the two steps
    {"0.W": np.array([[0.3, -0.6], [0.1, 0.8]]), "0.b": np.array([0.2, -0.4])},
    {"0.W": np.array([[-0.1, -0.2], [0.5, 0.4]]), "0.b": np.array([0.3, 0.1])},
]


def run_two_steps(optimizer):
    params = {"0.W": W0.copy(), "0.b": B0.copy()}
    arrays = dict(params)
    for grads in GRADS:
        optimizer.step(params, grads)
    for name, array in params.items():  # updated in place: still the very same arrays
        assert array is arrays[name]
    return params


def textbook(update, state_names):
    """Apply ``update(param, grad, state, t)`` for the two steps, parameter by parameter."""
    result = {}
    for name, start in (("0.W", W0), ("0.b", B0)):
        param = start.copy()
        state = {key: np.zeros_like(param) for key in state_names}
        for t, grads in enumerate(GRADS, start=1):
            param = update(param, grads[name], state, t)
        result[name] = param
    return result


def sgd(lr):
    return lambda p, g, s, t: p - lr * g


def momentum(lr, mu, nesterov=False):
    def update(p, g, s, t):
        previous = s["v"].copy()
        s["v"] = mu * s["v"] - lr * g
        if nesterov:  # CS231n form: p += -mu * v_prev + (1 + mu) * v
            return p - mu * previous + (1 + mu) * s["v"]
        return p + s["v"]
    return update


def adagrad(lr, eps):
    def update(p, g, s, t):
        s["cache"] = s["cache"] + g ** 2
        return p - lr * g / (np.sqrt(s["cache"]) + eps)
    return update


def rmsprop(lr, rho, eps):
    def update(p, g, s, t):
        s["cache"] = rho * s["cache"] + (1 - rho) * g ** 2
        return p - lr * g / (np.sqrt(s["cache"]) + eps)
    return update


def adam(lr, beta1, beta2, eps):
    def update(p, g, s, t):
        s["m"] = beta1 * s["m"] + (1 - beta1) * g
        s["v"] = beta2 * s["v"] + (1 - beta2) * g ** 2
        m_hat = s["m"] / (1 - beta1 ** t)
        v_hat = s["v"] / (1 - beta2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return update


@pytest.mark.parametrize("optimizer, reference, state", [
    (SGD(0.1), sgd(0.1), []),
    (Momentum(0.1, momentum=0.9), momentum(0.1, 0.9), ["v"]),
    (Momentum(0.1, momentum=0.8, nesterov=True), momentum(0.1, 0.8, nesterov=True), ["v"]),
    (AdaGrad(0.5, eps=1e-8), adagrad(0.5, 1e-8), ["cache"]),
    (RMSProp(0.01, rho=0.9, eps=1e-8), rmsprop(0.01, 0.9, 1e-8), ["cache"]),
    (Adam(0.01, beta1=0.9, beta2=0.999, eps=1e-8), adam(0.01, 0.9, 0.999, 1e-8), ["m", "v"]),
    (Adam(0.2, beta1=0.5, beta2=0.75, eps=0.1), adam(0.2, 0.5, 0.75, 0.1), ["m", "v"]),
], ids=repr)
def test_two_steps_equal_the_textbook_updates(optimizer, reference, state):
    result = run_two_steps(optimizer)
    expected = textbook(reference, state)
    for name in result:
        np.testing.assert_allclose(result[name], expected[name], rtol=1e-13, atol=1e-15)
    assert optimizer.iterations == 2


def constant_gradient_steps(optimizer, g=0.5, steps=2):
    param = np.array([1.0])
    for _ in range(steps):
        optimizer.step({"p": param}, {"p": np.array([g])})
    return param[0]


def test_closed_forms_for_a_constant_gradient():
    # eps must be positive; 1e-30 is far below what the tolerances below can see
    g, lr, eps = 0.5, 0.1, 1e-30
    assert constant_gradient_steps(SGD(lr)) == pytest.approx(1 - 2 * lr * g, rel=1e-15)
    # momentum: the second step moves (1 + mu) times as far as the first
    assert constant_gradient_steps(Momentum(lr, 0.9)) == pytest.approx(1 - lr * g * 2.9, rel=1e-15)
    assert constant_gradient_steps(Momentum(lr, 0.9, nesterov=True)) == pytest.approx(
        1 - lr * g * (1.9 + 0.9 * 1.9 + 1), rel=1e-15)
    # AdaGrad: steps lr * g / sqrt(t * g^2) = lr / sqrt(t)
    assert constant_gradient_steps(AdaGrad(lr, eps=eps)) == pytest.approx(
        1 - lr - lr / math.sqrt(2), rel=1e-15)
    # RMSProp: cache after t steps is (1 - rho^t) g^2
    assert constant_gradient_steps(RMSProp(lr, rho=0.9, eps=eps)) == pytest.approx(
        1 - lr / math.sqrt(0.1) - lr / math.sqrt(0.19), rel=1e-14)
    # Adam: with bias correction m_hat = g and v_hat = g^2, so each step is exactly lr
    assert constant_gradient_steps(Adam(lr, eps=eps), steps=5) == pytest.approx(1 - 5 * lr, rel=1e-14)


@pytest.mark.parametrize("make", [
    lambda **kw: SGD(0.1, **kw), lambda **kw: Momentum(0.1, **kw), lambda **kw: Adam(0.1, **kw),
    lambda **kw: AdaGrad(0.1, **kw), lambda **kw: RMSProp(0.1, **kw),
])
def test_weight_decay_and_l1_touch_weights_only(make):
    decay, l1 = 0.3, 0.05
    with_penalty = run_two_steps(make(weight_decay=decay, l1=l1))
    plain = make()
    params = {"0.W": W0.copy(), "0.b": B0.copy()}
    for grads in GRADS:  # the same optimiser, with the penalty gradient added by hand
        penalised = {"0.W": grads["0.W"] + decay * params["0.W"] + l1 * np.sign(params["0.W"]),
                     "0.b": grads["0.b"]}
        plain.step(params, penalised)
    np.testing.assert_allclose(with_penalty["0.W"], params["0.W"], rtol=1e-13)
    np.testing.assert_allclose(with_penalty["0.b"], params["0.b"], rtol=1e-13)
    np.testing.assert_allclose(with_penalty["0.b"], run_two_steps(make())["0.b"], rtol=1e-13)


def test_sgd_weight_decay_by_hand():
    result = run_two_steps(SGD(0.1, weight_decay=0.5))
    w = W0.copy()
    for grads in GRADS:
        w = w - 0.1 * (grads["0.W"] + 0.5 * w)
    np.testing.assert_allclose(result["0.W"], w, rtol=1e-14)


def test_a_schedule_sets_the_rate_of_each_step():
    result = run_two_steps(SGD(StepDecay(initial=0.1, step_size=1, gamma=0.5)))
    expected = W0 - 0.1 * GRADS[0]["0.W"] - 0.05 * GRADS[1]["0.W"]
    np.testing.assert_allclose(result["0.W"], expected, rtol=1e-14)
    adam_result = run_two_steps(Adam(ExponentialDecay(0.01, decay_rate=0.5, decay_steps=1)))
    # Adam's steps with lr 0.01 then 0.005, from the textbook update
    rates = iter([0.01, 0.005, 0.01, 0.005])
    expected = textbook(lambda p, g, s, t: adam(next(rates), 0.9, 0.999, 1e-8)(p, g, s, t),
                        ["m", "v"])
    np.testing.assert_allclose(adam_result["0.W"], expected["0.W"], rtol=1e-13)


def test_schedules():
    step = StepDecay(1.0, step_size=10, gamma=0.5)
    assert [step(s) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    exponential = ExponentialDecay(1.0, decay_rate=0.5, decay_steps=10)
    assert exponential(0) == 1.0 and exponential(10) == 0.5
    assert exponential(5) == pytest.approx(math.sqrt(0.5))
    cosine = CosineWithWarmup(peak=1.0, total_steps=110, warmup_steps=10, final=0.1)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(10) == pytest.approx(1.0) and cosine(60) == pytest.approx(0.55)
    assert cosine(110) == pytest.approx(0.1) and cosine(500) == pytest.approx(0.1)
    assert CosineWithWarmup(peak=2.0, total_steps=4)(0) == 2.0


@pytest.mark.parametrize("optimizer", [SGD(0.1), Momentum(0.05), Momentum(0.05, nesterov=True),
                                       AdaGrad(0.5), RMSProp(0.02), Adam(0.05)], ids=repr)
def test_every_optimiser_finds_the_minimum_of_a_quadratic(optimizer):
    curvature = np.array([1.0, 3.0, 0.5])
    target = np.array([2.0, -1.0, 0.5])
    x = np.zeros(3)
    for _ in range(2000):
        optimizer.step({"x": x}, {"x": curvature * (x - target)})
    np.testing.assert_allclose(x, target, atol=1e-2)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        SGD(-0.1)
    with pytest.raises(ValueError, match="momentum must lie in"):
        Momentum(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="beta2 must lie in"):
        Adam(beta2=1.0)
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        CosineWithWarmup(1.0, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="has shape"):
        SGD(0.1).step({"w": np.zeros(3)}, {"w": np.zeros(2)})


def test_float32_parameters_stay_float32():
    for optimizer in (SGD(0.1), Momentum(0.1), AdaGrad(0.1), RMSProp(0.1), Adam(0.1)):
        w = np.ones((3, 2), dtype=np.float32)
        optimizer.step({"0.W": w}, {"0.W": np.full((3, 2), 0.5, dtype=np.float32)})
        assert w.dtype == np.float32 and np.all(w < 1)


# --- hardening (issue 8) --------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: StepDecay(0.1, step_size=10, gamma=-1), r"StepDecay: gamma must .* \(0, 1\], got -1"),
    (lambda: StepDecay(0.1, step_size=10, gamma=0), r"gamma must be a real number in \(0, 1\]"),
    (lambda: StepDecay(0.1, step_size=10, gamma=2.0), r"gamma must be a real number in \(0, 1\]"),
    (lambda: StepDecay(-0.1, step_size=10), r"StepDecay: initial must be positive"),
    (lambda: StepDecay(0.1, step_size=2.5), r"step_size must be a positive integer"),
    (lambda: ExponentialDecay(-0.1, decay_rate=0.5, decay_steps=10), r"initial must be positive"),
    (lambda: ExponentialDecay(0.1j, decay_rate=0.5, decay_steps=10), r"initial must be positive"),
    (lambda: ExponentialDecay(0.1, decay_rate=-0.5, decay_steps=10), r"decay_rate must be a real"),
    (lambda: ExponentialDecay(0.1, decay_rate=0.5, decay_steps=float("nan")),
     r"decay_steps must be positive"),
    (lambda: CosineWithWarmup(-1.0, total_steps=100), r"peak must be positive"),
    (lambda: CosineWithWarmup(1.0, total_steps=100, final=-0.1), r"final must be a real number"),
    (lambda: CosineWithWarmup(1.0, total_steps=100, warmup_steps=2.5), r"whole numbers"),
    (lambda: SGD(1j), r"learning_rate must be positive"),
    (lambda: SGD(float("nan")), r"learning_rate must be positive"),
    (lambda: Adam(float("inf")), r"learning_rate must be positive"),
    (lambda: SGD(0.1, weight_decay=-1e-4), r"weight_decay must be a real number in \[0, inf\]"),
])
def test_schedules_and_rates_are_checked_when_created(make, message):
    # Today these are accepted, and training climbs the loss without an error.
    with pytest.raises(ValueError, match=message):
        make()


def test_a_custom_schedule_that_returns_a_negative_rate_is_stopped():
    optimizer = SGD(lambda step: 0.1 - 0.1 * step)
    param = np.array([1.0])
    optimizer.step({"p": param}, {"p": np.array([1.0])})
    optimizer.step({"p": param}, {"p": np.array([1.0])})  # rate 0 is allowed: no change
    with pytest.raises(ValueError, match=r"gave -0\.1.* at step 2; a learning rate must be a real "
                                         r"number >= 0"):
        optimizer.step({"p": param}, {"p": np.array([1.0])})


@pytest.mark.parametrize("make", [AdaGrad, RMSProp, Adam])
@pytest.mark.parametrize("eps", [0, 0.0, -1e-8, float("nan")])
def test_eps_must_be_positive(make, eps):
    # Today eps=0 and a unit whose gradient stays 0 give 0/0, blamed on the learning rate.
    with pytest.raises(ValueError, match=r"eps must be a small positive number such as 1e-8.*0/0"):
        make(0.01, eps=eps)


def test_a_missing_gradient_is_named():
    with pytest.raises(KeyError, match=r"grads has no entry '0\.b' for the parameter '0\.b'.*"
                                       r"network\.gradients\(\)"):
        SGD(0.1).step({"0.W": np.zeros(2), "0.b": np.zeros(2)}, {"0.W": np.zeros(2)})
