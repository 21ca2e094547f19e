"""The lessons' layer checks pass right answers, name the usual mistakes, and never pass a stub."""

import numpy as np
import pytest

from nnlib.checks import (
    CheckFailed,
    check_neuron_gradients,
    check_predict_classes,
    check_relu_layer,
    check_sgd_step,
)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def right_neuron(x, w, b):
    local = sigmoid(x @ w + b) * (1 - sigmoid(x @ w + b))
    return local * x, local, local * w


class RightReLU:
    def forward(self, z):
        self.seen = z
        return np.maximum(z, 0.0)

    def backward(self, upstream):
        return np.where(self.seen > 0, upstream, 0.0)


def right_sgd(layers, learning_rate):
    for layer in layers:
        if hasattr(layer, "W"):
            layer.W = layer.W - learning_rate * layer.grad_W
            layer.b = layer.b - learning_rate * layer.grad_b


def right_predict(network, X):
    for stage in network:
        X = stage.forward(X)
    return X.argmax(axis=1)


def test_right_answers_pass(capsys):
    assert check_neuron_gradients(right_neuron) is True
    assert check_relu_layer(RightReLU) is True
    assert check_sgd_step(right_sgd) is True
    assert check_predict_classes(right_predict) is True
    assert "passed" in capsys.readouterr().out


def test_stubs_report_not_implemented_without_raising(capsys):
    def stub(*args):
        raise NotImplementedError("your turn")

    class StubReLU:
        forward = backward = stub

    for check_function, answer in ((check_neuron_gradients, stub), (check_relu_layer, StubReLU),
                                   (check_sgd_step, stub), (check_predict_classes, stub)):
        assert check_function(answer, raising=False) is False
        assert "not implemented yet" in capsys.readouterr().out


def test_the_usual_mistakes_are_named():
    def swapped(x, w, b):
        grad_w, grad_b, grad_x = right_neuron(x, w, b)
        return grad_x, grad_b, grad_w

    with pytest.raises(CheckFailed, match="each input's local gradient is the \\*other\\* input"):
        check_neuron_gradients(swapped)

    class StaleReLU(RightReLU):
        def forward(self, z):
            if not hasattr(self, "seen"):
                self.seen = z
            return np.maximum(z, 0.0)

    with pytest.raises(CheckFailed, match="earlier forward call"):
        check_relu_layer(StaleReLU)

    def ascent(layers, learning_rate):
        right_sgd(layers, -learning_rate)

    with pytest.raises(CheckFailed, match="you added the gradient"):
        check_sgd_step(ascent)

    def without_activations(network, X):
        return right_predict(network[::2], X)

    with pytest.raises(CheckFailed, match="without the ReLU"):
        check_predict_classes(without_activations)
