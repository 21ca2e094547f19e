"""Activation functions against SciPy's closed forms, finite differences and extreme inputs."""

import numpy as np
import pytest
from scipy import special

from nnlib import activations as act
from nnlib.gradcheck import numerical_gradient, relative_error

RNG = np.random.default_rng(20)
Z = RNG.uniform(-6, 6, size=(5, 7))
# For finite differences: |z| <= 3, where tanh and sigmoid are not flat (a central difference
# cannot resolve a slope of 1e-4 on a value near 1 to 1e-7), and away from the kink at 0.
Z_MODERATE = np.where(np.abs(Z / 2) < 0.1, 0.5, Z / 2)


def elementwise_derivative(function, z):
    """d function(z_i) / d z_i by central differences, one element at a time."""
    return np.array([numerical_gradient(function, np.array(value)) for value in z.ravel()]
                    ).reshape(z.shape)


@pytest.mark.parametrize("function, reference", [
    (act.sigmoid, special.expit),
    (act.naive_sigmoid, special.expit),
    (act.tanh, np.tanh),
    (act.relu, lambda z: np.where(z > 0, z, 0.0)),
    (act.leaky_relu, lambda z: np.where(z > 0, z, 0.01 * z)),
])
def test_functions_match_closed_forms(function, reference):
    np.testing.assert_allclose(function(Z), reference(Z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("derivative, closed_form", [
    (act.sigmoid_derivative, lambda z: special.expit(z) * special.expit(-z)),
    (act.tanh_derivative, lambda z: 1 / np.cosh(z) ** 2),
    (act.relu_derivative, lambda z: (z > 0).astype(float)),
    (act.leaky_relu_derivative, lambda z: np.where(z > 0, 1.0, 0.01)),
])
def test_derivatives_match_closed_forms(derivative, closed_form):
    np.testing.assert_allclose(derivative(Z), closed_form(Z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("function, derivative", [
    (act.sigmoid, act.sigmoid_derivative),
    (act.tanh, act.tanh_derivative),
    (act.relu, act.relu_derivative),
    (act.leaky_relu, act.leaky_relu_derivative),
    (lambda z: act.leaky_relu(z, alpha=0.2), lambda z: act.leaky_relu_derivative(z, alpha=0.2)),
])
def test_derivatives_match_finite_differences(function, derivative):
    numerical = elementwise_derivative(function, Z_MODERATE)
    assert relative_error(derivative(Z_MODERATE), numerical) < 1e-7


def test_sigmoid_is_exact_at_the_extremes_without_warnings():
    z = np.array([-1e4, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e4])
    s = act.sigmoid(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.diff(s) >= 0)
    np.testing.assert_allclose(s, special.expit(z), rtol=1e-15, atol=0)
    s32 = act.sigmoid(z.astype(np.float32))
    assert s32.dtype == np.float32 and s32[0] == 0.0 and s32[-1] == 1.0


def test_naive_sigmoid_overflows_on_purpose():
    with pytest.warns(RuntimeWarning, match="overflow"):
        act.naive_sigmoid(-1000.0)


def test_scalars_in_scalars_out():
    assert act.sigmoid(0) == 0.5
    assert np.ndim(act.sigmoid(0.0)) == 0
    assert act.relu(-3) == 0.0 and act.tanh(0.0) == 0.0


def test_float32_stays_float32():
    z32 = Z.astype(np.float32)
    for function in (act.sigmoid, act.tanh, act.relu, act.leaky_relu, act.softmax,
                     act.log_softmax, act.sigmoid_derivative, act.relu_derivative,
                     act.leaky_relu_derivative, act.tanh_derivative):
        assert function(z32).dtype == np.float32, function.__name__


def test_softmax_worked_example():
    np.testing.assert_allclose(act.softmax(np.array([2.0, 4.0, 6.0, 8.0])),
                               [0.0021, 0.0158, 0.1171, 0.8650], atol=5e-5)


def test_softmax_matches_scipy_on_rows_and_columns():
    np.testing.assert_allclose(act.softmax(Z), special.softmax(Z, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(act.softmax(Z, axis=0), special.softmax(Z, axis=0), rtol=1e-12)
    np.testing.assert_allclose(act.log_softmax(Z), special.log_softmax(Z, axis=-1), rtol=1e-12)


def test_softmax_extreme_and_equal_logits():
    np.testing.assert_array_equal(act.softmax([1000.0, 1000.0]), [0.5, 0.5])
    np.testing.assert_allclose(act.softmax(np.full((3, 4), 7.0)), 0.25, rtol=1e-15)
    p = act.softmax(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]))
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], 1 / 3, rtol=1e-15)
    log_p = act.log_softmax(np.array([1e4, -1e4, 0.0]))
    assert np.all(np.isfinite(log_p)) and log_p[0] == 0.0 and log_p[1] == -2e4


def test_softmax_is_invariant_to_shifting_the_logits():
    np.testing.assert_allclose(act.softmax(Z + 123.0), act.softmax(Z), rtol=1e-12)


def test_softmax_jacobian_matches_finite_differences():
    z = RNG.standard_normal(5)
    jacobian = act.softmax_jacobian(act.softmax(z))
    for j in range(5):  # column j: d softmax(z) / d z_j
        for i in range(5):
            numerical = numerical_gradient(lambda x, i=i: act.softmax(x)[i], z.copy())[j]
            assert relative_error(jacobian[i, j], numerical) < 1e-7


def test_softmax_jacobian_of_a_batch_stacks_the_rows():
    p = act.softmax(Z)
    batch = act.softmax_jacobian(p)
    assert batch.shape == (5, 7, 7)
    for row in range(5):
        np.testing.assert_allclose(batch[row], np.diag(p[row]) - np.outer(p[row], p[row]))
    with pytest.raises(ValueError, match="shape"):
        act.softmax_jacobian(np.ones((2, 2, 2)))
