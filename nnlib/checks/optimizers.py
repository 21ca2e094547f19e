"""Checks for exercise set ex05_optimizers (lesson 05): update rules, regularisation, a schedule.

``check_momentum_step``, ``check_rmsprop_step``, ``check_adam_step``, ``check_l2_gradient``,
``check_dropout_forward``, ``check_dropout_backward`` and ``check_cosine_with_warmup``.

The step functions take their state (velocity, running averages) as arguments and return it
updated together with the parameter. Each check hands the student's function copies, so that
updating ``param`` in place and returning it is as good as returning a new array; only ``grad``
must come back unchanged.

Where the expected values come from:

* every update is a closed form, computed with NumPy and again in plain Python (a replaced
  reference is noticed rather than trusted);
* each update rule is also run for several steps, from a zero state, next to nnlib's own
  optimiser (``nnlib.optimizers.Momentum``, ``RMSProp``, ``Adam``) on a one-parameter network;
* the L2 gradient is what ``nnlib.optimizers.SGD(1.0, weight_decay=lam)`` subtracts from a
  weight whose loss gradient is zero;
* the schedule is ``nnlib.optimizers.CosineWithWarmup`` at every step;
* dropout draws random numbers, so its check tests what every correct inverted dropout satisfies:
  ``out == x * mask``, mask values 0 and ``1 / (1 - rate)``, a kept fraction close to
  ``1 - rate``, one decision per entry, the same mask for the same seed and another for another.

``cases=[...]`` replaces a check's seeded inputs (the hidden tests pass float32, other shapes and
edge cases that way). A case is the tuple of positional arguments the function is called with,
except for dropout_forward, ``(x, rate, seed)``, and cosine_with_warmup, ``(peak, total_steps,
warmup_steps[, final])``, whose check evaluates every step of the schedule. ``runs=[...]``
replaces the multi-step runs of the three optimisers: ``(param, grads, lr, *hyperparameters)``.
"""

import math

import numpy as np

import nnlib.optimizers
from nnlib.checks._core import (
    TOLERANCES,
    CheckFailed,
    check,
    describe,
    first_mismatch,
    guard,
    quietly,
)
from nnlib.optimizers import SGD as _ReferenceSGD
from nnlib.optimizers import Adam as _ReferenceAdam
from nnlib.optimizers import CosineWithWarmup as _ReferenceCosineWithWarmup
from nnlib.optimizers import Momentum as _ReferenceMomentum
from nnlib.optimizers import RMSProp as _ReferenceRMSProp

__all__ = [
    "check_adam_step",
    "check_cosine_with_warmup",
    "check_dropout_backward",
    "check_dropout_forward",
    "check_l2_gradient",
    "check_momentum_step",
    "check_rmsprop_step",
]

guard(nnlib.optimizers, ["SGD", "Momentum", "RMSProp", "Adam", "CosineWithWarmup"],
      "nnlib.optimizers")
for _class in (_ReferenceSGD, _ReferenceMomentum, _ReferenceRMSProp, _ReferenceAdam):
    guard(_class, ["update", "step", "_regularised"], f"nnlib.optimizers.{_class.__name__}")
del _class
guard(_ReferenceCosineWithWarmup, ["__call__"], "nnlib.optimizers.CosineWithWarmup")
guard(nnlib.optimizers.Optimizer, ["step", "_regularised", "_state_for", "current_learning_rate"],
      "nnlib.optimizers.Optimizer")

_asarray = np.asarray
_sqrt = math.sqrt
_cos = math.cos
_pi = math.pi
_default_rng = np.random.default_rng

MOMENTUM_SECTION = "lesson 05, section 2"
ADAPTIVE_SECTION = "lesson 05, section 3"
SCHEDULE_SECTION = "lesson 05, section 5"
REGULARISATION_SECTION = "lesson 05, section 7"

DEAD_UNIT_HINT = ("a parameter whose gradient and running average are both 0 gives 0 / 0: add eps "
                  "to the square root, sqrt(s) + eps, which keeps the step finite "
                  f"({ADAPTIVE_SECTION})")
NO_SQUARE_HINT = ("a square root of a negative number: the running average is of the *squared* "
                  f"gradients, grad ** 2, which are never negative ({ADAPTIVE_SECTION})")
ZERO_EXPONENT_HINT = ("This is step t = 1, where the bias correction divides by 1 - beta1 ** 1 = "
                      "0.1; a division by zero means an exponent of 0. The step number t is "
                      "passed in and starts at 1: use beta1 ** t and beta2 ** t as they are "
                      f"({ADAPTIVE_SECTION}).")
EPS_INSIDE = ("you added eps inside the square root, sqrt(s + eps); the formula adds it outside, "
              "sqrt(s) + eps. For ordinary gradients the two agree to about 8 digits, but for "
              "gradients of order 1e-7, as here, sqrt(eps) = 1e-4 dominates the denominator and "
              f"the step is hundreds of times too small ({ADAPTIVE_SECTION}).")


# --- small helpers ------------------------------------------------------------------------------

def _entries(array):
    """The entries of an array as a flat list of Python floats."""
    return _asarray(array, dtype=float).reshape(-1).tolist()


def _tolerance(*values):
    """(rtol, atol) for float32 when any input array is float32, else for float64."""
    single = any(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in values)
    return TOLERANCES["float32" if single else "float64"]


def _matches(got, wanted, tolerance):
    """True if ``wanted`` (possibly None: a formula that could not be evaluated) equals ``got``."""
    if wanted is None:
        return False
    wanted = _asarray(wanted)
    return (wanted.shape == got.shape
            and first_mismatch(_entries(got), _entries(wanted), *tolerance) < 0)


def _as_float_arrays(*values):
    return [_asarray(v, dtype=float) for v in values]


