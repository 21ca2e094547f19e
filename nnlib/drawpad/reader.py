"""Looking inside a digit classifier: hidden activations, a unit's weights, a unit switched off.

A ``DigitReader`` wraps a trained network (784 inputs, 10 outputs) and runs one image through
it layer by layer, keeping what the pad's inspector shows (lesson 04b):

    reader = DigitReader(network)
    reading = reader.read(image, temperature=1.0, switched_off=(0, 17))
    reading.probabilities      (10,) softmax(z / T) with hidden unit 17 of layer 0 silenced
    reading.hidden             [(128,), (64,)] the hidden layers' activations
    reader.incoming_weights(0, 17)     (784,) what unit 17 of the first hidden layer looks for

A *hidden layer* is the output of an activation layer (ReLU, sigmoid, ...) that follows a Dense
layer; the last Dense layer gives the logits z. Switching a unit off sets its activation to 0
and lets the following layers compute as usual.
"""

from typing import NamedTuple

import numpy as np

from nnlib.activations import softmax
from nnlib.layers import Dense, Dropout, Softmax
from nnlib.network import Sequential

N_PIXELS = 784
N_DIGITS = 10


class Reading(NamedTuple):
    """One image read by the network (see ``DigitReader.read``).

    logits         (10,) the last Dense layer's output z
    probabilities  (10,) softmax(z / temperature)
    hidden         list of (units,) arrays, one per hidden layer, in order
    """

    logits: np.ndarray
    probabilities: np.ndarray
    hidden: list

    @property
    def digit(self):
        return int(np.argmax(self.probabilities))


def as_sequential(network):
    """The ``Sequential`` behind a network or a fitted ``MLPClassifier``; refuses others."""
    if isinstance(network, Sequential):
        return network
    inner = getattr(network, "network_", None)
    if isinstance(inner, Sequential):
        classes = np.asarray(getattr(network, "classes_", []))
        if not np.array_equal(classes, np.arange(N_DIGITS)):
            raise ValueError(
                f"The classifier's classes are {classes.tolist()}, not the digits 0..9; train "
                f"it on MNIST labels.")
        return inner
    raise TypeError(
        f"Expected an nnlib network (Sequential, e.g. from nnlib.io.load) or a fitted "
        f"MLPClassifier, got {type(network).__name__}.")


class DigitReader:
    """Runs images through a 784 -> ... -> 10 network and shows what happens inside."""

    def __init__(self, network):
        self.network = as_sequential(network)
        dense = [layer for layer in self.network.layers if isinstance(layer, Dense)]
        if not dense or dense[0].in_features != N_PIXELS or dense[-1].out_features != N_DIGITS:
            sizes = f"{dense[0].in_features} -> {dense[-1].out_features}" if dense else "none"
            raise ValueError(
                f"The pad reads 28 x 28 digits: it needs a network from 784 inputs to 10 "
                f"outputs (logits), got Dense sizes {sizes}.")
        self._logit_layers = self._layers_before_softmax()
        self.hidden_ends = self._hidden_layer_ends()

    def _layers_before_softmax(self):
        layers = list(self.network.layers)
        if isinstance(layers[-1], Softmax):  # trained with CrossEntropy on probabilities
            layers = layers[:-1]
        if isinstance(layers[-1], Dense):
            return layers
        raise ValueError(
            f"The network must end with a Dense layer giving the 10 logits (optionally "
            f"followed by Softmax); it ends with {layers[-1]!r}.")

    def _hidden_layer_ends(self):
        """Indices of the layers whose output is a hidden layer's activation."""
        ends, after_dense = [], None
        for index, layer in enumerate(self._logit_layers[:-1]):
            if isinstance(layer, Dense):
                after_dense = index
            elif not isinstance(layer, Dropout) and after_dense is not None:
                ends.append(index)
                after_dense = None
        return ends

    @property
    def hidden_sizes(self):
        return [self._width_at(end) for end in self.hidden_ends]

    def _width_at(self, end):
        dense = [layer for layer in self._logit_layers[:end] if isinstance(layer, Dense)]
        return dense[-1].out_features

    def read(self, image, temperature=1.0, switched_off=None):
        """Run one (28, 28) or (784,) image; ``switched_off``: (hidden layer, unit) or None."""
        if not temperature > 0:
            raise ValueError(f"The temperature must be positive, got {temperature}.")
        x = np.asarray(image, dtype=self.network.dtype).reshape(1, N_PIXELS)
        if switched_off is not None:
            self._check_unit(*switched_off)
        hidden = []
        for index, layer in enumerate(self._logit_layers):
            x = layer.forward(x, training=False)
            if index in self.hidden_ends:
                layer_number = self.hidden_ends.index(index)
                if switched_off is not None and switched_off[0] == layer_number:
                    x = x.copy()
                    x[0, switched_off[1]] = 0.0
                hidden.append(x[0].astype(np.float64))
        logits = x[0].astype(np.float64)
        return Reading(logits, softmax(logits / temperature), hidden)

    def incoming_weights(self, layer_number, unit):
        """(inputs,) weights into hidden unit ``unit`` of hidden layer ``layer_number``
        (784 pixels for the first hidden layer: reshape to (28, 28) to see them)."""
        self._check_unit(layer_number, unit)
        end = self.hidden_ends[layer_number]
        dense = [layer for layer in self._logit_layers[:end] if isinstance(layer, Dense)][-1]
        return np.asarray(dense.params["W"][:, unit], dtype=np.float64)

    def _check_unit(self, layer_number, unit):
        sizes = self.hidden_sizes
        if not 0 <= layer_number < len(sizes) or not 0 <= unit < sizes[layer_number]:
            raise ValueError(
                f"No hidden unit ({layer_number}, {unit}): the hidden layers have {sizes} units.")
