"""An exponential moving average of a network's weights (lesson 07).

The weights after the last step of training sit wherever the last few noisy mini-batch steps
pushed them. Their average over the recent steps is often a slightly better network: the noise
of the individual steps cancels. ``WeightAverage`` keeps that average while ``fit`` trains:

    average = WeightAverage(net, decay=0.999)
    net.fit(X, y, ..., callbacks=[average])      # average.update() after every step
    with average.applied():                      # evaluate with the averaged weights ...
        print(net.evaluate(X_test, y_test))
    average.apply()                              # ... or keep them for good

After t updates, with p_k the parameters after step k and d the decay, the average is

    average_t = sum_k w_k p_k,   w_k = (1 - d) d^(t - k) / (1 - d^t),   k = 1 .. t,

weights that sum to 1 and fall off with age: the last 1 / (1 - d) steps (1000 for d = 0.999)
count most. As in Adam, the running sum starts at zero and the division by (1 - d^t) removes
the bias towards zero of the first steps.
"""

import contextlib
import numbers

import numpy as np

from nnlib.network import Callback


class WeightAverage(Callback):
    """Exponential moving average of every parameter of ``network``; a ``fit`` callback.

    network: a ``Sequential``; decay: d in (0, 1), the weight kept by the old average at each
    update (0.999 averages over about the last thousand steps).
    """

    def __init__(self, network, decay=0.999):
        if not callable(getattr(network, "parameters", None)):
            raise TypeError(
                f"WeightAverage: network must be a Sequential (something with parameters()), "
                f"got {network!r}."
            )
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0 < decay < 1:
            raise ValueError(
                f"WeightAverage: decay must be a number between 0 and 1 (exclusive), such as "
                f"0.999; got {decay!r}."
            )
        self.network, self.decay = network, float(decay)
        self.reset()

    def reset(self):
        """Forget the average; the next update starts a new one."""
        self.updates = 0
        self._sums = {}

    def update(self):
        """Fold the network's current parameters into the average: sum <- d sum + (1 - d) p."""
        parameters = self.network.parameters()
        if self._sums and (self._sums.keys() != parameters.keys() or any(
                self._sums[name].shape != value.shape for name, value in parameters.items())):
            raise ValueError(
                "WeightAverage: the network's parameters changed names or shapes since the "
                "average began; call reset() to start a new average for the new layers."
            )
        for name, value in parameters.items():
            running = self._sums.setdefault(name, np.zeros_like(value))
            running *= self.decay
            running += (1.0 - self.decay) * value
        self.updates += 1

    def averaged_parameters(self):
        """Dict name -> averaged array (new arrays, the bias corrected)."""
        if not self.updates:
            raise ValueError(
                "WeightAverage: no update yet, so there is no average; pass it to fit as "
                "callbacks=[average] or call average.update() after each step."
            )
        correction = 1.0 - self.decay ** self.updates
        return {name: running / correction for name, running in self._sums.items()}

    def apply(self):
        """Overwrite the network's parameters with the averaged ones (in place)."""
        parameters = self.network.parameters()
        for name, value in self.averaged_parameters().items():
            parameters[name][...] = value

    @contextlib.contextmanager
    def applied(self):
        """Within the ``with`` block the network has the averaged weights; afterwards its own
        again (also after an error)."""
        averaged = self.averaged_parameters()
        parameters = self.network.parameters()
        own = {name: value.copy() for name, value in parameters.items()}
        try:
            for name, value in averaged.items():
                parameters[name][...] = value
            yield self.network
        finally:
            for name, value in own.items():
                parameters[name][...] = value

    # --- as a fit callback ----------------------------------------------------------------------

    def on_train_begin(self, network, epochs):
        if network is not self.network:
            raise ValueError(
                "WeightAverage: fit trains another network than the one this average follows; "
                "create WeightAverage(that_network) for it."
            )

    def on_batch_end(self, batch_index, loss):
        self.update()

    def __repr__(self):
        return f"WeightAverage(decay={self.decay}, updates={self.updates})"
