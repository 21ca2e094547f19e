"""Exercise set ex04_mnist_mlp: every check and hidden test against the solution, the stub,
plausible wrong answers (the table below), odd return values, and independent references
(scikit-learn's accuracy_score and confusion_matrix, nnlib's own mini-batches).

Each wrong answer is a mistake students make; the check must fail it with a message that names
that mistake, and the hidden tests must fail it too. The wrong trainers of train_mlp really
train (a few seconds each, as the solution does), except where the check refuses them first.
"""

import numpy as np
import pytest
from exercise_support import ExerciseSet, assert_fails_with, odd_answers, part_tests
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

import nnlib
import nnlib.checks.mnist_mlp
from nnlib.batches import iterate_minibatches as nnlib_iterate_minibatches
from nnlib.checks import (
    CheckFailed,
    check_accuracy,
    check_confusion_matrix,
    check_iterate_minibatches,
    check_train_mlp,
)
from nnlib.data import load_mnist
from nnlib.optimizers import SGD as NnlibSGD

SET = ExerciseSet("ex04_mnist_mlp")
SOLUTIONS = SET.solution_namespace()
Dense, ReLU = SOLUTIONS["Dense"], SOLUTIONS["ReLU"]
solution_gradient = SOLUTIONS["softmax_cross_entropy_gradient"]


# --- wrong answers: iterate_minibatches ---------------------------------------------------------

def minibatches_in_order(X, y, batch_size, rng):
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def minibatches_shuffled_separately(X, y, batch_size, rng):
    X_order, y_order = rng.permutation(len(X)), rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[X_order[start:start + batch_size]], y[y_order[start:start + batch_size]]


