"""Optimisers: turn gradients into parameter updates (lesson 05).

Every optimiser has one method, ``step(params, grads)``: both are dicts name -> array with the
same keys (as returned by ``Sequential.parameters()`` and ``.gradients()``), and the parameter
arrays are updated IN PLACE. Optimisers with memory (momentum, squared-gradient averages) keep it
per parameter name.

Regularisation, available on every optimiser and applied to weights only (names ending in "W",
such as "0.W"; biases are left alone):

    weight_decay = lambda   adds lambda * W to the gradient     (L2 penalty lambda/2 * ||W||^2)
    l1 = lambda_1           adds lambda_1 * sign(W) to the gradient   (L1 penalty lambda_1 * sum |W|)

The penalty enters the gradient before the update rule, i.e. "coupled" decay; for Adam this is
L2 regularisation, not the decoupled AdamW.

``learning_rate`` is a number or a schedule: any callable step -> rate, where step counts the
updates already made (0 for the first). ``StepDecay``, ``ExponentialDecay`` and
``CosineWithWarmup`` below are such callables; ``TimeBudgetCosine`` follows the clock instead of
the step count, so that a run fits a wall-clock budget on any machine. They check their arguments when they are
created: a negative, complex or infinite rate would make training climb the loss without error.

An optimiser with memory belongs to one network: ``Sequential.fit`` refuses an optimiser that has
already taken steps for another network (its moments and step count would carry over). Create
one optimiser per network, or call ``reset()`` first.
"""

import math
import numbers
import time

import numpy as np

from nnlib._validation import check_positive_int, check_positive_real, check_real_in

# --- learning-rate schedules --------------------------------------------------------------------

