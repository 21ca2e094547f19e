"""Layers and initialisers: gradient checks, shapes, error messages, dropout, configs."""

import json

import numpy as np
import pytest

from nnlib import Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, gradcheck
from nnlib.activations import softmax, softmax_jacobian
from nnlib.init import get_initializer, he_normal, lecun_normal, xavier_normal, xavier_uniform
from nnlib.layers import layer_from_config


def signed_inputs(rng, shape):
    """Inputs between 0.5 and 1.5 in size, random signs: no value sits at ReLU's kink."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def make_layers(rng):
    return [Dense(5, 3, rng=rng, dtype=np.float64), Dense(5, 3, rng=rng, init="xavier"),
            ReLU(), LeakyReLU(alpha=0.1), Sigmoid(), Tanh(), Softmax(), Dropout(0.4, rng=rng)]


@pytest.mark.parametrize("index", range(8), ids=lambda i: repr(make_layers(np.random.default_rng(0))[i]))
def test_every_layer_passes_a_gradient_check(index):
    rng = np.random.default_rng(3)
    layer = make_layers(rng)[index]
    report = gradcheck.check_gradients(layer, signed_inputs(rng, (4, 5)), rng=rng)
    assert report.passed(1e-7), str(report)
    assert set(report.errors) == set(layer.params) | {"input"}


def test_dense_forward_and_backward_formulas():
    rng = np.random.default_rng(1)
    layer = Dense(4, 3, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.normal(size=3)
    x, grad_output = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(layer.forward(x), np.einsum("ni,io->no", x, W) + b)
    grad_input = layer.backward(grad_output)
    np.testing.assert_allclose(layer.grads["W"], np.einsum("ni,no->io", x, grad_output))
    np.testing.assert_allclose(layer.grads["b"], grad_output.sum(axis=0))
    np.testing.assert_allclose(grad_input, np.einsum("no,io->ni", grad_output, W))
    assert layer.backward(grad_output, input_grad=False) is None


def test_dense_defaults_to_float32_and_casts_its_input():
    layer = Dense(3, 2, rng=np.random.default_rng(0))
    assert layer.params["W"].dtype == np.float32 and layer.params["b"].dtype == np.float32
    assert layer.forward(np.ones((2, 3), dtype=np.float64)).dtype == np.float32
    assert Dense(3, 2, rng=np.random.default_rng(0), dtype=np.float64).dtype == np.float64


def test_dense_shape_mismatch_names_the_layer():
    layer = Dense(784, 128, rng=np.random.default_rng(0))
    with pytest.raises(ValueError) as error:
        layer.forward(np.zeros((32, 783), dtype=np.float32))
    assert str(error.value) == (
        "Dense(784 -> 128) expected input of shape (N, 784), got (32, 783).")
    with pytest.raises(ValueError, match=r"\(N, 784\), got \(784,\)"):
        layer.forward(np.zeros(784))


def test_dense_backward_checks_the_gradient_shape():
    layer = Dense(4, 3, rng=np.random.default_rng(0))
    layer.forward(np.ones((5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Dense\(4 -> 3\).backward expected a gradient of "
                                         r"shape \(5, 3\) like its last output, got \(5, 4\)"):
        layer.backward(np.ones((5, 4), dtype=np.float32))


def test_backward_before_forward_is_explained():
    for layer in (Dense(3, 2), ReLU(), Sigmoid(), Tanh(), Softmax(), LeakyReLU()):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.ones((1, 2)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Dense(0, 3)
    with pytest.raises(ValueError, match="rate must lie in"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="Unknown initialiser 'kaiming'.*'he'"):
        Dense(3, 2, init="kaiming")


def test_softmax_layer_backward_is_the_jacobian_vector_product():
    rng = np.random.default_rng(2)
    x, grad_output = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    layer = Softmax()
    np.testing.assert_allclose(layer.forward(x), softmax(x))
    expected = np.einsum("nij,ni->nj", softmax_jacobian(softmax(x)), grad_output)
    np.testing.assert_allclose(layer.backward(grad_output), expected, rtol=1e-12)


def test_dropout_is_inverted_in_training_and_the_identity_in_evaluation():
    rng = np.random.default_rng(5)
    layer = Dropout(0.3, rng=rng)
    x = np.ones((200, 500), dtype=np.float32)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32
    dropped = np.mean(out == 0)
    assert abs(dropped - 0.3) < 0.01                       # about 30% zeroed
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, rtol=1e-6)   # survivors scaled up
    assert abs(out.mean() - 1.0) < 0.02                    # expectation kept
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad == 0, out == 0)     # same mask backwards


@pytest.mark.parametrize("layer", [Dense(4, 3, init="lecun", dtype=np.float64), ReLU(),
                                   LeakyReLU(alpha=0.2), Sigmoid(), Tanh(), Softmax(),
                                   Dropout(0.25)], ids=repr)
def test_config_round_trip(layer):
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = layer_from_config(config)
    assert type(rebuilt) is type(layer) and rebuilt.get_config() == config
    for name, value in layer.params.items():
        assert rebuilt.params[name].shape == value.shape
        assert rebuilt.params[name].dtype == value.dtype


def test_unknown_layer_config_is_explained():
    with pytest.raises(ValueError, match="known layers: Dense"):
        layer_from_config({"class_name": "Conv2D"})


@pytest.mark.parametrize("name, expected_std", [
    ("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 700)), ("glorot", np.sqrt(2 / 700)),
    ("lecun", np.sqrt(1 / 400)), ("normal", 0.01), ("he_uniform", np.sqrt(2 / 400)),
    ("xavier_uniform", np.sqrt(2 / 700)), ("lecun_uniform", np.sqrt(1 / 400)),
])
def test_initialisers_have_the_textbook_spread(name, expected_std):
    weights = get_initializer(name)(400, 300, np.random.default_rng(0), np.float64)
    assert weights.shape == (400, 300)
    # 120 000 draws: the sample std is within 1% of the true one with overwhelming probability
    assert weights.std() == pytest.approx(expected_std, rel=0.01)
    assert abs(weights.mean()) < 0.02 * expected_std   # the mean is about 0.003 std


def test_initialisers_are_reproducible_and_keep_the_dtype():
    for init in (he_normal, xavier_normal, lecun_normal, xavier_uniform):
        first = init(30, 20, np.random.default_rng(9), np.float32)
        again = init(30, 20, np.random.default_rng(9), np.float32)
        assert first.dtype == np.float32
        np.testing.assert_array_equal(first, again)
    uniform = xavier_uniform(30, 20, np.random.default_rng(0), np.float64)
    assert np.abs(uniform).max() <= np.sqrt(6 / 50)