def _call_keeping_grad(t, func, args, grad_position, *, label, warning_hints=(), error_hint=""):
    """Call func(*args) on copies that it may change, except the gradient, which must stay.

    warning_hints: (fragment of NumPy's warning, hint) pairs; the first whose fragment is in the
    warning explains it ("in sqrt": the gradient was not squared, ...).
    """
    passed = {}

    def recorded(*given):
        passed["args"] = given
        return func(*given)

    try:
        result = t.call(recorded, *args, label=label, error_hint=error_hint,
                        may_change_inputs=True)
    except CheckFailed as failure:
        text = str(failure)
        start = f"{label} warned '"
        if text.startswith(start):
            warned = text[len(start):].split("':", 1)[0]
            for fragment, hint in warning_hints:
                if fragment in warned:
                    t.fail(f"{start}{warned}': {hint}")
        raise
    given = passed["args"][grad_position]
    original = args[grad_position]
    if given.shape != original.shape or first_mismatch(_entries(given), _entries(original),
                                                       0.0, 0.0) >= 0:
        t.fail(f"{label} changed grad in place: the gradient belongs to the caller (another "
               f"optimiser or a gradient check may still need it). Compute new arrays from it, "
               f"e.g. `lr * grad`, instead of `grad *= lr`.")
    return result


def _outputs(t, result, *, label, names, shape):
    """Validate a returned tuple of len(names) arrays of ``shape``; return them as arrays."""
    count = len(names)
    wanted = ", ".join(names)
    if result is None:
        t.fail(f"{label} returned None: did you forget the `return` statement? Return all "
               f"{count}: `return {wanted}`.")
    if not isinstance(result, (tuple, list)) or len(result) != count:
        what = (f"a {type(result).__name__} of {len(result)}"
                if isinstance(result, (tuple, list)) else describe(result))
        t.fail(f"{label} returned {what}; it must return {count} arrays, `return {wanted}`: the "
               f"state goes in as arguments and comes back out, updated, for the next step.")
    return [t.array(value, label=f"{label}: the returned {name}", shape=shape,
                    nonfinite_hint="an update step must stay finite.")
            for name, value in zip(names, result)]


def _compare(t, got, expected, recheck, *, names, label, mistakes, tolerance, hint):
    """Fail unless every output matches; name the mistake whose outputs all match, if one does.

    mistakes: (wrong outputs, message) pairs, the wrong outputs computed by the wrong formula
    (None where it could not be evaluated, which matches nothing).
    """
    if not all(_matches(g, e, tolerance) for g, e in zip(got, expected)):
        for wrong, message in mistakes:
            if all(_matches(g, w, tolerance) for g, w in zip(got, wrong)):
                t.fail(f"{label}: {message}")
    for value, reference, plain, name in zip(got, expected, recheck, names):
        t.close(value, reference, label=f"{label}: the returned {name}", rtol=tolerance[0],
                atol=tolerance[1], recheck=plain, hint=hint)


def _filled(args, required, defaults):
    """args (a tuple of at least ``required`` values) completed with the trailing defaults."""
    return list(args) + list(defaults)[len(args) - required:]


# --- momentum -----------------------------------------------------------------------------------

def _py_momentum(param, grad, velocity, lr, mu):
    velocity_next = [mu * v - lr * g for v, g in zip(_entries(velocity), _entries(grad))]
    return [p + v for p, v in zip(_entries(param), velocity_next)], velocity_next


def _momentum_cases(t):
    return [
        (t.rng.normal(size=(3, 4)), t.rng.normal(size=(3, 4)), 0.1 * t.rng.normal(size=(3, 4)),
         0.1),
        (t.rng.normal(size=6), t.rng.normal(size=6), 0.2 * t.rng.normal(size=6), 0.05, 0.5),
        (t.rng.normal(size=(2, 2)), t.rng.normal(size=(2, 2)), np.zeros((2, 2)), 0.01, 0.9),
    ]


@check("momentum_step", lesson="lesson 05")
def check_momentum_step(t, momentum_step, cases=None, runs=None):
    """Check v' = momentum * v - lr * grad, param' = param + v' (nnlib's Momentum)."""
    for args in cases if cases is not None else _momentum_cases(t):
        _momentum_case(t, momentum_step, args)
    default_runs = [(t.rng.normal(size=(2, 3)), t.rng.normal(size=(5, 2, 3)), 0.05, 0.8)]
    for run in runs if runs is not None else default_runs:
        _momentum_run(t, momentum_step, *run)


def _momentum_case(t, momentum_step, args):
    param, grad, velocity, lr, mu = _filled(args, 4, [0.9])
    P, G, V = _as_float_arrays(param, grad, velocity)
    shown = "" if len(args) == 4 else f", momentum={mu}"
    label = (f"momentum_step(param, grad, velocity, lr={lr}{shown}) with {_asarray(param).dtype} "
             f"arrays of shape {_asarray(param).shape}")
    result = _call_keeping_grad(t, momentum_step, args, 1, label=label)
    got = _outputs(t, result, label=label, names=("new_param", "new_velocity"),
                   shape=P.shape)
    step = mu * V - lr * G
    expected = [P + step, step]
    plain = _py_momentum(P, G, V, lr, mu)
    uphill = mu * V + lr * G
    torch_velocity = mu * V + G
    _compare(t, got, expected, plain, names=("new_param", "new_velocity"), label=label,
             tolerance=_tolerance(param, grad, velocity), hint=(
                 f"The rule is v = momentum * v - lr * grad, then param = param + v "
                 f"({MOMENTUM_SECTION})."),
             mistakes=[
                 ((P + uphill, uphill),
                  ("the velocity points uphill: the gradient enters with a minus sign, v = "
                   f"momentum * v - lr * grad, then param + v ({MOMENTUM_SECTION}).")),
                 ((P - uphill, uphill),
                  ("your velocity has the opposite sign, v = momentum * v + lr * grad and param "
                   "- v: consistent in itself, but the velocity passed in and returned here is "
                   "nnlib's, which holds the step itself: v = momentum * v - lr * grad, then "
                   f"param + v ({MOMENTUM_SECTION}).")),
                 ((P - step, step),
                  ("the velocity already is the step, minus sign included: param + v, not "
                   f"param - v ({MOMENTUM_SECTION}).")),
                 ((P - lr * torch_velocity, torch_velocity),
                  ("that is the other convention, v = momentum * v + grad and param - lr * v. "
                   "This exercise follows nnlib's Momentum, whose velocity holds the step "
                   f"itself: v = momentum * v - lr * grad, then param + v ({MOMENTUM_SECTION}).")),
                 ((P + V, step),
                  ("you moved param by the old velocity: update the velocity first, then add "
                   "the new one to param.")),
                 ((P - lr * G, -lr * G),
                  ("the velocity forgot its past: v = momentum * v - lr * grad keeps the "
                   f"fraction momentum of the old velocity ({MOMENTUM_SECTION}).")),
                 ((P + mu * V - (1 - mu) * lr * G, mu * V - (1 - mu) * lr * G),
                  ("the gradient has no factor (1 - momentum) here: v = momentum * v - lr * "
                   "grad, a sum of past steps rather than an average of past gradients.")),
                 ((P + mu * step - lr * G, step),
                  ("that is Nesterov's look-ahead update; this exercise is classical momentum: "
                   "param + v.")),
                 ((P + step, V),
                  ("you returned the old velocity: return the updated one, which the next step "
                   "starts from.")),
                 ((step, P + step),
                  "the two results are swapped: `return new_param, new_velocity`, in this order."),
                 ((P + mu * V - G, mu * V - G),
                  "the gradient is not scaled by the learning rate: v = momentum * v - lr * grad."),
                 ((P + 0.9 * V - lr * G, 0.9 * V - lr * G),
                  "you used momentum 0.9 whatever was passed: use the argument `momentum`."),
             ])


