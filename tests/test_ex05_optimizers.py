"""Exercise set ex05_optimizers: every check and hidden test against the solution, the stub,
plausible wrong answers (the table below) and odd return values.

Each wrong answer is a mistake students make; the check must fail it with a message that names
that mistake, and the hidden tests must fail it too.
"""

import math

import numpy as np
import pytest
from exercise_support import ExerciseSet, assert_fails_with, odd_answers, part_tests

import nnlib.checks._integrity
import nnlib.checks.optimizers
import nnlib.optimizers
from nnlib.checks import (
    CheckFailed,
    check_adam_step,
    check_cosine_with_warmup,
    check_l2_gradient,
    check_momentum_step,
    check_rmsprop_step,
)

SET = ExerciseSet("ex05_optimizers")
SOLUTIONS = SET.solution_namespace()
STEP_PARTS = {"momentum_step": 2, "rmsprop_step": 2, "adam_step": 3, "dropout_forward": 2}


# --- momentum -----------------------------------------------------------------------------------

def momentum_uphill(param, grad, velocity, lr, momentum=0.9):
    velocity = momentum * velocity + lr * grad
    return param + velocity, velocity


def momentum_opposite_sign_convention(param, grad, velocity, lr, momentum=0.9):
    velocity = momentum * velocity + lr * grad
    return param - velocity, velocity


def momentum_minus_velocity(param, grad, velocity, lr, momentum=0.9):
    velocity = momentum * velocity - lr * grad
    return param - velocity, velocity


def momentum_other_convention(param, grad, velocity, lr, momentum=0.9):
    velocity = momentum * velocity + grad
    return param - lr * velocity, velocity


def momentum_old_velocity_moves_param(param, grad, velocity, lr, momentum=0.9):
    return param + velocity, momentum * velocity - lr * grad


def momentum_without_memory(param, grad, velocity, lr, momentum=0.9):
    return param - lr * grad, -lr * grad


def momentum_fixed_at_0_9(param, grad, velocity, lr, momentum=0.9):
    velocity = 0.9 * velocity - lr * grad
    return param + velocity, velocity


def momentum_returns_only_param(param, grad, velocity, lr, momentum=0.9):
    return param + momentum * velocity - lr * grad


def momentum_swapped_results(param, grad, velocity, lr, momentum=0.9):
    velocity = momentum * velocity - lr * grad
    return velocity, param + velocity


def momentum_scales_grad_in_place(param, grad, velocity, lr, momentum=0.9):
    grad *= lr
    velocity = momentum * velocity - grad
    return param + velocity, velocity


def momentum_in_place_like_nnlib(param, grad, velocity, lr, momentum=0.9):  # right: passes
    velocity *= momentum
    velocity -= lr * grad
    param += velocity
    return param, velocity


# --- RMSProp ------------------------------------------------------------------------------------

