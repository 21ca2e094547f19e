"""Exercise set ex03_backprop: every check and hidden test against the solution, the stub,
plausible wrong answers (the table below) and odd return values.

Each wrong answer is a mistake students make; the check must fail it with a message that names
that mistake, and the hidden tests must fail it too.
"""

import numpy as np
import pytest
from exercise_support import ExerciseSet, assert_fails_with, part_tests

SET = ExerciseSet("ex03_backprop")
SOLUTIONS = SET.solution_namespace()
sigmoid = SOLUTIONS["sigmoid"]
solution_forward = SOLUTIONS["forward"]
solution_backward = SOLUTIONS["backward"]
X_XOR, y_XOR = SOLUTIONS["X_XOR"], SOLUTIONS["y_XOR"]


# --- wrong answers: forward ---------------------------------------------------------------------

def _layers(params):
    return params["W1"], params["b1"], params["W2"], params["b2"]


def forward_without_hidden_sigmoid(X, params):
    W1, b1, W2, b2 = _layers(params)
    A1 = X @ W1 + b1
    P = sigmoid(A1 @ W2 + b2)
    return P, {"X": X, "A1": A1, "P": P}


def forward_returning_logits(X, params):
    W1, b1, W2, b2 = _layers(params)
    A1 = sigmoid(X @ W1 + b1)
    return A1 @ W2 + b2, {"X": X, "A1": A1}


def forward_without_biases(X, params):
    W1, _, W2, _ = _layers(params)
    A1 = sigmoid(X @ W1)
    P = sigmoid(A1 @ W2)
    return P, {"X": X, "A1": A1, "P": P}


def forward_flattening_the_output(X, params):
    P, cache = solution_forward(X, params)
    return P[:, 0], cache


def forward_without_cache(X, params):
    return solution_forward(X, params)[0]


def forward_columns_first(X, params):
    W1, b1, W2, b2 = _layers(params)
    A1 = sigmoid(X @ W1 + b1)
    P = sigmoid(W2.T @ A1.T + b2)
    return P, {"X": X, "A1": A1, "P": P}


def forward_stopping_at_the_hidden_layer(X, params):
    W1, b1, _, _ = _layers(params)
    A1 = sigmoid(X @ W1 + b1)
    return A1, {"X": X, "A1": A1}


# --- wrong answers: backward --------------------------------------------------------------------

def _backward(cache, y, params, *, scale=True, transpose=True, column=True, sign=1.0,
              output_derivative=False, hidden_derivative="A1", sum_axis=0):
    """The solution's backward with one mistake switched on."""
    X, A1, P = cache["X"], cache["A1"], cache["P"]
    Y = y.reshape(-1, 1) if column else y
    G2 = sign * (P - Y) / (X.shape[0] if scale else 1)
    if output_derivative:
        G2 = G2 * P * (1 - P)
    W2 = params["W2"].T if transpose else params["W2"]
    GA1 = G2 @ W2
    if hidden_derivative == "A1":
        G1 = GA1 * A1 * (1 - A1)
    elif hidden_derivative == "sigmoid(A1)":
        G1 = GA1 * sigmoid(A1) * (1 - sigmoid(A1))
    else:
        G1 = GA1
    return {"W1": X.T @ G1, "b1": G1.sum(axis=sum_axis), "W2": A1.T @ G2,
            "b2": G2.sum(axis=sum_axis)}


def backward_without_1_over_n(cache, y, params):
    return _backward(cache, y, params, scale=False)


def backward_with_w_instead_of_w_transposed(cache, y, params):
    return _backward(cache, y, params, transpose=False)


def backward_with_labels_not_a_column(cache, y, params):
    return _backward(cache, y, params, column=False)


def backward_with_the_sign_flipped(cache, y, params):
    return _backward(cache, y, params, sign=-1.0)


def backward_with_the_output_derivative_again(cache, y, params):
    return _backward(cache, y, params, output_derivative=True)


def backward_without_the_hidden_derivative(cache, y, params):
    return _backward(cache, y, params, hidden_derivative=None)


def backward_with_the_derivative_of_the_activation(cache, y, params):
    return _backward(cache, y, params, hidden_derivative="sigmoid(A1)")


def backward_summing_biases_over_units(cache, y, params):
    return _backward(cache, y, params, sum_axis=1)


def backward_not_summing_bias_gradients(cache, y, params):
    grads = solution_backward(cache, y, params)
    G2 = (cache["P"] - y.reshape(-1, 1)) / cache["X"].shape[0]
    return {**grads, "b2": G2}


def backward_with_other_names(cache, y, params):
    return {"d" + name: value for name, value in solution_backward(cache, y, params).items()}


# --- wrong answers: train_xor -------------------------------------------------------------------