def _momentum_run(t, momentum_step, param, grads, lr, *hyper):
    optimizer = _ReferenceMomentum(lr, *hyper)
    reference = {"w": _asarray(param, dtype=float).copy()}
    current, velocity = _asarray(param).copy(), np.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        label = (f"momentum_step, step {step} of a run from velocity 0 next to "
                 f"nnlib.optimizers.Momentum({lr}{''.join(f', {h}' for h in hyper)})")
        result = _call_keeping_grad(t, momentum_step, (current, grad, velocity, lr, *hyper), 1,
                                    label=label)
        current, velocity = _outputs(t, result, label=label, names=("new_param", "new_velocity"),
                                     shape=reference["w"].shape)
        optimizer.step(reference, {"w": _asarray(grad, dtype=float)})
        tolerance = _tolerance(param, grads)
        for value, wanted, name in ((current, reference["w"], "new_param"),
                                    (velocity, optimizer.state["w"]["velocity"], "new_velocity")):
            t.close(value, wanted, label=f"{label}: the returned {name}", rtol=tolerance[0],
                    atol=tolerance[1], hint="Pass each step the velocity the previous one "
                                            "returned.")
        current, velocity = current.copy(), velocity.copy()


# --- RMSProp ------------------------------------------------------------------------------------

def _py_rmsprop(param, grad, square_avg, lr, rho, eps):
    averages = [rho * s + (1 - rho) * g * g for s, g in zip(_entries(square_avg), _entries(grad))]
    params = [p - lr * g / (_sqrt(s) + eps)
              for p, g, s in zip(_entries(param), _entries(grad), averages)]
    return params, averages


def _rmsprop_cases(t):
    grad = t.rng.normal(size=(3, 4))
    grad[0, 1] = grad[2, 3] = 0.0  # two dead units: gradient 0, running average 0
    average = t.rng.random(size=(3, 4))
    average[0, 1] = average[2, 3] = 0.0
    return [
        (t.rng.normal(size=(4, 3)), t.rng.normal(size=(4, 3)), t.rng.random(size=(4, 3)), 0.01),
        (t.rng.normal(size=6), t.rng.normal(size=6), t.rng.random(size=6), 0.1, 0.5),
        (t.rng.normal(size=(3, 4)), grad, average, 0.01, 0.9, 1e-8),
        (t.rng.normal(size=5), 1e-7 * t.rng.normal(size=5), np.zeros(5), 0.01),
    ]


@check("rmsprop_step", lesson="lesson 05")
def check_rmsprop_step(t, rmsprop_step, cases=None, runs=None):
    """Check s' = rho s + (1 - rho) grad^2, param' = param - lr grad / (sqrt(s') + eps)."""
    for args in cases if cases is not None else _rmsprop_cases(t):
        _rmsprop_case(t, rmsprop_step, args)
    default_runs = [(t.rng.normal(size=(2, 3)), t.rng.normal(size=(5, 2, 3)), 0.01, 0.8)]
    for run in runs if runs is not None else default_runs:
        _rmsprop_run(t, rmsprop_step, *run)


def _rmsprop_case(t, rmsprop_step, args):
    param, grad, square_avg, lr, rho, eps = _filled(args, 4, [0.9, 1e-8])
    P, G, S = _as_float_arrays(param, grad, square_avg)
    options = "".join(f", {name}={value}" for name, value in
                      zip(("rho", "eps"), args[4:]))
    label = (f"rmsprop_step(param, grad, square_avg, lr={lr}{options}) with {_asarray(param).dtype} "
             f"arrays of shape {_asarray(param).shape}")
    dead = bool(np.any((G == 0) & (S == 0)))
    result = _call_keeping_grad(t, rmsprop_step, args, 1, label=label,
                                warning_hints=_adaptive_hints(dead))
    names = ("new_param", "new_square_avg")
    got = _outputs(t, result, label=label, names=names, shape=P.shape)
    average = rho * S + (1 - rho) * G ** 2
    expected = [P - lr * G / (np.sqrt(average) + eps), average]

    def stepped(s):
        return quietly(lambda: P - lr * G / (np.sqrt(s) + eps))

    unsquared = rho * S + (1 - rho) * G
    absolute = rho * S + (1 - rho) * np.abs(G)
    unweighted = rho * S + G ** 2
    swapped = (1 - rho) * S + rho * G ** 2
    with_09 = 0.9 * S + 0.1 * G ** 2
    _compare(t, got, expected, _py_rmsprop(P, G, S, lr, rho, eps), names=names, label=label,
             tolerance=_tolerance(param, grad, square_avg), hint=(
                 "The rule is s = rho * s + (1 - rho) * grad ** 2, then param = param - lr * "
                 f"grad / (sqrt(s) + eps) ({ADAPTIVE_SECTION})."),
             mistakes=[
                 ((stepped(unsquared), unsquared),
                  ("the running average must be of the squared gradients: (1 - rho) * grad ** 2 "
                   f"({ADAPTIVE_SECTION}).")),
                 ((stepped(absolute), absolute),
                  ("average grad ** 2, not |grad|: the root of the mean square is what scales "
                  "the step.")),
                 ((quietly(lambda: P - lr * G / (average + eps)), average),
                  ("the square root is missing: divide by sqrt(s) + eps, the root of the mean "
                   f"squared gradient, which has the units of the gradient ({ADAPTIVE_SECTION}).")),
                 ((quietly(lambda: P - lr * G / np.sqrt(average + eps)), average), EPS_INSIDE),
                 ((stepped(unweighted), unweighted),
                  ("the new squared gradient is weighted by (1 - rho): s = rho * s + (1 - rho) * "
                  "grad ** 2, an average rather than a growing sum.")),
                 ((stepped(swapped), swapped),
                  ("rho and 1 - rho are swapped: rho (0.9) keeps the old average, 1 - rho weighs "
                  "the new squared gradient.")),
                 ((stepped(S), average),
                  ("you divided by the old average: update s first, then use the new one in the "
                  "step.")),
                 ((expected[0], S),
                  ("you returned the old average: return the updated one, which the next step "
                  "starts from.")),
                 ((average, expected[0]),
                  ("the two results are swapped: `return new_param, new_square_avg`, in this "
                  "order.")),
                 ((quietly(lambda: P + lr * G / (np.sqrt(average) + eps)), average),
                  "the step goes uphill: subtract lr * grad / (sqrt(s) + eps) from param."),
                 ((stepped(with_09), with_09),
                  "you used rho = 0.9 whatever was passed: use the argument `rho`."),
                 ((quietly(lambda: P - lr * G / (np.sqrt(average) + 1e-8)), average),
                  "you used eps = 1e-8 whatever was passed: use the argument `eps`."),
             ])