def minibatches_dropping_the_last(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for batch in range(len(X) // batch_size):
        rows = order[batch * batch_size:(batch + 1) * batch_size]
        yield X[rows], y[rows]


def minibatches_with_replacement(X, y, batch_size, rng):
    order = rng.integers(0, len(X), size=len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def minibatches_from_the_global_generator(X, y, batch_size, rng):
    order = np.random.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def minibatches_as_a_list(X, y, batch_size, rng):
    return list(SOLUTIONS["iterate_minibatches"](X, y, batch_size, rng))


# --- wrong answers: accuracy --------------------------------------------------------------------

def accuracy_by_broadcasting(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def accuracy_as_a_count(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError("shapes differ")
    return int(np.sum(y_true == y_pred))


def accuracy_as_a_percentage(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError("shapes differ")
    return 100 * float(np.mean(y_true == y_pred))


def error_rate(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError("shapes differ")
    return float(np.mean(y_true != y_pred))


# --- wrong answers: train_mlp -------------------------------------------------------------------

def _sgd(X, y, rng, *, relu=ReLU, gradient=solution_gradient, batches=None, learning_rate=0.1,
         epochs=10, batch_size=64):
    """Mini-batch SGD on 784-128-64-10, with one piece swapped for a wrong one."""
    batches = batches or SOLUTIONS["iterate_minibatches"]
    layers = [Dense(784, 128, rng), relu(), Dense(128, 64, rng), relu(), Dense(64, 10, rng)]
    for _ in range(epochs):
        for X_batch, y_batch in batches(X, y, batch_size, rng):
            signal = X_batch
            for layer in layers:
                signal = layer.forward(signal)
            grad = gradient(signal, y_batch)
            for layer in reversed(layers):
                grad = layer.backward(grad)
            for layer in layers[::2]:
                layer.W -= learning_rate * layer.grad_W
                layer.b -= learning_rate * layer.grad_b
    return layers


def train_without_shuffling_and_a_tiny_learning_rate(X, y, rng):
    return _sgd(X, y, rng, batches=minibatches_in_order, learning_rate=0.002, epochs=3)


def gradient_without_1_over_n(Z, y):
    return solution_gradient(Z, y) * len(y)


# The check names these two mistakes whatever the number of epochs; two keep the tests quick.

def train_without_1_over_n(X, y, rng):
    return _sgd(X, y, rng, gradient=gradient_without_1_over_n, learning_rate=0.1, epochs=2)


class ReLUPassingTheGradientThrough:
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, grad_output):
        return grad_output


def train_with_a_wrong_relu_derivative(X, y, rng):
    return _sgd(X, y, rng, relu=ReLUPassingTheGradientThrough, epochs=2)


def train_with_nnlib_sequential(X, y, rng):
    network = nnlib.Sequential([nnlib.Dense(784, 128, rng=rng), nnlib.ReLU(),
                                nnlib.Dense(128, 64, rng=rng), nnlib.ReLU(),
                                nnlib.Dense(64, 10, rng=rng)],
                               loss=nnlib.SoftmaxCrossEntropy())
    network.fit(X, y, epochs=1, batch_size=64, optimizer=nnlib.SGD(0.1), rng=rng, verbose=0)
    return network.layers


# --- wrong answers: confusion_matrix ------------------------------------------------------------

def confusion_transposed(y_true, y_pred, n_classes):
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_pred, y_true), 1)
    return counts


def confusion_sized_by_the_labels(y_true, y_pred, n_classes):
    size = int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((size, size), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def confusion_by_fancy_index_increment(y_true, y_pred, n_classes):
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    counts[y_true, y_pred] += 1
    return counts


def confusion_normalised(y_true, y_pred, n_classes):
    counts = SOLUTIONS["confusion_matrix"](y_true, y_pred, n_classes).astype(float)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


WRONG_ANSWERS = [  # (part, wrong answer, what the check's message must say)
    ("iterate_minibatches", minibatches_in_order, "came in their original order"),
    ("iterate_minibatches", minibatches_shuffled_separately, "X and y were shuffled separately"),
    ("iterate_minibatches", minibatches_dropping_the_last,
     "the last 2 rows are missing: when N is not a multiple of batch_size, yield the rest"),
    ("iterate_minibatches", minibatches_with_replacement, "you sampled with replacement"),
    ("iterate_minibatches", minibatches_from_the_global_generator, "np.random's global state"),
    ("iterate_minibatches", minibatches_as_a_list, "make it a generator"),
    ("accuracy", accuracy_by_broadcasting,
     "instead of raising ValueError: comparing a (20, 1) column with a (20,) vector broadcasts"),
    ("accuracy", accuracy_as_a_count, "that is the number of correct predictions"),
    ("accuracy", accuracy_as_a_percentage, "that is a percentage"),
    ("accuracy", error_rate, "that is the error rate"),
    ("train_mlp", train_without_shuffling_and_a_tiny_learning_rate,
     "below the 97% required. Shuffle the training set at every epoch"),
    ("train_mlp", train_without_1_over_n, "without the 1/N every step is N times too large"),
    ("train_mlp", train_with_a_wrong_relu_derivative,
     "backward passed the gradient through unchanged"),
    ("train_mlp", train_with_nnlib_sequential, "train_mlp uses the module nnlib"),
    ("confusion_matrix", confusion_transposed, "rows and columns are swapped"),
    ("confusion_matrix", confusion_sized_by_the_labels,
     "a class that never occurs still has its row and column"),
    ("confusion_matrix", confusion_by_fancy_index_increment, "counted at most once"),
    ("confusion_matrix", confusion_normalised, "you normalised the rows"),
]


(test_the_table_covers_every_part_with_at_least_two_wrong_answers,
 test_check_and_hidden_tests_pass_on_the_solution,
 test_check_and_hidden_tests_fail_on_the_stub,
 test_check_names_the_mistake_and_hidden_tests_fail) = part_tests(SET, WRONG_ANSWERS)


# --- odd return values --------------------------------------------------------------------------

@pytest.mark.parametrize("part", ["accuracy", "confusion_matrix"])
def test_odd_return_values_get_their_own_message(part):
    for label, answer, message in odd_answers(SOLUTIONS[part]):
        assert_fails_with(SET.run_check(part, answer), message), label
        assert not SET.run_hidden(part, answer).passed, label


def _minibatches_of_nan(X, y, batch_size, rng):
    yield np.full(X.shape, np.nan), y


def _minibatches_raising(X, y, batch_size, rng):
    yield 1 / 0, y[:1]


def _minibatches_returning_none(X, y, batch_size, rng):
    return None


def _minibatches_of_triples(X, y, batch_size, rng):
    yield X, y, None


def _untrained_layers(rng):
    return [Dense(784, 128, rng), ReLU(), Dense(128, 64, rng), ReLU(), Dense(64, 10, rng)]


def _naive_softmax_gradient(Z, y):
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    P[np.arange(len(y)), y] -= 1
    return P / len(y)


def _train_overflowing(X, y, rng):
    return _sgd(X, y, rng, gradient=_naive_softmax_gradient, learning_rate=50.0, epochs=1)


def _train_returning_none(X, y, rng):
    return None


def _train_returning_nan_weights(X, y, rng):
    layers = _untrained_layers(rng)
    layers[0].W[:] = np.nan
    return layers


def _train_raising(X, y, rng):
    return 1 / 0


def _train_returning_three_layers(X, y, rng):
    return _untrained_layers(rng)[:3]


def _train_returning_transposed_weights(X, y, rng):
    layers = _untrained_layers(rng)
    layers[0].W = layers[0].W.T
    return layers


ODD_ANSWERS = [  # (part, answer, message) for the parts whose answer is no array
    ("iterate_minibatches", _minibatches_returning_none, "write it as a generator"),
    ("iterate_minibatches", _minibatches_of_nan, "X_batch returned nan"),
    ("iterate_minibatches", _minibatches_raising, "raised ZeroDivisionError"),
    ("iterate_minibatches", _minibatches_of_triples, "each batch must be a pair"),
    ("train_mlp", _train_returning_none, "returned None"),
    ("train_mlp", _train_returning_nan_weights, ("W returned nan at index (0, 0). The training "
                                                "diverged")),
    ("train_mlp", _train_raising, "raised ZeroDivisionError"),
    ("train_mlp", _train_overflowing, "stopped: NumPy reported 'overflow encountered in exp'"),
    ("train_mlp", _train_returning_three_layers, "returned 3 layers"),
    ("train_mlp", _train_returning_transposed_weights,
     "W has the shape (in_features, out_features)"),
]


@pytest.mark.parametrize(("part", "answer", "message"), ODD_ANSWERS,
                         ids=[row[1].__name__ for row in ODD_ANSWERS])
def test_odd_answers_of_generators_and_trainers_get_their_own_message(part, answer, message):
    assert_fails_with(SET.run_check(part, answer), message)
    assert not SET.run_hidden(part, answer).passed


# --- independent references ---------------------------------------------------------------------

def sklearn_accuracy(y_true, y_pred):
    if np.shape(y_true) != np.shape(y_pred):
        raise ValueError("shapes differ")
    return accuracy_score(y_true, y_pred)


def sklearn_confusion(y_true, y_pred, n_classes):
    return sklearn_confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def nnlibs_minibatches(X, y, batch_size, rng):
    return nnlib_iterate_minibatches(X, y, batch_size, rng)


def test_the_checks_pass_scikit_learns_and_nnlibs_implementations():
    assert check_accuracy(sklearn_accuracy)
    assert check_confusion_matrix(sklearn_confusion)
    assert check_iterate_minibatches(nnlibs_minibatches)


@pytest.mark.parametrize("seed", range(5))
def test_the_solution_agrees_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 12))
    y_true = rng.integers(0, n_classes, size=int(rng.integers(1, 300)))
    y_pred = np.where(rng.random(len(y_true)) < 0.7, y_true,
                      rng.integers(0, n_classes, size=len(y_true)))
    assert SOLUTIONS["accuracy"](y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
    assert np.array_equal(SOLUTIONS["confusion_matrix"](y_true, y_pred, n_classes),
                          sklearn_confusion(y_true, y_pred, n_classes))


def test_nnlibs_own_functions_and_nnlib_inside_a_trainer_are_refused():
    with pytest.raises(CheckFailed, match="write it yourself"):
        check_iterate_minibatches(nnlib_iterate_minibatches)

    def trains_with_nnlibs_sgd(X, y, rng):
        optimizer = nnlib.optimizers.SGD(0.1)
        return optimizer

    def trains_with_nnlibs_sgd_imported(X, y, rng):
        return NnlibSGD(0.1)

    with pytest.raises(CheckFailed, match="train_mlp uses the module nnlib"):
        check_train_mlp(trains_with_nnlibs_sgd)
    with pytest.raises(CheckFailed, match="train_mlp uses nnlib's SGD"):
        check_train_mlp(trains_with_nnlibs_sgd_imported)


@pytest.fixture(scope="module")
def trained_layers():
    """The solution's network, trained once for the tests below."""
    X, y = load_mnist("train")
    return SOLUTIONS["train_mlp"](X, y, np.random.default_rng(0))


def test_the_checks_test_accuracy_is_scikit_learns_on_the_students_forward(trained_layers):
    X_test, y_test = load_mnist("test")
    signal = X_test
    for layer in trained_layers:
        signal = layer.forward(signal)
    students = accuracy_score(y_test, signal.argmax(axis=1))
    weights = [(layer.W, layer.b) for layer in trained_layers[::2]]
    predicted = nnlib.checks.mnist_mlp._predictions(weights, X_test)
    checks = nnlib.checks.mnist_mlp._accuracy_of(predicted, y_test)
    assert checks == pytest.approx(students, abs=2e-4)  # float32 rounding may flip a digit
    assert students >= 0.97


def test_a_trainer_over_its_budget_or_drawing_from_the_global_state_fails(trained_layers):
    def returns_the_trained_layers(X, y, rng):
        return trained_layers

    def draws_from_the_global_generator(X, y, rng):
        np.random.random()
        return trained_layers

    assert check_train_mlp(returns_the_trained_layers)
    with pytest.raises(CheckFailed, match="the budget is 0 s"):
        check_train_mlp(returns_the_trained_layers, budget_seconds=0.0)
    with pytest.raises(CheckFailed, match="np.random's global state"):
        check_train_mlp(draws_from_the_global_generator)


def test_the_thorough_check_reuses_the_last_training_of_the_same_function(trained_layers):
    calls = []

    def counts_its_calls(X, y, rng):
        calls.append(1)
        return trained_layers

    def another_function(X, y, rng):
        calls.append(2)
        return trained_layers

    assert check_train_mlp(counts_its_calls)
    assert check_train_mlp(counts_its_calls, thorough=True)
    assert calls == [1]
    assert check_train_mlp(counts_its_calls, thorough=True, seed=1)  # another seed: trains
    assert check_train_mlp(another_function, thorough=True)
    assert calls == [1, 1, 2]