def _train(seed, *, rng=None, sign=-1.0, epochs=5000, learning_rate=2.0, names=None):
    """The solution's training loop with one mistake switched on."""
    rng = np.random.default_rng(seed) if rng is None else rng
    params = {"W1": rng.normal(size=(2, 3)), "b1": np.zeros(3),
              "W2": rng.normal(size=(3, 1)), "b2": np.zeros(1)}
    for _ in range(epochs):
        _, cache = solution_forward(X_XOR, params)
        grads = solution_backward(cache, y_XOR, params)
        for name in names or params:
            params[name] = params[name] + sign * learning_rate * grads[name]
    return params


def train_adding_the_gradient(seed):
    return _train(seed, sign=+1.0, epochs=300)


def train_with_the_global_random_state(seed):
    return _train(seed, rng=np.random.default_rng(np.random.randint(2**31)), epochs=200)


def train_ignoring_the_seed(seed):
    return _train(0, epochs=300)


def train_for_too_few_epochs(seed):
    return _train(seed, epochs=100)


def train_with_a_tiny_learning_rate(seed):
    return _train(seed, learning_rate=0.01, epochs=500)


# --- wrong answers: Dense -----------------------------------------------------------------------

class GoodDense:
    """The solution's layer, written again so that each mistake below changes one method."""

    def __init__(self, in_features, out_features, rng):
        self.W = rng.normal(0.0, 1.0 / np.sqrt(in_features), size=(in_features, out_features))
        self.b = np.zeros(out_features)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad_output):
        self.grad_W = self.x.T @ grad_output
        self.grad_b = grad_output.sum(axis=0)
        return grad_output @ self.W.T


class DenseCachingTheOutput(GoodDense):
    def forward(self, x):
        self.out = x @ self.W + self.b
        return self.out

    def backward(self, grad_output):
        self.grad_W = self.out.T @ grad_output
        self.grad_b = grad_output.sum(axis=0)
        return grad_output @ self.W.T


class DenseCachingOnlyTheFirstInput(GoodDense):
    def forward(self, x):
        if not hasattr(self, "x"):
            self.x = x
        return x @ self.W + self.b


class DenseNotReturningTheInputGradient(GoodDense):
    def backward(self, grad_output):
        self.grad_W = self.x.T @ grad_output
        self.grad_b = grad_output.sum(axis=0)


class DenseWithWInsteadOfWTransposed(GoodDense):
    def backward(self, grad_output):
        super().backward(grad_output)
        return grad_output @ self.W


class DenseAveragingGradB(GoodDense):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grad_b = grad_output.mean(axis=0)
        return grad_input


class DenseNotSummingGradB(GoodDense):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grad_b = grad_output
        return grad_input


class DenseDividingGradWByN(GoodDense):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grad_W = self.grad_W / len(grad_output)
        return grad_input


class DenseUpdatingItsWeights(GoodDense):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.W = self.W - 0.1 * self.grad_W
        return grad_input


class DenseStartingAtZero(GoodDense):
    def __init__(self, in_features, out_features, rng):
        self.W = np.zeros((in_features, out_features))
        self.b = np.zeros(out_features)


class DenseWithWTransposed(GoodDense):
    def __init__(self, in_features, out_features, rng):
        self.W = rng.normal(size=(out_features, in_features))
        self.b = np.zeros(out_features)


class DenseWithoutBias(GoodDense):
    def forward(self, x):
        self.x = x
        return x @ self.W


WRONG_ANSWERS = [  # (part, wrong answer, what the check's message must say)
    ("forward", forward_without_hidden_sigmoid, "the hidden layer has no sigmoid"),
    ("forward", forward_returning_logits, "that is Z2, the output before its sigmoid"),
    ("forward", forward_without_biases, "the biases b1 and b2 are missing"),
    ("forward", forward_flattening_the_output, "keep P a column of shape (N, 1)"),
    ("forward", forward_without_cache, "it must return two things"),
    ("forward", forward_columns_first, "rows are examples"),
    ("forward", forward_stopping_at_the_hidden_layer, "that is the hidden layer's shape"),
    ("backward", backward_without_1_over_n, "5 times too large (the batch size)"),
    ("backward", backward_with_w_instead_of_w_transposed, "dL/dA = G @ W.T (not G @ W)"),
    ("backward", backward_with_labels_not_a_column,
     "gives the right gradients when they come as a column"),
    ("backward", backward_with_the_sign_flipped, "the sign is flipped"),
    ("backward", backward_with_the_output_derivative_again, "P(1 - P) cancels"),
    ("backward", backward_without_the_hidden_derivative,
     "the hidden sigmoid's derivative is missing"),
    ("backward", backward_with_the_derivative_of_the_activation,
     "sigmoid's derivative formula to the activation"),
    ("backward", backward_summing_biases_over_units, "you summed over axis 1"),
    ("backward", backward_not_summing_bias_gradients, "sum over the batch: dL/db2"),
    ("backward", backward_with_other_names, "missing: W1, b1, W2, b2"),
    ("train_xor", train_adding_the_gradient, "did you add the gradient instead of subtracting"),
    ("train_xor", train_with_the_global_random_state, "gave different weights when called twice"),
    ("train_xor", train_ignoring_the_seed, "gave the same weights"),
    ("train_xor", train_for_too_few_epochs, "Train longer"),
    ("train_xor", train_with_a_tiny_learning_rate, "larger learning rate"),
    ("Dense", DenseCachingTheOutput, "from the layer's output"),
    ("Dense", DenseCachingOnlyTheFirstInput, "an earlier forward call"),
    ("Dense", DenseNotReturningTheInputGradient, "did you forget the `return` statement?"),
    ("Dense", DenseWithWInsteadOfWTransposed, "dL/dx = grad_output @ W.T"),
    ("Dense", DenseAveragingGradB, "grad_b is the mean over the batch"),
    ("Dense", DenseNotSummingGradB, "sum over the batch"),
    ("Dense", DenseDividingGradWByN, "grad_W was divided by N"),
    ("Dense", DenseUpdatingItsWeights, "Dense.backward changed W or b"),
    ("Dense", DenseStartingAtZero, "every initial weight is 0"),
    ("Dense", DenseWithWTransposed, "W has the shape (in_features, out_features)"),
    ("Dense", DenseWithoutBias, "the bias is missing"),
]