def _rmsprop_run(t, rmsprop_step, param, grads, lr, *hyper):
    optimizer = _ReferenceRMSProp(lr, *hyper)
    reference = {"w": _asarray(param, dtype=float).copy()}
    current, average = _asarray(param).copy(), np.zeros_like(param)
    names = ("new_param", "new_square_avg")
    for step, grad in enumerate(grads, start=1):
        label = (f"rmsprop_step, step {step} of a run from square_avg 0 next to "
                 f"nnlib.optimizers.RMSProp({lr}{''.join(f', {h}' for h in hyper)})")
        result = _call_keeping_grad(t, rmsprop_step, (current, grad, average, lr, *hyper), 1,
                                    label=label, warning_hints=_adaptive_hints(False))
        current, average = _outputs(t, result, label=label, names=names,
                                    shape=reference["w"].shape)
        optimizer.step(reference, {"w": _asarray(grad, dtype=float)})
        tolerance = _tolerance(param, grads)
        for value, wanted, name in ((current, reference["w"], names[0]),
                                    (average, optimizer.state["w"]["cache"], names[1])):
            t.close(value, wanted, label=f"{label}: the returned {name}", rtol=tolerance[0],
                    atol=tolerance[1], hint="Pass each step the average the previous one "
                                            "returned.")
        current, average = current.copy(), average.copy()


# --- Adam ---------------------------------------------------------------------------------------

def _py_adam(param, grad, m, v, step, lr, beta1, beta2, eps):
    first = [beta1 * a + (1 - beta1) * g for a, g in zip(_entries(m), _entries(grad))]
    second = [beta2 * b + (1 - beta2) * g * g for b, g in zip(_entries(v), _entries(grad))]
    params = [p - lr * (a / (1 - beta1 ** step)) / (_sqrt(b / (1 - beta2 ** step)) + eps)
              for p, a, b in zip(_entries(param), first, second)]
    return params, first, second


def _adam_cases(t):
    grad = t.rng.normal(size=(2, 5))
    grad[1, 2] = 0.0  # a dead unit at the first step: m = v = 0 and grad = 0
    return [
        (t.rng.normal(size=(3, 4)), t.rng.normal(size=(3, 4)), np.zeros((3, 4)),
         np.zeros((3, 4)), 1, 0.01),
        (t.rng.normal(size=5), t.rng.normal(size=5), 0.1 * t.rng.normal(size=5),
         0.01 * t.rng.random(size=5), 3, 0.001),
        (t.rng.normal(size=(2, 3)), t.rng.normal(size=(2, 3)), 0.1 * t.rng.normal(size=(2, 3)),
         0.1 * t.rng.random(size=(2, 3)), 10, 0.05, 0.8, 0.99, 1e-8),
        (t.rng.normal(size=(2, 5)), grad, np.zeros((2, 5)), np.zeros((2, 5)), 1, 0.01),
        (t.rng.normal(size=4), 1e-7 * t.rng.normal(size=4), np.zeros(4), np.zeros(4), 1, 0.01),
    ]


def _adaptive_hints(dead, first_adam_step=False):
    """The warnings an RMSProp or Adam step can give, and what each one means here."""
    hints = [("in sqrt", NO_SQUARE_HINT)]
    if first_adam_step:
        hints.append(("divide", ZERO_EXPONENT_HINT))
    if dead:
        hints.append(("divide", DEAD_UNIT_HINT))
    return hints


@check("adam_step", lesson="lesson 05")
def check_adam_step(t, adam_step, cases=None, runs=None):
    """Check Adam with bias correction: m, v averages, m_hat = m / (1 - beta1^t), ..."""
    for args in cases if cases is not None else _adam_cases(t):
        _adam_case(t, adam_step, args)
    default_runs = [(t.rng.normal(size=(3,)), t.rng.normal(size=(6, 3)), 0.01)]
    for run in runs if runs is not None else default_runs:
        _adam_run(t, adam_step, *run)


