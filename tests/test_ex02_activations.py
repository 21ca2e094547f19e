"""Exercise set ex02_activations: every check and hidden test against the solution, the stub,
plausible wrong answers (the table below) and odd return values.

Each wrong answer is a mistake students make; the check must fail it with a message that names
that mistake, and the hidden tests must fail it too.
"""

import numpy as np
import pytest
from exercise_support import ExerciseSet, assert_fails_with, odd_answers, part_tests

SET = ExerciseSet("ex02_activations")
SOLUTIONS = SET.solution_namespace()


# --- wrong answers ------------------------------------------------------------------------------

def naive_sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def exp_over_one_plus_exp(z):
    e = np.exp(np.asarray(z, dtype=float))
    return e / (1 + e)


def sigmoid_of_minus_z(z):
    return SOLUTIONS["sigmoid"](-np.asarray(z, dtype=float))


def derivative_in_a(z):  # the formula a(1 - a), applied to z instead of a = sigmoid(z)
    z = np.asarray(z, dtype=float)
    return z * (1 - z)


def derivative_is_sigmoid(z):
    return SOLUTIONS["sigmoid"](z)


def derivative_with_naive_sigmoid(z):
    a = naive_sigmoid(z)
    return a * (1 - a)


def softmax_without_max_shift(Z):
    e = np.exp(Z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_over_axis_0(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_without_keepdims(Z):
    e = np.exp(Z - Z.max(axis=1))
    return e / e.sum(axis=1)


def softmax_with_global_max(Z):
    e = np.exp(Z - Z.max())
    return e / e.sum(axis=1, keepdims=True)


def softmax_over_whole_batch(Z):
    e = np.exp(Z - Z.max())
    return e / e.sum()


def softmax_in_place(Z):
    Z -= Z.max(axis=1, keepdims=True)
    e = np.exp(Z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_sum(P, y):
    return -np.sum(np.log(np.clip(P[np.arange(len(y)), y], 1e-7, 1)))


def cross_entropy_unclipped(P, y):
    return -np.mean(np.log(P[np.arange(len(y)), y]))


def cross_entropy_per_example(P, y):
    return -np.log(np.clip(P[np.arange(len(y)), y], 1e-7, 1))


def cross_entropy_block(P, y):
    return -np.mean(np.log(np.clip(P[:, y], 1e-7, 1)))


def cross_entropy_positive_log(P, y):
    return np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-7, 1)))


def _onehot(y, C):
    return np.eye(C)[y]


def gradient_without_1_over_n(Z, y):
    return SOLUTIONS["softmax"](Z) - _onehot(y, Z.shape[1])


def gradient_from_logits(Z, y):
    return (Z - _onehot(y, Z.shape[1])) / len(y)


def gradient_transposed(Z, y):
    return ((SOLUTIONS["softmax"](Z) - _onehot(y, Z.shape[1])) / len(y)).T


def gradient_sign_flipped(Z, y):
    return (_onehot(y, Z.shape[1]) - SOLUTIONS["softmax"](Z)) / len(y)


def forward_difference(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        nudged = x.copy()
        nudged[index] += eps
        grad[index] = (f(nudged) - f(x)) / eps
    return grad


def central_difference_without_the_2(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (f(up) - f(down)) / eps
    return grad


def central_difference_not_restoring_x(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        x[index] += eps
        above = f(x)
        x[index] -= 2 * eps
        grad[index] = (above - f(x)) / (2 * eps)
    return grad


def central_difference_fixed_eps(f, x, eps=1e-5):
    return SOLUTIONS["numerical_gradient"](f, x, 1e-6)


WRONG_ANSWERS = [  # (part, wrong answer, what the check's message must say)
    ("sigmoid", naive_sigmoid,
     ("sigmoid(-1000.0) warned 'overflow encountered in exp': only exponentiate non-positive "
     "numbers (lesson 02, section 3)")),
    ("sigmoid", exp_over_one_plus_exp, "sigmoid(1000.0) warned 'overflow encountered in exp'"),
    ("sigmoid", sigmoid_of_minus_z, "sigmoid(-z)"),
    ("sigmoid_derivative", derivative_in_a, "compute a = sigmoid(z) first"),
    ("sigmoid_derivative", derivative_is_sigmoid, "that is sigmoid(z) itself"),
    ("sigmoid_derivative", derivative_with_naive_sigmoid, "overflow encountered in exp"),
    ("softmax", softmax_without_max_shift, "subtract each row's maximum"),
    ("softmax", softmax_over_axis_0,
     "your rows do not sum to 1 (columns do): use axis=1 / keepdims=True"),
    ("softmax", softmax_without_keepdims, "keepdims=True"),
    ("softmax", softmax_with_global_max, "each row's maximum"),
    ("softmax", softmax_over_whole_batch, "whole batch"),
    ("softmax", softmax_in_place, "changed its argument number 1 in place"),
    ("cross_entropy", cross_entropy_sum, "divide by N"),
    ("cross_entropy", cross_entropy_unclipped, "clip the probabilities"),
    ("cross_entropy", cross_entropy_per_example, "one loss per example"),
    ("cross_entropy", cross_entropy_block, "N x N block"),
    ("cross_entropy", cross_entropy_positive_log, "the sign is wrong"),
    ("softmax_cross_entropy_gradient", gradient_without_1_over_n, "missing 1/N"),
    ("softmax_cross_entropy_gradient", gradient_from_logits, "apply the softmax first"),
    ("softmax_cross_entropy_gradient", gradient_transposed, "the gradient has the shape of Z"),
    ("softmax_cross_entropy_gradient", gradient_sign_flipped, "the sign is flipped"),
    ("numerical_gradient", forward_difference, "forward difference"),
    ("numerical_gradient", central_difference_without_the_2, "divide by 2 eps"),
    ("numerical_gradient", central_difference_not_restoring_x, "put its original value back"),
    ("numerical_gradient", central_difference_fixed_eps, "ignored the eps argument"),
]


(test_the_table_covers_every_part_with_at_least_two_wrong_answers,
 test_check_and_hidden_tests_pass_on_the_solution,
 test_check_and_hidden_tests_fail_on_the_stub,
 test_check_names_the_mistake_and_hidden_tests_fail) = part_tests(SET, WRONG_ANSWERS)


@pytest.mark.parametrize("part", SET.parts)
def test_odd_return_values_get_their_own_message(part):
    for label, answer, message in odd_answers(SOLUTIONS[part]):
        assert_fails_with(SET.run_check(part, answer), message), label
        assert not SET.run_hidden(part, answer).passed, label
