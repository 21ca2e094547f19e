"""Exercise set ex01_matrix_ops: every check and hidden test against the solution, the stub,
plausible wrong answers (the table below) and odd return values.

Each wrong answer is a mistake students make; the check must fail it with a message that names
that mistake, and the hidden tests must fail it too.
"""

import numpy as np
import pytest
from exercise_support import ExerciseSet, assert_fails_with, odd_answers, part_tests

SET = ExerciseSet("ex01_matrix_ops")
SOLUTIONS = SET.solution_namespace()


# --- wrong answers ------------------------------------------------------------------------------

def dense_without_bias(X, W, b):
    return X @ W


def dense_transposed(X, W, b):
    return W.T @ X.T + b[:, None]


def dense_with_W_transposed(X, W, b):
    return X @ W.T + b


def dense_one_row_at_a_time(X, W, b):  # loops are allowed here, but this one drops the bias
    return np.array([row @ W for row in X])


def distances_not_squared(A, B):
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1))


def distances_with_loops(A, B):
    return np.array([[np.sum((a - b) ** 2) for b in B] for a in A])


def distances_transposed(A, B):
    return ((B[:, None, :] - A[None, :, :]) ** 2).sum(axis=-1)


def distances_not_summed(A, B):
    return (A[:, None, :] - B[None, :, :]) ** 2


def distances_cross_term_without_2(A, B):
    return (A ** 2).sum(axis=1)[:, None] + (B ** 2).sum(axis=1)[None, :] - A @ B.T


def standardize_rows(X):
    return (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)


def standardize_dividing_by_zero(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def standardize_sample_std(X):
    std = X.std(axis=0, ddof=1)
    return np.where(std > 0, (X - X.mean(axis=0)) / np.where(std > 0, std, 1), 0.0)


def standardize_only_centred(X):
    return X - X.mean(axis=0)


def standardize_whole_array(X):
    return (X - X.mean()) / X.std()


def one_hot_from_max_label(y, n_classes):
    return np.eye(y.max() + 1)[y]


def one_hot_with_a_loop(y, n_classes):
    encoded = np.zeros((len(y), n_classes))
    for row, label in enumerate(y):
        encoded[row, label] = 1
    return encoded


def one_hot_transposed(y, n_classes):
    encoded = np.zeros((n_classes, len(y)))
    encoded[y, np.arange(len(y))] = 1
    return encoded


def one_hot_inverted(y, n_classes):
    encoded = np.ones((len(y), n_classes))
    encoded[np.arange(len(y)), y] = 0
    return encoded


WRONG_ANSWERS = [  # (part, wrong answer, what the check's message must say)
    ("dense_forward", dense_without_bias, "you forgot to add the bias b"),
    ("dense_forward", dense_transposed, "did you transpose W"),
    ("dense_forward", dense_with_W_transposed, "shapes line up as (N, D) @ (D, H)"),
    ("dense_forward", dense_one_row_at_a_time, "you forgot to add the bias b"),
    ("pairwise_squared_distances", distances_not_squared, "return their squares"),
    ("pairwise_squared_distances", distances_with_loops, "uses a Python loop"),
    ("pairwise_squared_distances", distances_transposed, "rows follow A and columns follow B"),
    ("pairwise_squared_distances", distances_not_summed, "sum the squared differences"),
    ("pairwise_squared_distances", distances_cross_term_without_2, "needs the factor 2"),
    ("standardize_columns", standardize_rows, "you standardised the rows"),
    ("standardize_columns", standardize_dividing_by_zero, "leave it at 0"),
    ("standardize_columns", standardize_sample_std, "ddof=1"),
    ("standardize_columns", standardize_only_centred, "you only subtracted the mean"),
    ("standardize_columns", standardize_whole_array, "not of the whole array"),
    ("one_hot", one_hot_from_max_label, "n_classes, not y.max() + 1"),
    ("one_hot", one_hot_with_a_loop, "uses a Python loop"),
    ("one_hot", one_hot_transposed, "one row per label"),
    ("one_hot", one_hot_inverted, "zeros and ones are swapped"),
]


(test_the_table_covers_every_part_with_at_least_two_wrong_answers,
 test_check_and_hidden_tests_pass_on_the_solution,
 test_check_and_hidden_tests_fail_on_the_stub,
 test_check_names_the_mistake_and_hidden_tests_fail) = part_tests(SET, WRONG_ANSWERS)


def test_a_square_weight_matrix_used_transposed_is_caught_by_the_hidden_tests():
    outcome = SET.run_hidden("dense_forward", dense_with_W_transposed)
    assert_fails_with(outcome, "you multiplied by W.T")


@pytest.mark.parametrize("part", SET.parts)
def test_odd_return_values_get_their_own_message(part):
    for label, answer, message in odd_answers(SOLUTIONS[part]):
        assert_fails_with(SET.run_check(part, answer), message), label
        assert not SET.run_hidden(part, answer).passed, label