def _adam_case(t, adam_step, args):
    param, grad, m, v, step, lr, beta1, beta2, eps = _filled(args, 6, [0.9, 0.999, 1e-8])
    P, G, M, V = _as_float_arrays(param, grad, m, v)
    options = "".join(f", {name}={value}" for name, value in
                      zip(("beta1", "beta2", "eps"), args[6:]))
    label = (f"adam_step(param, grad, m, v, t={step}, lr={lr}{options}) with {_asarray(param).dtype} "
             f"arrays of shape {_asarray(param).shape}")
    dead = bool(np.any((G == 0) & (M == 0) & (V == 0)))
    result = _call_keeping_grad(t, adam_step, args, 1, label=label,
                                warning_hints=_adaptive_hints(dead, step == 1 and not dead),
                                error_hint=ZERO_EXPONENT_HINT if step == 1 else "")
    names = ("new_param", "new_m", "new_v")
    got = _outputs(t, result, label=label, names=names, shape=P.shape)

    def averages(b1, b2, square=True):
        return b1 * M + (1 - b1) * G, b2 * V + (1 - b2) * (G ** 2 if square else G)

    def moved(first, second, k1, k2, denominator=None):
        """param after the step with m_hat = first / k1, v_hat = second / k2."""
        def compute():
            shrink = np.sqrt(second / k2) + eps if denominator is None else denominator(second / k2)
            return P - lr * (first / k1) / shrink
        return quietly(compute)

    m_new, v_new = averages(beta1, beta2)
    c1, c2 = 1 - beta1 ** step, 1 - beta2 ** step
    expected = [P - lr * (m_new / c1) / (np.sqrt(v_new / c2) + eps), m_new, v_new]
    m_swapped, v_swapped = beta2 * M + (1 - beta2) * G, beta1 * V + (1 - beta1) * G ** 2
    m_default, v_default = averages(0.9, 0.999)
    v_unsquared = averages(beta1, beta2, square=False)[1]
    earlier = (1 - beta1 ** (step - 1), 1 - beta2 ** (step - 1))
    later = (1 - beta1 ** (step + 1), 1 - beta2 ** (step + 1))
    _compare(t, got, expected, _py_adam(P, G, M, V, step, lr, beta1, beta2, eps), names=names,
             label=label, tolerance=_tolerance(param, grad, m, v), hint=(
                 "The rule is m = beta1 m + (1 - beta1) grad, v = beta2 v + (1 - beta2) grad^2, "
                 "m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), param - lr m_hat / "
                 f"(sqrt(v_hat) + eps) ({ADAPTIVE_SECTION})."),
             mistakes=[
                 ((moved(m_new, v_new, 1.0, 1.0), m_new, v_new),
                  ("no bias correction: m and v start at 0, so in the first steps they are "
                   "biased towards 0; divide by 1 - beta1 ** t and 1 - beta2 ** t before the "
                   f"step: m_hat = m / (1 - beta1 ** t), v_hat = v / (1 - beta2 ** t) "
                   f"({ADAPTIVE_SECTION}).")),
                 ((moved(m_new, v_new, *earlier), m_new, v_new),
                  (f"the bias correction used t - 1 = {step - 1}: the t passed in is already "
                   f"this step's number (the first step is t = 1), use beta ** t "
                   f"({ADAPTIVE_SECTION}).")),
                 ((moved(m_new, v_new, *later), m_new, v_new),
                  (f"the bias correction used t + 1 = {step + 1}: the t passed in is already "
                   "this step's number, do not add 1 to it.")),
                 ((moved(m_new, v_new, beta1 ** step, beta2 ** step), m_new, v_new),
                  "the bias correction divides by 1 - beta ** t, not by beta ** t."),
                 ((moved(m_new, v_new, c1, c2, lambda vh: vh + eps), m_new, v_new),
                  (f"the square root is missing: param - lr * m_hat / (sqrt(v_hat) + eps) "
                   f"({ADAPTIVE_SECTION}).")),
                 ((moved(m_new, v_new, c1, c2, lambda vh: np.sqrt(vh + eps)), m_new, v_new),
                  EPS_INSIDE.replace("sqrt(s", "sqrt(v_hat")),
                 ((moved(m_new, v_new, c1, c2, lambda vh: np.sqrt(vh) + eps / math.sqrt(c2)),
                   m_new, v_new),
                  ("you folded the bias corrections into the step size, lr * sqrt(1 - beta2 ** "
                   "t) / (1 - beta1 ** t), but left eps as it is (TensorFlow's arrangement). "
                   "That changes eps: it amounts to sqrt(v_hat) + eps / sqrt(1 - beta2 ** t), "
                   "which matters for gradients of order 1e-7, as here. Scale eps too, eps * "
                   "sqrt(1 - beta2 ** t), or compute m_hat and v_hat as written "
                   f"({ADAPTIVE_SECTION}).")),
                 ((expected[0], m_new / c1, v_new / c2),
                  ("you returned the corrected m_hat and v_hat as the new state: return the "
                   "plain averages m and v; the correction is recomputed from t at every "
                   "step.")),
                 ((moved(m_new, v_unsquared, c1, c2), m_new, v_unsquared),
                  "v is the average of the squared gradients: (1 - beta2) * grad ** 2."),
                 ((moved(beta1 * M + G, v_new, c1, c2), beta1 * M + G, v_new),
                  ("the new gradient is weighted by (1 - beta1): m = beta1 * m + (1 - beta1) * "
                  "grad.")),
                 ((moved(m_new, beta2 * V + G ** 2, c1, c2), m_new, beta2 * V + G ** 2),
                  ("the new squared gradient is weighted by (1 - beta2): v = beta2 * v + "
                  "(1 - beta2) * grad ** 2.")),
                 ((moved(m_swapped, v_swapped, 1 - beta2 ** step, 1 - beta1 ** step),
                   m_swapped, v_swapped),
                  "beta1 and beta2 are swapped: beta1 (0.9) belongs to m, beta2 (0.999) to v."),
                 ((moved(M, V, c1, c2), m_new, v_new),
                  "the step used the old m and v: update both averages first."),
                 ((moved(m_new, v_new, 1.0, c2), m_new, v_new),
                  "only v was bias-corrected: m_hat = m / (1 - beta1 ** t) too."),
                 ((moved(m_new, v_new, c1, 1.0), m_new, v_new),
                  "only m was bias-corrected: v_hat = v / (1 - beta2 ** t) too."),
                 ((quietly(lambda: 2 * P - expected[0]), m_new, v_new),
                  "the step goes uphill: subtract lr * m_hat / (sqrt(v_hat) + eps) from param."),
                 ((expected[0], v_new, m_new),
                  "m and v are swapped: `return new_param, new_m, new_v`, in this order."),
                 ((moved(m_default, v_default, 1 - 0.9 ** step, 1 - 0.999 ** step), m_default,
                   v_default),
                  ("you used beta1 = 0.9 and beta2 = 0.999 whatever was passed: use the "
                  "arguments.")),
             ])