(test_the_table_covers_every_part_with_at_least_two_wrong_answers,
 test_check_and_hidden_tests_pass_on_the_solution,
 test_check_and_hidden_tests_fail_on_the_stub,
 test_check_names_the_mistake_and_hidden_tests_fail) = part_tests(SET, WRONG_ANSWERS)


def test_the_reference_wrong_layer_is_right_without_its_mistakes():
    """GoodDense, the base of the Dense mistakes, passes: each mistake is its only fault."""
    assert SET.run_check("Dense", GoodDense).passed


# --- odd return values --------------------------------------------------------------------------

def _raises(*args):
    return 1 / 0


def _nan_like(value):
    return np.full(np.shape(value), np.nan)


def _dense_whose(method, result):
    class Odd(GoodDense):
        pass

    def replaced(self, array):
        getattr(GoodDense, method)(self, array)
        return result(array)

    setattr(Odd, method, replaced)
    return Odd


ODD_ANSWERS = [  # (part, what it returns, what the message says)
    ("forward", lambda X, params: None, "returned None (did you forget the `return` statement?)"),
    ("forward", lambda X, params: [0.0, 1.0], "you returned a single number"),
    ("forward", lambda X, params: (_nan_like(solution_forward(X, params)[0]), {}), "returned nan"),
    ("forward", _raises, "raised ZeroDivisionError"),
    ("backward", lambda cache, y, params: None, "returned None (did you forget"),
    ("backward", lambda cache, y, params: [0.0, 1.0], "returned <list>; return a dict"),
    ("backward", lambda cache, y, params: {name: _nan_like(v) for name, v in params.items()},
     "returned nan"),
    ("backward", _raises, "raised ZeroDivisionError"),
    ("train_xor", lambda seed: None, "returned None (did you forget"),
    ("train_xor", lambda seed: [0.0, 1.0], "returned <list>; return the trained parameters"),
    ("train_xor", lambda seed: {name: _nan_like(value) for name, value in _train(seed, epochs=1)
                                .items()}, "The training diverged"),
    ("train_xor", _raises, "raised ZeroDivisionError"),
    ("Dense", _raises, "raised ZeroDivisionError"),
    ("Dense", _dense_whose("forward", lambda x: None), "returned None"),
    ("Dense", _dense_whose("forward", lambda x: x.tolist()), "returned a Python list"),
    ("Dense", _dense_whose("backward", lambda g: np.full((len(g), 4), np.nan)), "returned nan"),
]


@pytest.mark.parametrize(("part", "answer", "message"), ODD_ANSWERS,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(ODD_ANSWERS)])
def test_odd_return_values_get_their_own_message(part, answer, message):
    assert_fails_with(SET.run_check(part, answer), message)
    assert not SET.run_hidden(part, answer).passed


def test_backward_needs_the_students_forward():
    outcome = SET.run_check("backward")
    assert outcome.passed
    from nnlib.checks import CheckFailed, check_backward
    with pytest.raises(CheckFailed, match="needs your forward as well"):
        check_backward(solution_backward)


def test_backward_is_not_blamed_for_a_wrong_forward():
    from nnlib.checks import CheckFailed, check_backward
    with pytest.raises(CheckFailed, match="Make check_forward pass first"):
        check_backward(solution_backward, forward=forward_without_biases)


def test_train_xor_tolerates_unlucky_seeds_only_as_far_as_asked():
    """at_least lets a few starts fail (lesson 03: gradient descent can get stuck), no more."""
    from nnlib.checks import CheckFailed, check_train_xor

    def fails_on_odd_seeds(seed):
        return SOLUTIONS["train_xor"](seed) if seed % 2 == 0 else _train(seed, epochs=50)

    assert check_train_xor(fails_on_odd_seeds, seeds=(0, 1, 2, 4), at_least=3)
    with pytest.raises(CheckFailed, match=r"train_xor\(1\) classifies"):
        check_train_xor(fails_on_odd_seeds, seeds=(0, 1, 2, 3), at_least=3)