class StepDecay:
    """lr(step) = initial * gamma ** (step // step_size): divide by 1/gamma every step_size steps."""

    def __init__(self, initial, step_size, gamma=0.1):
        check_positive_real("initial", initial, "StepDecay")
        check_positive_int("StepDecay: step_size", step_size)
        check_real_in("gamma", gamma, 0, 1, "StepDecay", low_open=True)
        self.initial, self.step_size, self.gamma = initial, step_size, gamma

    def __call__(self, step):
        return self.initial * self.gamma ** (step // self.step_size)

    def __repr__(self):
        return f"StepDecay(initial={self.initial}, step_size={self.step_size}, gamma={self.gamma})"


class ExponentialDecay:
    """lr(step) = initial * decay_rate ** (step / decay_steps): smooth decay by decay_rate per
    decay_steps steps."""

    def __init__(self, initial, decay_rate, decay_steps):
        check_positive_real("initial", initial, "ExponentialDecay")
        check_real_in("decay_rate", decay_rate, 0, 1, "ExponentialDecay", low_open=True)
        check_positive_real("decay_steps", decay_steps, "ExponentialDecay", example="1000")
        self.initial, self.decay_rate, self.decay_steps = initial, decay_rate, decay_steps

    def __call__(self, step):
        return self.initial * self.decay_rate ** (step / self.decay_steps)

    def __repr__(self):
        return (f"ExponentialDecay(initial={self.initial}, decay_rate={self.decay_rate}, "
                f"decay_steps={self.decay_steps})")


class CosineWithWarmup:
    """Linear warm-up to ``peak``, then a half cosine down to ``final`` at ``total_steps``.

        step < warmup_steps:   lr = peak * (step + 1) / warmup_steps
        afterwards:            lr = final + (peak - final) * (1 + cos(pi * progress)) / 2,
                               progress = (step - warmup_steps) / (total_steps - warmup_steps),
                               held at 1 after the end.
    """

    def __init__(self, peak, total_steps, warmup_steps=0, final=0.0):
        check_positive_real("peak", peak, "CosineWithWarmup")
        check_real_in("final", final, 0, peak, "CosineWithWarmup")
        check_positive_int("CosineWithWarmup: total_steps", total_steps)
        whole = isinstance(warmup_steps, numbers.Integral) and not isinstance(warmup_steps, bool)
        if not (whole and 0 <= warmup_steps < total_steps):
            raise ValueError(
                f"CosineWithWarmup: need whole numbers 0 <= warmup_steps < total_steps, got "
                f"warmup_steps={warmup_steps}, total_steps={total_steps}."
            )
        self.peak, self.total_steps = peak, total_steps
        self.warmup_steps, self.final = warmup_steps, final

    def __call__(self, step):
        if step < self.warmup_steps:
            return self.peak * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.final + (self.peak - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def __repr__(self):
        return (f"CosineWithWarmup(peak={self.peak}, total_steps={self.total_steps}, "
                f"warmup_steps={self.warmup_steps}, final={self.final})")


class TimeBudgetCosine:
    """Warm-up then cosine, by elapsed wall-clock time: the rate reaches ``final`` when
    ``budget_seconds`` have passed (lesson 07).

    With t the seconds since ``start()`` and T = budget_seconds, W = warmup_fraction * T:

        t < W:        lr = peak * t / W                                   (linear warm-up)
        afterwards:   lr = final + (peak - final) * (1 + cos(pi * progress)) / 2,
                      progress = (t - W) / (T - W), held at 1 after the budget.

    A step-count schedule must know in advance how many steps a run will take; this one adapts
    to the machine: a slow computer takes fewer steps, but the rate still anneals to ``final``
    exactly when the time is up. ``Sequential.fit`` calls ``start()`` when training begins
    (use it with ``fit(..., time_budget=budget_seconds)``); without that the clock starts at the
    first call. ``clock`` is any function returning seconds (``time.perf_counter`` by default).
    The step number passed in is ignored; the rate depends on time only, so runs are not
    reproducible bit for bit, only up to the timing of the machine.
    """

    def __init__(self, peak, budget_seconds, warmup_fraction=0.03, final=0.0,
                 clock=time.perf_counter):
        where = "TimeBudgetCosine"
        check_positive_real("peak", peak, where)
        check_positive_real("budget_seconds", budget_seconds, where, example="60")
        check_real_in("warmup_fraction", warmup_fraction, 0, 1, where, high_open=True)
        check_real_in("final", final, 0, peak, where)
        if not callable(clock):
            raise TypeError(
                f"{where}: clock must be a function returning seconds, such as "
                f"time.perf_counter; got {clock!r}."
            )
        self.peak, self.budget_seconds = peak, budget_seconds
        self.warmup_fraction, self.final, self.clock = warmup_fraction, final, clock
        self.started_at = None

    def start(self):
        """Start (or restart) the clock: the warm-up begins now."""
        self.started_at = self.clock()

    def elapsed(self):
        """Seconds since ``start()`` (0 before it)."""
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def rate_at(self, seconds):
        """The learning rate ``seconds`` after the start."""
        warmup = self.warmup_fraction * self.budget_seconds
        if seconds < warmup:
            return self.peak * max(seconds, 0.0) / warmup
        progress = min(1.0, (seconds - warmup) / (self.budget_seconds - warmup))
        return self.final + (self.peak - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def __call__(self, step):
        if self.started_at is None:
            self.start()
        return self.rate_at(self.elapsed())

    def __repr__(self):
        return (f"TimeBudgetCosine(peak={self.peak}, budget_seconds={self.budget_seconds}, "
                f"warmup_fraction={self.warmup_fraction}, final={self.final})")


# --- optimisers ---------------------------------------------------------------------------------

def _check_eps(eps, where):
    """eps keeps grad / (sqrt(average of grad^2) + eps) finite for a unit whose gradients are all
    0; with eps = 0 that is 0 / 0."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
            or not 0 < eps < math.inf:
        raise ValueError(
            f"{where}: eps must be a small positive number such as 1e-8, got {eps!r}; with eps=0 "
            f"a parameter whose gradient stays 0 (a dead unit) gives 0/0 = NaN."
        )
    return eps


def _is_weight(name):
    return name == "W" or name.endswith(".W")


class Optimizer:
    """Base class: handles the learning rate, regularisation and the per-name state.

    Subclasses implement ``update(name, param, grad, learning_rate)``, changing ``param`` in place.
    """

    def __init__(self, learning_rate, *, weight_decay=0.0, l1=0.0):
        where = type(self).__name__
        if not callable(learning_rate):
            check_positive_real("learning_rate", learning_rate, where)
        for name, value in (("weight_decay", weight_decay), ("l1", l1)):
            check_real_in(name, value, 0, math.inf, where)
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.l1 = l1
        self.iterations = 0  # number of steps taken so far
        self.state = {}      # name -> dict of arrays (velocity, averages, ...)
        self._network = None  # the network that fit trains with this optimiser

    def current_learning_rate(self):
        """The learning rate of the next step (evaluates the schedule, if there is one)."""
        if not callable(self.learning_rate):
            return float(self.learning_rate)
        rate = self.learning_rate(self.iterations)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not 0 <= rate < math.inf:
            raise ValueError(
                f"The learning-rate schedule {self.learning_rate!r} gave {rate!r} at step "
                f"{self.iterations}; a learning rate must be a real number >= 0 (a negative one "
                f"climbs the loss)."
            )
        return float(rate)

    def attach(self, network):
        """Called by ``Sequential.fit``: remember the network, refuse a second one.

        The rule: an optimiser that has taken steps belongs to the network it took them for.
        Training another network with it would carry over its moments and its step count (and
        so its place in a schedule), so fit refuses; ``reset()`` makes it free again.
        """
        if self._network is not None and self._network is not network and self.iterations:
            raise ValueError(
                f"This {type(self).__name__} has already taken {self.iterations} steps for "
                f"another network; its memory (moments, step count) belongs to those weights. "
                f"Give each network its own optimizer, e.g. optimizer={type(self).__name__}"
                f"({self.learning_rate!r}), or call optimizer.reset() to start it afresh."
            )
        self._network = network

    def step(self, params, grads):
        """Update every array of ``params`` in place from the matching array of ``grads``."""
        learning_rate = self.current_learning_rate()
        for name, param in params.items():
            try:
                grad = grads[name]
            except KeyError:
                raise KeyError(
                    f"grads has no entry {name!r} for the parameter {name!r}; params and grads "
                    f"must have the same names, e.g. network.parameters() and "
                    f"network.gradients() (grads has {sorted(grads)})."
                ) from None
            if grad.shape != param.shape:
                raise ValueError(
                    f"Gradient {name!r} has shape {grad.shape}, its parameter {param.shape}."
                )
            if _is_weight(name) and (self.weight_decay or self.l1):
                grad = self._regularised(param, grad)
            self.update(name, param, grad, learning_rate)
        self.iterations += 1

    def _regularised(self, param, grad):
        grad = grad.copy()
        if self.weight_decay:
            grad += self.weight_decay * param
        if self.l1:
            grad += self.l1 * np.sign(param)
        return grad

    def _state_for(self, name, param, *slots):
        """The state arrays of one parameter, created as zeros on first use."""
        state = self.state.get(name)
        if state is None or state[slots[0]].shape != param.shape:
            state = {slot: np.zeros_like(param) for slot in slots}
            self.state[name] = state
        return state

    def update(self, name, param, grad, learning_rate):
        raise NotImplementedError

    def reset(self):
        """Forget the state, the step count and the network (e.g. before training a new one)."""
        self.iterations = 0
        self.state = {}
        self._network = None

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r})"


class SGD(Optimizer):
    """Plain gradient descent: param <- param - lr * grad (lessons 03 and 05)."""

    def __init__(self, learning_rate=0.01, *, weight_decay=0.0, l1=0.0):
        super().__init__(learning_rate, weight_decay=weight_decay, l1=l1)

    def update(self, name, param, grad, learning_rate):
        param -= learning_rate * grad


class Momentum(Optimizer):
    """SGD with momentum: a velocity that averages past gradients (lesson 05).

        v <- momentum * v - lr * grad
        param <- param + v                                (classical)
        param <- param + momentum * v - lr * grad         (nesterov=True: look one step ahead)
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, *,
                 weight_decay=0.0, l1=0.0):
        super().__init__(learning_rate, weight_decay=weight_decay, l1=l1)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}.")
        self.momentum = momentum
        self.nesterov = nesterov

    def update(self, name, param, grad, learning_rate):
        velocity = self._state_for(name, param, "velocity")["velocity"]
        velocity *= self.momentum
        velocity -= learning_rate * grad
        if self.nesterov:
            param += self.momentum * velocity - learning_rate * grad
        else:
            param += velocity


class AdaGrad(Optimizer):
    """Per-parameter learning rates from the sum of all squared gradients (lesson 05).

        cache <- cache + grad^2
        param <- param - lr * grad / (sqrt(cache) + eps)
    """

    def __init__(self, learning_rate=0.01, eps=1e-8, *, weight_decay=0.0, l1=0.0):
        super().__init__(learning_rate, weight_decay=weight_decay, l1=l1)
        self.eps = _check_eps(eps, "AdaGrad")

    def update(self, name, param, grad, learning_rate):
        cache = self._state_for(name, param, "cache")["cache"]
        cache += grad * grad
        param -= learning_rate * grad / (np.sqrt(cache) + self.eps)


class RMSProp(Optimizer):
    """AdaGrad with a forgetting average of squared gradients (lesson 05).

        cache <- rho * cache + (1 - rho) * grad^2
        param <- param - lr * grad / (sqrt(cache) + eps)
    """

    def __init__(self, learning_rate=1e-3, rho=0.9, eps=1e-8, *, weight_decay=0.0, l1=0.0):
        super().__init__(learning_rate, weight_decay=weight_decay, l1=l1)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must lie in [0, 1), got {rho}.")
        self.rho = rho
        self.eps = _check_eps(eps, "RMSProp")

    def update(self, name, param, grad, learning_rate):
        cache = self._state_for(name, param, "cache")["cache"]
        cache *= self.rho
        cache += (1 - self.rho) * grad * grad
        param -= learning_rate * grad / (np.sqrt(cache) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum plus RMSProp, with bias correction (lesson 05).

        m <- beta1 * m + (1 - beta1) * grad              (average gradient)
        v <- beta2 * v + (1 - beta2) * grad^2            (average squared gradient)
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)     (t = 1, 2, ...: the step)
        param <- param - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at zero, which biases them towards zero in the first steps; dividing by
    (1 - beta^t) removes that bias.

    The code computes exactly this, arranged to pass over the arrays fewer times: it keeps the
    weighted *sums* grad_sum = sum_k beta1^k grad_(t-k) and square_sum (the same for grad^2).
    Then m_hat = grad_sum / weights1, where weights1 = 1 + beta1 + ... + beta1^(t-1)
    = (1 - beta1^t) / (1 - beta1) is the total weight, and likewise for v_hat; all the
    constants gather into two numbers, step_size and eps_scaled.
    """

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, *,
                 weight_decay=0.0, l1=0.0):
        super().__init__(learning_rate, weight_decay=weight_decay, l1=l1)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {beta}.")
        self.beta1, self.beta2, self.eps = beta1, beta2, _check_eps(eps, "Adam")

    def update(self, name, param, grad, learning_rate):
        state = self._state_for(name, param, "grad_sum", "square_sum", "scratch")
        grad_sum, square_sum, scratch = state["grad_sum"], state["square_sum"], state["scratch"]
        t = self.iterations + 1
        weights1 = (1.0 - self.beta1 ** t) / (1.0 - self.beta1)
        weights2 = (1.0 - self.beta2 ** t) / (1.0 - self.beta2)
        # lr * m_hat / (sqrt(v_hat) + eps) = step_size * grad_sum / (sqrt(square_sum) + eps_scaled)
        step_size = learning_rate * math.sqrt(weights2) / weights1
        eps_scaled = self.eps * math.sqrt(weights2)

        grad_sum *= self.beta1
        grad_sum += grad
        np.multiply(grad, grad, out=scratch)
        square_sum *= self.beta2
        square_sum += scratch
        np.sqrt(square_sum, out=scratch)
        scratch += eps_scaled
        np.divide(grad_sum, scratch, out=scratch)
        scratch *= step_size
        param -= scratch