def _adam_run(t, adam_step, param, grads, lr, *hyper):
    optimizer = _ReferenceAdam(lr, *hyper)
    reference = {"w": _asarray(param, dtype=float).copy()}
    current, m, v = _asarray(param).copy(), np.zeros_like(param), np.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        label = (f"adam_step, step t = {step} of a run from m = v = 0 next to "
                 f"nnlib.optimizers.Adam({lr}{''.join(f', {h}' for h in hyper)})")
        result = _call_keeping_grad(t, adam_step, (current, grad, m, v, step, lr, *hyper), 1,
                                    label=label, warning_hints=_adaptive_hints(False, step == 1),
                                    error_hint=ZERO_EXPONENT_HINT if step == 1 else "")
        current, m, v = _outputs(t, result, label=label, names=("new_param", "new_m", "new_v"),
                                 shape=reference["w"].shape)
        optimizer.step(reference, {"w": _asarray(grad, dtype=float)})
        tolerance = _tolerance(param, grads)
        t.close(current, reference["w"], label=f"{label}: the returned new_param",
                rtol=tolerance[0], atol=tolerance[1],
                hint="Pass each step the m and v the previous one returned, and t = 1, 2, ...")
        current, m, v = current.copy(), m.copy(), v.copy()


# --- L2 penalty ---------------------------------------------------------------------------------

def _sgd_weight_decay_gradient(W, lam):
    """What SGD(1.0, weight_decay=lam) subtracts from a weight "W" whose loss gradient is 0."""
    weights = _asarray(W, dtype=float)
    params = {"W": weights.copy()}
    _ReferenceSGD(1.0, weight_decay=lam).step(params, {"W": np.zeros_like(weights)})
    return weights - params["W"]


def _l2_cases(t):
    return [(t.rng.normal(size=(4, 3)), 0.01), (t.rng.normal(size=6), 0.5),
            (t.rng.normal(size=(2, 2, 3)), 2)]


@check("l2_gradient", lesson="lesson 05")
def check_l2_gradient(t, l2_gradient, cases=None):
    """Check the gradient of the penalty lam / 2 * ||W||^2, which is lam * W."""
    for W, lam in cases if cases is not None else _l2_cases(t):
        _l2_case(t, l2_gradient, W, lam)


def _l2_case(t, l2_gradient, W, lam):
    W_array = _asarray(W)
    label = f"l2_gradient(W, lam={lam}) with W {describe(W_array)}"
    result = t.call(l2_gradient, W, lam, label=label)
    result = t.array(result, label=label, shape=W_array.shape, shape_hints={
        (): ("a single number: is it the penalty lam / 2 * sum(W ** 2) itself? Return its "
             "gradient, one entry per weight, shaped like W")})
    Wf = _asarray(W, dtype=float)
    tolerance = _tolerance(W)
    t.close(result, _sgd_weight_decay_gradient(Wf, lam), label=label, rtol=tolerance[0],
            atol=tolerance[1], show_input=Wf,
            recheck=[lam * w for w in _entries(Wf)],
            mistakes=[
                (2 * lam * Wf, ("a factor 2 too large: that is the gradient of lam * ||W||^2. "
                                "The penalty is lam / 2 * ||W||^2, whose 1/2 cancels the 2 of "
                                f"the square: lam * W ({REGULARISATION_SECTION}).")),
                (lam * np.sign(Wf), ("that is lam * sign(W), the gradient of the L1 penalty "
                                     "lam * sum |W|; the L2 penalty's gradient is lam * W "
                                     f"({REGULARISATION_SECTION}).")),
                (lam / 2 * Wf, ("half the gradient: the derivative of lam / 2 * w^2 is lam * w "
                                "(the 2 of the square cancels the 1/2).")),
                (-lam * Wf, ("the sign is flipped: the gradient of the penalty points away from "
                             "0, lam * W; the optimiser subtracts it, which pulls W towards 0.")),
                (lam / 2 * Wf ** 2, ("that is each weight's share of the penalty, lam / 2 * "
                                     "w^2, not its derivative lam * w.")),
                (Wf, "you ignored lam: the gradient is lam * W."),
            ],
            hint=f"The gradient of lam / 2 * sum(W ** 2) is lam * W ({REGULARISATION_SECTION}).")


# --- dropout forward ----------------------------------------------------------------------------

def _dropout_cases(t):
    return [(t.rng.normal(size=(200, 50)), 0.3, 11), (np.ones((40, 60, 5)), 0.8, 12),
            (t.rng.normal(size=(7, 3)), 0.0, 13)]


@check("dropout_forward", lesson="lesson 05")
def check_dropout_forward(t, dropout_forward, cases=None):
    """Check inverted dropout: out = x * mask, mask = keep / (1 - rate), keep ~ Bernoulli(1 - rate)."""
    for x, rate, seed in cases if cases is not None else _dropout_cases(t):
        _dropout_case(t, dropout_forward, _asarray(x), rate, seed)


def _dropout_call(t, dropout_forward, x, rate, seed, label):
    result = t.call(dropout_forward, x, rate, _default_rng(seed), label=label,
                    changed_input_hint="compute out = x * mask as a new array, so that the "
                                       "layer's input stays as it was.")
    if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(
            result[1], np.ndarray) and result[1].dtype == bool:
        t.fail(f"{label} returned a boolean mask: return the scaled mask keep / (1 - rate), "
               f"floats, the very factor you multiplied x by ({REGULARISATION_SECTION}).")
    return _outputs(t, result, label=label, names=("out", "mask"), shape=x.shape)


