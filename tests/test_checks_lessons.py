"""The checks behind the lessons' "Your turn" cells (nnlib.checks.lessons).

Each check passes a right answer, reports a stub as not implemented, and recognises a typical
mistake with its own explanation, all without raising when asked to report.
"""

import numpy as np
import pytest

from nnlib import checks


def center_rows(M):
    return M - M.mean(axis=1, keepdims=True)


def weight_gradient(X, G):
    return sum(np.outer(x, g) for x, g in zip(X, G))     # the definition, one example at a time


def two_layer_forward(X, W1, b1, W2, b2):
    return (X @ W1 + b1) @ W2 + b2


def leaky_relu_slope(z, alpha):
    return np.array([1.0 if v > 0 else alpha for v in z])


def log_sum_exp(z):
    return float(np.logaddexp.reduce(z))


def jacobian_of_softmax(p):
    C = len(p)
    return np.array([[p[i] * ((i == j) - p[j]) for j in range(C)] for i in range(C)])


def momentum_update(theta, velocity, gradient, learning_rate, momentum):
    velocity = momentum * velocity - learning_rate * gradient
    return theta + velocity, velocity


def sgd_weight_decay_step(W, gradient, learning_rate, strength):
    return (1 - learning_rate * strength) * W - learning_rate * gradient


def inverted_dropout(a, keep, p):
    return np.where(keep, a, 0.0) / (1 - p)


RIGHT = {
    "check_center_rows": center_rows,
    "check_weight_gradient": weight_gradient,
    "check_two_layer_forward": two_layer_forward,
    "check_leaky_relu_slope": leaky_relu_slope,
    "check_log_sum_exp": log_sum_exp,
    "check_softmax_jacobian": jacobian_of_softmax,
    "check_momentum_update": momentum_update,
    "check_sgd_weight_decay_step": sgd_weight_decay_step,
    "check_inverted_dropout": inverted_dropout,
}

WRONG = {  # check: (a typical mistake, words of the explanation it must get)
    "check_center_rows": (lambda M: M - M.mean(axis=0), "each column's mean"),
    "check_weight_gradient": (lambda X, G: X.T @ G / len(X), "that is the mean"),
    "check_two_layer_forward": (lambda X, W1, b1, W2, b2: X @ W1 @ W2 + b2, "b1 is missing"),
    "check_leaky_relu_slope": (lambda z, alpha: np.where(z >= 0, 1.0, alpha), "kink"),
    "check_log_sum_exp": (lambda z: float(np.log(np.sum(np.exp(z)))), "overflow"),
    "check_softmax_jacobian": (lambda p: np.diag(p * (1 - p)), "off-diagonal"),
    "check_momentum_update": (
        lambda theta, v, g, lr, mu: (theta + v, mu * v - lr * g), "NEW velocity"),
    "check_sgd_weight_decay_step": (lambda W, g, lr, lam: W - lr * g, "lambda * W is missing"),
    "check_inverted_dropout": (lambda a, keep, p: np.where(keep, a, 0.0), "divided by 1 - p"),
}


def test_every_lesson_check_is_exported():
    assert set(RIGHT) == set(checks.lessons.__all__)
    assert all(name in checks.__all__ for name in RIGHT)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_a_right_answer_passes(name, capsys):
    assert getattr(checks, name)(RIGHT[name], raising=False) is True
    assert ": passed (" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_a_stub_is_reported_as_not_implemented(name, capsys):
    def stub(*args):
        raise NotImplementedError("your turn: write it")

    assert checks.report(getattr(checks, name), stub) is False
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(WRONG))
def test_a_typical_mistake_is_explained(name, capsys):
    mistake, words = WRONG[name]
    assert getattr(checks, name)(mistake, raising=False) is False
    assert words in capsys.readouterr().out


def test_a_failed_lesson_check_raises_when_asked_to():
    with pytest.raises(checks.CheckFailed, match="each column's mean"):
        checks.check_center_rows(WRONG["check_center_rows"][0])