def rmsprop_without_square(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg = rho * square_avg + (1 - rho) * grad
    return param - lr * grad / (np.sqrt(square_avg) + eps), square_avg


def rmsprop_without_sqrt(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg = rho * square_avg + (1 - rho) * grad ** 2
    return param - lr * grad / (square_avg + eps), square_avg


def rmsprop_eps_inside_sqrt(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg = rho * square_avg + (1 - rho) * grad ** 2
    return param - lr * grad / np.sqrt(square_avg + eps), square_avg


def rmsprop_without_eps(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg = rho * square_avg + (1 - rho) * grad ** 2
    return param - lr * grad / np.sqrt(square_avg), square_avg


def rmsprop_growing_sum(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg = rho * square_avg + grad ** 2
    return param - lr * grad / (np.sqrt(square_avg) + eps), square_avg


def rmsprop_old_average_in_step(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    step = lr * grad / (np.sqrt(square_avg) + eps)
    return param - step, rho * square_avg + (1 - rho) * grad ** 2


def rmsprop_fixed_rho(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg = 0.9 * square_avg + 0.1 * grad ** 2
    return param - lr * grad / (np.sqrt(square_avg) + eps), square_avg


# --- Adam ---------------------------------------------------------------------------------------

def _adam_moments(grad, m, v, beta1, beta2):
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad ** 2


def adam_without_bias_correction(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    return param - lr * m / (np.sqrt(v) + eps), m, v


def adam_t_from_zero(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** (t - 1)), v / (1 - beta2 ** (t - 1))
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_t_from_zero_in_python_floats(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999,
                                      eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    scale1, scale2 = 1 / (1 - beta1 ** (t - 1)), 1 / (1 - beta2 ** (t - 1))  # ZeroDivisionError
    return param - lr * m * scale1 / (np.sqrt(v * scale2) + eps), m, v


def adam_t_plus_one(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t += 1
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_without_sqrt(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat + eps), m, v


def adam_eps_inside_sqrt(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / np.sqrt(v_hat + eps), m, v


def adam_folded_without_scaling_eps(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    step_size = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return param - step_size * m / (np.sqrt(v) + eps), m, v


def adam_returns_corrected_state(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _adam_moments(grad, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat


def adam_betas_swapped(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return SOLUTIONS["adam_step"](param, grad, m, v, t, lr, beta2, beta1, eps)


def adam_unsquared_v(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


# --- L2 -----------------------------------------------------------------------------------------

def l2_factor_two(W, lam):
    return 2 * lam * W


def l2_sign(W, lam):
    return lam * np.sign(W)


def l2_halved(W, lam):
    return lam / 2 * W


def l2_wrong_sign(W, lam):
    return -lam * W


def l2_penalty_value(W, lam):
    return lam / 2 * np.sum(W ** 2)


def l2_ignores_lam(W, lam):
    return W.copy()


# --- dropout forward ----------------------------------------------------------------------------

def dropout_without_rescaling(x, rate, rng):
    mask = (rng.random(x.shape) >= rate).astype(float)
    return x * mask, mask


def dropout_rescaled_by_multiplying(x, rate, rng):
    mask = (rng.random(x.shape) >= rate) * (1 - rate)
    return x * mask, mask


def dropout_drops_with_1_minus_rate(x, rate, rng):
    mask = (rng.random(x.shape) < rate) / (1 - rate)
    return x * mask, mask


def dropout_ignores_rng(x, rate, rng):
    mask = (np.random.default_rng().random(x.shape) >= rate) / (1 - rate)
    return x * mask, mask


def dropout_fixed_seed(x, rate, rng):
    mask = (np.random.default_rng(0).random(x.shape) >= rate) / (1 - rate)
    return x * mask, mask


def dropout_one_mask_per_row(x, rate, rng):
    mask = np.broadcast_to((rng.random(x.shape[1:]) >= rate) / (1 - rate), x.shape).copy()
    return x * mask, mask


def dropout_boolean_mask(x, rate, rng):
    keep = rng.random(x.shape) >= rate
    return x * keep / (1 - rate), keep


def dropout_unscaled_mask_returned(x, rate, rng):
    keep = (rng.random(x.shape) >= rate).astype(float)
    return x * keep / (1 - rate), keep


def dropout_in_place(x, rate, rng):
    mask = (rng.random(x.shape) >= rate) / (1 - rate)
    x *= mask
    return x, mask


# --- dropout backward ---------------------------------------------------------------------------

def backward_ignores_mask(grad, mask):
    return grad.copy()


def backward_without_scale(grad, mask):
    return grad * (mask > 0)


def backward_divides_by_mask(grad, mask):
    return grad / mask


def backward_in_place(grad, mask):
    grad *= mask
    return grad


# --- cosine with warm-up ------------------------------------------------------------------------

def _cosine(step, peak, final, start, length, clip=True):
    progress = (step - start) / length
    if clip:
        progress = min(1.0, progress)
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))


def cosine_warmup_off_by_one(step, peak, total_steps, warmup_steps, final=0.0):
    if step < warmup_steps:
        return peak * step / warmup_steps
    return _cosine(step, peak, final, warmup_steps, total_steps - warmup_steps)


def cosine_from_zero(step, peak, total_steps, warmup_steps, final=0.0):
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    return _cosine(step, peak, final, 0, total_steps)


def cosine_not_held(step, peak, total_steps, warmup_steps, final=0.0):
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    return _cosine(step, peak, final, warmup_steps, total_steps - warmup_steps, clip=False)


def cosine_ignores_final(step, peak, total_steps, warmup_steps, final=0.0):
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    return _cosine(step, peak, 0.0, warmup_steps, total_steps - warmup_steps)


def cosine_warmup_one_step_too_long(step, peak, total_steps, warmup_steps, final=0.0):
    if step <= warmup_steps:
        return peak * (step + 1) / warmup_steps
    return _cosine(step, peak, final, warmup_steps, total_steps - warmup_steps)


def cosine_without_the_half(step, peak, total_steps, warmup_steps, final=0.0):
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return final + (peak - final) * (1 + math.cos(math.pi * progress))


WRONG_ANSWERS = [  # (part, wrong answer, what the check's message must say)
    ("momentum_step", momentum_uphill, "the velocity points uphill"),
    ("momentum_step", momentum_opposite_sign_convention, "your velocity has the opposite sign"),
    ("momentum_step", momentum_minus_velocity, "param + v, not param - v"),
    ("momentum_step", momentum_other_convention, "that is the other convention"),
    ("momentum_step", momentum_old_velocity_moves_param, "you moved param by the old velocity"),
    ("momentum_step", momentum_without_memory, "the velocity forgot its past"),
    ("momentum_step", momentum_fixed_at_0_9, "you used momentum 0.9 whatever was passed"),
    ("momentum_step", momentum_returns_only_param, "it must return 2 arrays"),
    ("momentum_step", momentum_swapped_results, "the two results are swapped"),
    ("momentum_step", momentum_scales_grad_in_place, "changed grad in place"),
    ("rmsprop_step", rmsprop_without_square, "must be of the squared gradients"),
    ("rmsprop_step", rmsprop_without_sqrt, "the square root is missing"),
    ("rmsprop_step", rmsprop_eps_inside_sqrt, "you added eps inside the square root"),
    ("rmsprop_step", rmsprop_without_eps, "gives 0 / 0: add eps"),
    ("rmsprop_step", rmsprop_growing_sum, "weighted by (1 - rho)"),
    ("rmsprop_step", rmsprop_old_average_in_step, "you divided by the old average"),
    ("rmsprop_step", rmsprop_fixed_rho, "you used rho = 0.9 whatever was passed"),
    ("adam_step", adam_without_bias_correction, "no bias correction"),
    ("adam_step", adam_t_from_zero, "a division by zero means an exponent of 0"),
    ("adam_step", adam_t_from_zero_in_python_floats,
     "raised ZeroDivisionError: float division by zero"),
    ("adam_step", adam_t_plus_one, "the bias correction used t + 1"),
    ("adam_step", adam_without_sqrt, "the square root is missing"),
    ("adam_step", adam_eps_inside_sqrt, "you added eps inside the square root, sqrt(v_hat + eps)"),
    ("adam_step", adam_folded_without_scaling_eps, "but left eps as it is"),
    ("adam_step", adam_returns_corrected_state, "you returned the corrected m_hat and v_hat"),
    ("adam_step", adam_betas_swapped, "beta1 and beta2 are swapped"),
    ("adam_step", adam_unsquared_v, "*squared* gradients"),
    ("l2_gradient", l2_factor_two, "a factor 2 too large"),
    ("l2_gradient", l2_sign, "the gradient of the L1 penalty"),
    ("l2_gradient", l2_halved, "half the gradient"),
    ("l2_gradient", l2_wrong_sign, "the sign is flipped"),
    ("l2_gradient", l2_penalty_value, "is it the penalty lam / 2 * sum(W ** 2) itself?"),
    ("l2_gradient", l2_ignores_lam, "you ignored lam"),
    ("dropout_forward", dropout_without_rescaling, "the kept values are not rescaled"),
    ("dropout_forward", dropout_rescaled_by_multiplying, "multiplied by 1 - rate"),
    ("dropout_forward", dropout_drops_with_1_minus_rate, "you dropped with probability 1 - rate"),
    ("dropout_forward", dropout_ignores_rng, "the same seed gave a different mask"),
    ("dropout_forward", dropout_fixed_seed, "another seed gave the same mask"),
    ("dropout_forward", dropout_one_mask_per_row, "every row is the same"),
    ("dropout_forward", dropout_boolean_mask, "returned a boolean mask"),
    ("dropout_forward", dropout_unscaled_mask_returned, "the mask you returned is not"),
    ("dropout_forward", dropout_in_place, "changed its argument number 1 in place"),
    ("dropout_backward", backward_ignores_mask, "you returned grad unchanged"),
    ("dropout_backward", backward_without_scale, "scaled by 1 / (1 - rate) as well"),
    ("dropout_backward", backward_divides_by_mask, "multiply, grad * mask"),
    ("dropout_backward", backward_in_place, "changed its argument number 1 in place"),
    ("cosine_with_warmup", cosine_warmup_off_by_one, "the warm-up is off by one"),
    ("cosine_with_warmup", cosine_from_zero, "the cosine was measured from step 0"),
    ("cosine_with_warmup", cosine_not_held, "after total_steps the rate must stay at final"),
    ("cosine_with_warmup", cosine_ignores_final, "you ignored final"),
    ("cosine_with_warmup", cosine_warmup_one_step_too_long,
     "the warm-up covers the steps 0 ... warmup_steps - 1 only"),
    ("cosine_with_warmup", cosine_without_the_half, "the factor 1/2 is missing"),
]


(test_the_table_covers_every_part_with_at_least_two_wrong_answers,
 test_check_and_hidden_tests_pass_on_the_solution,
 test_check_and_hidden_tests_fail_on_the_stub,
 test_check_names_the_mistake_and_hidden_tests_fail) = part_tests(SET, WRONG_ANSWERS)


@pytest.mark.parametrize(("check", "wrong", "ordinary", "tiny"), [
    (check_rmsprop_step, rmsprop_eps_inside_sqrt,
     (np.ones(3), np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.2, 0.3]), 0.01),
     (np.ones(3), np.array([1e-7, -2e-7, 3e-7]), np.zeros(3), 0.01)),
    (check_adam_step, adam_eps_inside_sqrt,
     (np.ones(3), np.array([0.5, -1.0, 2.0]), np.zeros(3), np.zeros(3), 1, 0.01),
     (np.ones(3), np.array([1e-7, -2e-7, 3e-7]), np.zeros(3), np.zeros(3), 1, 0.01)),
])
def test_eps_inside_the_square_root_is_wrong_only_where_it_changes_the_step(check, wrong,
                                                                            ordinary, tiny):
    """Fairness: on ordinary gradients the variant differs by rounding, and passes; it is called
    wrong only for gradients near sqrt(eps), where the step really changes, and told why."""
    assert check(wrong, cases=[ordinary], runs=[]) is True
    with pytest.raises(CheckFailed, match="you added eps inside the square root") as failure:
        check(wrong, cases=[tiny], runs=[])
    assert "For ordinary gradients the two agree" in str(failure.value)


def test_a_schedule_that_divides_by_zero_warm_up_steps_is_told_there_is_no_warm_up():
    with pytest.raises(CheckFailed) as failure:
        check_cosine_with_warmup(cosine_warmup_one_step_too_long, cases=[(0.01, 12, 0, 0.001)])
    assert "raised ZeroDivisionError" in str(failure.value)
    assert "with warmup_steps = 0 there is no warm-up" in str(failure.value)


# --- odd return values --------------------------------------------------------------------------

def _odd_step_answers(part):
    """(label, answer, fragment) for the functions that return a tuple of arrays."""
    count = STEP_PARTS[part]
    solution = SOLUTIONS[part]

    def returns_none(*args):
        return None

    def returns_a_number(*args):
        return 0.5

    def returns_a_list_of_numbers(*args):
        return [0.0] * count

    def returns_nan(*args):
        first, *rest = solution(*args)
        return (np.full(np.shape(first), np.nan), *rest)

    def returns_integers(*args):
        first, *rest = solution(*args)
        return (np.zeros(np.shape(first), dtype=int), *rest)

    def raises_inside(*args):
        return 1 / 0

    return [("None", returns_none, "returned None"),
            ("a number", returns_a_number, f"it must return {count} arrays"),
            ("numbers", returns_a_list_of_numbers, "you returned a single number"),
            ("NaN", returns_nan, "returned nan"),
            ("integers", returns_integers, "dtype int64"),
            ("an exception", raises_inside, "raised ZeroDivisionError")]


@pytest.mark.parametrize("part", SET.parts)
def test_odd_return_values_get_their_own_message(part):
    if part in STEP_PARTS:
        answers = _odd_step_answers(part)
    else:
        answers = odd_answers(SOLUTIONS[part])
    for label, answer, message in answers:
        assert_fails_with(SET.run_check(part, answer), message), label
        assert not SET.run_hidden(part, answer).passed, label


# --- right answers written differently ----------------------------------------------------------

def rmsprop_in_place(param, grad, square_avg, lr, rho=0.9, eps=1e-8):
    square_avg *= rho
    square_avg += (1 - rho) * grad * grad
    param -= lr * grad / (np.sqrt(square_avg) + eps)
    return param, square_avg


def adam_with_folded_constants(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma and Ba's efficient form: the corrections folded into the step size and eps."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * np.power(grad, 2)
    root = math.sqrt(1 - beta2 ** t)
    step_size = lr * root / (1 - beta1 ** t)
    return param - step_size * m / (np.sqrt(v) + eps * root), m, v


def dropout_keep_below(x, rate, rng):
    mask = (rng.random(x.shape) < 1 - rate).astype(x.dtype) / x.dtype.type(1 - rate)
    return x * mask, mask


def dropout_binomial(x, rate, rng):
    mask = rng.binomial(1, 1 - rate, size=x.shape) / (1 - rate)
    return x * mask, mask


def cosine_as_zero_d_array(step, peak, total_steps, warmup_steps, final=0.0):
    if step < warmup_steps:
        return np.array(peak * (step + 1) / warmup_steps)
    progress = np.clip((step - warmup_steps) / (total_steps - warmup_steps), 0, 1)
    return np.asarray(final + (peak - final) * (1 + np.cos(np.pi * progress)) / 2)


RIGHT_ANSWERS = [
    ("momentum_step", momentum_in_place_like_nnlib),
    ("rmsprop_step", rmsprop_in_place),
    ("adam_step", adam_with_folded_constants),
    ("l2_gradient", lambda W, lam: np.multiply(lam, W)),
    ("dropout_forward", dropout_keep_below),
    ("dropout_forward", dropout_binomial),
    ("dropout_backward", lambda grad, mask: np.multiply(grad, mask)),
    ("cosine_with_warmup", cosine_as_zero_d_array),
]


@pytest.mark.parametrize(("part", "right"), RIGHT_ANSWERS,
                         ids=[f"{part}-{i}" for i, (part, _) in enumerate(RIGHT_ANSWERS)])
def test_right_answers_written_differently_pass_the_check_and_the_hidden_tests(part, right):
    assert SET.run_check(part, right).passed, SET.run_check(part, right)
    assert SET.run_hidden(part, right).passed, SET.run_hidden(part, right)


# --- tampering with what these checks rely on ---------------------------------------------------

def _always(value):
    return lambda *args, **kwargs: value


ATTACKS = [  # (owner, attribute, replacement, check, part, what the message names)
    (nnlib.optimizers.Adam, "update", _always(None), check_adam_step, "adam_step",
     "nnlib.optimizers.Adam.update was replaced"),
    (nnlib.optimizers.CosineWithWarmup, "__call__", _always(0.0), check_cosine_with_warmup,
     "cosine_with_warmup", "nnlib.optimizers.CosineWithWarmup.__call__ was replaced"),
    (nnlib.optimizers, "Momentum", object, check_momentum_step, "momentum_step",
     "nnlib.optimizers.Momentum was replaced"),
    (nnlib.checks.optimizers, "_ReferenceSGD", object, check_l2_gradient, "l2_gradient",
     "nnlib.checks.optimizers._ReferenceSGD was replaced"),
    (nnlib.checks.optimizers, "_compare", _always(None), check_rmsprop_step, "rmsprop_step",
     "nnlib.checks.optimizers._compare was replaced"),
]


@pytest.mark.parametrize(("owner", "name", "replacement", "check", "part", "message"), ATTACKS,
                         ids=[row[5].split(" was")[0] for row in ATTACKS])
def test_replacing_a_reference_is_detected(owner, name, replacement, check, part, message,
                                           capsys):
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        outcome = check(SOLUTIONS[part], raising=False)
    finally:
        setattr(owner, name, original)
    printed = capsys.readouterr()
    assert outcome is False
    assert "tampering detected: " in printed.out and message in printed.out
    assert nnlib.checks._integrity.problems() == []