def _dropout_case(t, dropout_forward, x, rate, seed):
    label = f"dropout_forward(x, rate={rate}, rng=np.random.default_rng({seed})) with x {describe(x)}"
    out, mask = _dropout_call(t, dropout_forward, x, rate, seed, label)
    tolerance = (1e-6, 1e-7) if np.float32 in (x.dtype, out.dtype, mask.dtype) else (1e-12, 1e-15)
    xs, outs, masks = _entries(x), _entries(out), _entries(mask)
    scale = 1.0 / (1.0 - rate)
    product = [a * b for a, b in zip(xs, masks)]
    bad = first_mismatch(outs, product, *tolerance)
    if bad >= 0 and first_mismatch(outs, [p * scale for p in product], *tolerance) < 0:
        t.fail(f"{label}: out is scaled by 1 / (1 - rate) but the mask you returned is not: "
               f"return the mask x was multiplied by, keep / (1 - rate), which backward uses.")
    t.true(bad < 0, f"{label}: out must equal x * mask, entry by entry; at flat index {bad} x "
                    f"is {xs[bad]:.6g} and mask {masks[bad]:.6g}, but out is {outs[bad]:.6g}.")

    def only(values, allowed):
        return all(any(abs(m - a) <= 1e-6 * abs(a) + 1e-7 for a in allowed) for m in values)

    odd = [m for m in masks if not only([m], (0.0, scale))]
    if odd and rate > 0 and only(masks, (0.0, 1.0)):
        t.fail(f"{label}: the mask holds only 0 and 1, so the kept values are not rescaled; "
               f"inverted dropout divides them by 1 - rate (mask = keep / (1 - rate) = "
               f"{scale:.6g} for kept entries), so that the expected output is x and nothing "
               f"needs changing at evaluation ({REGULARISATION_SECTION}).")
    if odd and rate > 0 and only(masks, (0.0, 1.0 - rate)):
        t.fail(f"{label}: the kept entries were multiplied by 1 - rate = {1 - rate:.6g}; "
               f"divide by it instead: mask = keep / (1 - rate) = {scale:.6g}, so that "
               f"E[out] = x ({REGULARISATION_SECTION}).")
    t.true(not odd, f"{label}: every mask entry must be 0 (dropped) or 1 / (1 - rate) = "
                    f"{scale:.6g} (kept), found {odd[0] if odd else 0.0:.6g}.")
    if rate > 0 and x.ndim >= 2 and x.shape[0] > 1 and x.shape[1] > 1:
        rows = mask.reshape(x.shape[0], -1)
        same_rows = all(first_mismatch(_entries(row), _entries(rows[0]), 0.0, 0.0) < 0
                        for row in rows)
        columns = np.moveaxis(mask, 1, 0).reshape(x.shape[1], -1)
        same_columns = all(first_mismatch(_entries(c), _entries(columns[0]), 0.0, 0.0) < 0
                           for c in columns)
        t.true(not same_rows and not same_columns,
               f"{label}: the mask repeats along one axis (every "
               f"{'row' if same_rows else 'column'} is the same): draw one keep decision per "
               f"entry, rng.random(x.shape), not one per row or column.")
    n = len(masks)
    kept = sum(1 for m in masks if m != 0.0) / n
    spread = _sqrt(rate * (1 - rate) / n)
    near = (kept == 1.0 if rate == 0.0
            else abs(kept - (1 - rate)) <= 5 * spread + 1 / n)  # 5 standard deviations
    if not near and rate != 0.5 and abs(kept - rate) <= 5 * spread + 1 / n:
        t.fail(f"{label}: you kept {kept:.1%} of the entries, about rate = {rate}: you "
               f"dropped with probability 1 - rate. rate is the probability of dropping: "
               f"keep = rng.random(x.shape) >= rate keeps a fraction 1 - rate "
               f"({REGULARISATION_SECTION}).")
    t.true(near, f"{label}: you kept {kept:.1%} of the entries; each entry is kept with "
                 f"probability 1 - rate = {1 - rate:.0%}, e.g. keep = rng.random(x.shape) >= "
                 f"rate.")
    if rate > 0 and first_mismatch(xs, [1.0] * n, 0.0, 0.0) < 0:
        mean = sum(outs) / n
        t.true(abs(mean - 1.0) <= 5 * spread * scale + scale / n,
               f"{label}: for x of ones the mean of out is {mean:.4g}; inverted dropout keeps "
               f"it at 1 (E[mask] = 1).")
    again = _dropout_call(t, dropout_forward, x, rate, seed, label + ", called again")[1]
    t.true(first_mismatch(_entries(again), masks, 0.0, 0.0) < 0,
           f"{label}: a generator with the same seed gave a different mask: draw the random "
           f"numbers from the rng you are given (rng.random(x.shape)), not from np.random or a "
           f"new generator, so that training is reproducible.")
    if rate > 0:
        other = _dropout_call(t, dropout_forward, x, rate, seed + 1,
                              label.replace(f"({seed})", f"({seed + 1})"))[1]
        t.true(first_mismatch(_entries(other), masks, 0.0, 0.0) >= 0,
               f"{label}: a generator with another seed gave the same mask: draw the random "
               f"numbers from the rng you are given, not from a generator with a fixed seed.")


# --- dropout backward ---------------------------------------------------------------------------

def _dropout_masks(t, shape, rate):
    keep = t.rng.random(shape) >= rate
    return keep / (1.0 - rate)


def _dropout_backward_cases(t):
    return [(t.rng.normal(size=(6, 5)), _dropout_masks(t, (6, 5), 0.25)),
            (t.rng.normal(size=8), _dropout_masks(t, 8, 0.5)),
            (t.rng.normal(size=(2, 3, 4)), _dropout_masks(t, (2, 3, 4), 0.6))]


@check("dropout_backward", lesson="lesson 05")
def check_dropout_backward(t, dropout_backward, cases=None):
    """Check that the gradient flows back through the forward pass's mask: grad * mask."""
    for grad, mask in cases if cases is not None else _dropout_backward_cases(t):
        _dropout_backward_case(t, dropout_backward, _asarray(grad), _asarray(mask))


def _dropout_backward_case(t, dropout_backward, grad, mask):
    label = f"dropout_backward(grad, mask) with grad {describe(grad)}"
    result = t.call(dropout_backward, grad, mask, label=label,
                    changed_input_hint="multiply into a new array, grad * mask, not `grad *= "
                                       "mask`: the caller's gradient must stay as it was.",
                    warning_hint="the mask is 0 at the dropped entries, so it cannot be "
                                 "divided by: multiply, grad * mask")
    result = t.array(result, label=label, shape=grad.shape)
    G, K = _as_float_arrays(grad, mask)
    tolerance = _tolerance(grad, mask)
    t.close(result, G * K, label=label, rtol=tolerance[0], atol=tolerance[1],
            recheck=[g * k for g, k in zip(_entries(G), _entries(K))],
            mistakes=[
                (G, ("you returned grad unchanged: the entries dropped in the forward pass did "
                     "not affect the output, so their gradient is 0; multiply by the mask "
                     f"({REGULARISATION_SECTION}).")),
                (G * (K > 0), ("the kept entries' gradients must be scaled by 1 / (1 - rate) as "
                               "well, exactly as forward scaled them: multiply by the mask "
                               "itself.")),
                (K, "you returned the mask itself: multiply it with the incoming gradient."),
                (quietly(lambda: G / np.where(K == 0, 1.0, K) * (K > 0)),
                 ("you divided by the mask's scale: the derivative of x * mask is mask, so "
                 "multiply, grad * mask.")),
            ],
            hint=("out = x * mask, so d out / d x = mask: the gradient is grad * mask "
                  f"({REGULARISATION_SECTION})."))


# --- cosine with warm-up ------------------------------------------------------------------------

def _py_cosine(step, peak, total, warmup, final):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / (total - warmup))
    return final + (peak - final) * (1 + _cos(_pi * progress)) / 2


@check("cosine_with_warmup", lesson="lesson 05")
def check_cosine_with_warmup(t, cosine_with_warmup, cases=None):
    """Check the learning rate at every step against nnlib.optimizers.CosineWithWarmup."""
    default = [(0.1, 20, 5), (0.01, 12, 0, 0.001), (1.0, 9, 3, 0.25)]
    for case in cases if cases is not None else default:
        _cosine_case(t, cosine_with_warmup, *case)


def _cosine_case(t, cosine_with_warmup, peak, total, warmup, *rest):
    final = rest[0] if rest else 0.0
    shown = f"peak={peak}, total_steps={total}, warmup_steps={warmup}" + (
        f", final={final}" if rest else "")
    steps = list(range(total + 3))
    rates = []
    for step in steps:
        label = f"cosine_with_warmup({step}, {shown.replace('peak=', '', 1)})"
        result = t.call(cosine_with_warmup, step, peak, total, warmup, *rest, label=label,
                        error_hint=("with warmup_steps = 0 there is no warm-up: the cosine "
                                    "starts at step 0, and nothing may divide by warmup_steps."
                                    if warmup == 0 else ""))
        rates.append(t.number(result, label=label))
    reference = _ReferenceCosineWithWarmup(peak, total, warmup, final)
    expected = [reference(step) for step in steps]

    def schedule(rule):
        with np.errstate(all="ignore"):
            try:
                return np.array([rule(s) for s in steps], dtype=float)
            except (ArithmeticError, ValueError):
                return None

    def cosine(s, start, length, low=final, high=peak, clip=True, half=0.5, one=1.0):
        progress = (s - start) / length
        progress = min(1.0, progress) if clip else progress
        return low + (high - low) * half * (one + _cos(_pi * progress))

    def warm_or(rule, ramp=lambda s: peak * (s + 1) / warmup):
        return schedule(lambda s: ramp(s) if s < warmup else rule(s))

    label = (f"the schedule cosine_with_warmup(step, {shown}) over step = 0, 1, ..., "
             f"{total + 2}")
    t.close(np.array(rates), np.array(expected), label=label, rtol=1e-9, atol=1e-12,
            show_input=np.array(steps), recheck=[_py_cosine(s, peak, total, warmup, final)
                                                 for s in steps],
            mistakes=[
                (warm_or(lambda s: cosine(s, warmup, total - warmup),
                         ramp=lambda s: peak * s / warmup),
                 ("the warm-up is off by one: step 0 already uses peak * (0 + 1) / "
                  "warmup_steps, and the peak is reached at step warmup_steps - 1: "
                  f"peak * (step + 1) / warmup_steps ({SCHEDULE_SECTION}).")),
                (schedule(lambda s: peak * (s + 1) / warmup if s <= warmup
                          else cosine(s, warmup, total - warmup)),
                 ("the warm-up covers the steps 0 ... warmup_steps - 1 only (step < "
                  "warmup_steps); at step warmup_steps the cosine begins, at the peak.")),
                (warm_or(lambda s: cosine(s, 0, total)),
                 ("the cosine was measured from step 0; it starts after the warm-up: progress "
                  f"= (step - warmup_steps) / (total_steps - warmup_steps) ({SCHEDULE_SECTION}).")),
                (warm_or(lambda s: cosine(s, warmup, total)),
                 ("the cosine's length is total_steps - warmup_steps, the steps left after the "
                  "warm-up: progress = (step - warmup_steps) / (total_steps - warmup_steps).")),
                (warm_or(lambda s: cosine(s, warmup, total - warmup, clip=False)),
                 ("after total_steps the rate must stay at final: cap the progress at 1, "
                  "min(1, ...), or the cosine climbs back up.")),
                (warm_or(lambda s: cosine(s, warmup, total - warmup - 1)),
                 ("the cosine reaches final one step early: it reaches it at step total_steps "
                  "(one after the last update), progress = (step - warmup_steps) / "
                  "(total_steps - warmup_steps).")),
                (warm_or(lambda s: cosine(s, warmup, total - warmup, low=0.0)),
                 "you ignored final: the cosine falls from peak to final, not to 0."),
                (warm_or(lambda s: final + cosine(s, warmup, total - warmup, low=0.0)),
                 ("the cosine spans peak - final: final + (peak - final) * (1 + cos) / 2, so "
                  "that it starts at the peak.")),
                (warm_or(lambda s: cosine(s, warmup, total - warmup, half=1.0)),
                 ("the factor 1/2 is missing: (1 + cos) / 2 runs from 1 to 0, so the rate from "
                  "peak to final.")),
                (warm_or(lambda s: cosine(s, warmup, total - warmup, one=0.0, half=1.0)),
                 ("cos alone runs from 1 to -1 and turns the rate negative: use (1 + cos(pi * "
                  "progress)) / 2.")),
            ],
            hint=(f"Warm-up: peak * (step + 1) / warmup_steps for step < warmup_steps; then "
                  f"final + (peak - final) * (1 + cos(pi * progress)) / 2 with progress = "
                  f"(step - warmup_steps) / (total_steps - warmup_steps), capped at 1 "
                  f"({SCHEDULE_SECTION})."))
