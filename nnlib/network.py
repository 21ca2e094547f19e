"""Sequential: a network as a list of layers plus a loss, with a mini-batch training loop.

A forward pass runs the layers in order; a backward pass runs them in reverse, each turning the
gradient of its output into the gradient of its input (lesson 03, backpropagation). ``fit``
repeats, for every shuffled mini-batch: forward, loss, backward, optimiser step (lessons 03 and 04).

    net = Sequential([Dense(784, 128, rng=rng), ReLU(), Dense(128, 10, rng=rng)],
                     loss=SoftmaxCrossEntropy())
    history = net.fit(X, y, epochs=10, batch_size=128, optimizer=Adam(1e-3), rng=rng)

Parameters are named "<layer index>.<parameter name>", e.g. "0.W", "0.b", "2.W".
"""

import math
import time

import numpy as np
from tqdm.auto import tqdm

from nnlib import _validation as validate
from nnlib.layers import Dense, Dropout, Layer


class History:
    """What ``fit`` measured, one entry per completed epoch.

    loss, accuracy          on the training batches (running mean over the epoch, measured
                            in training mode while the weights were still changing)
    val_loss, val_accuracy  on ``validation_data`` at the end of the epoch (empty without it)
    seconds                 wall-clock time of the epoch (training and validation)
    stopped_reason          None, or why training stopped before the last epoch
    epochs_done             epochs trained, counting a last epoch cut short by ``time_budget``
                            as the fraction of its samples seen (e.g. 23.4)
    elapsed                 wall-clock seconds of the whole fit

    When ``time_budget`` ends training in the middle of an epoch, that epoch's batches so far
    still get an entry (and ``epochs`` counts it); ``epochs_done`` says how much of it ran.
    """

    def __init__(self):
        self.loss = []
        self.accuracy = []
        self.val_loss = []
        self.val_accuracy = []
        self.seconds = []
        self.stopped_reason = None
        self.epochs_done = 0.0
        self.elapsed = 0.0

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.loss)

    def as_dict(self):
        return {"loss": list(self.loss), "accuracy": list(self.accuracy),
                "val_loss": list(self.val_loss), "val_accuracy": list(self.val_accuracy),
                "seconds": list(self.seconds), "stopped_reason": self.stopped_reason,
                "epochs_done": self.epochs_done, "elapsed": self.elapsed}

    def __repr__(self):
        if not self.loss:
            return "History(no completed epoch)"
        last = f"loss={self.loss[-1]:.4f}, accuracy={self.accuracy[-1]:.4f}"
        if self.val_loss:
            last += f", val_loss={self.val_loss[-1]:.4f}, val_accuracy={self.val_accuracy[-1]:.4f}"
        return f"History(epochs={self.epochs}, {last})"


class Callback:
    """Base class for hooks into ``fit``; override the ones you need (all do nothing here).

    To stop training early, set ``network.stop_training = True`` (keep the network from
    ``on_train_begin``); fit stops after the current epoch.
    """

    def on_train_begin(self, network, epochs):
        """Called once before the first epoch; epochs is None when only a time budget ends
        training."""

    def on_batch_end(self, batch_index, loss):
        """Called after every update; batch_index counts from 0 since the start of training."""

    def on_epoch_end(self, epoch, history):
        """Called after every epoch (0-based); ``history`` already holds its numbers."""

    def on_train_end(self, history):
        """Called once at the end, also when training stopped early."""


def _now():
    """Seconds on fit's clock (a function of its own, so that tests can replace the clock)."""
    return time.perf_counter()


class _TrainingRun:
    """What every batch of one fit needs besides the data: the optimiser, the generator, the
    callbacks, the augmentation, the deadline (clock time or None), and the steps done."""

    def __init__(self, optimizer, rng, callbacks, augment, deadline):
        self.optimizer, self.rng, self.callbacks = optimizer, rng, callbacks
        self.augment, self.deadline = augment, deadline
        self.steps_done = 0


class _Diverged(Exception):
    """Raised inside fit when the loss stops being a finite number."""


class Sequential:
    """A stack of layers applied one after the other, plus the loss used to train them.

    layers: a list of ``nnlib.layers.Layer`` objects; loss: e.g. ``SoftmaxCrossEntropy()``
    (needed for ``fit``, ``evaluate`` and ``loss_and_gradients``).
    """

    def __init__(self, layers, loss=None):
        layers = list(layers)
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: item {index} is {layer!r}, not a layer; build the network from "
                    f"nnlib.layers objects such as Dense(784, 128) and ReLU()."
                )
        _check_each_layer_used_once(layers)
        self._check_sizes_fit(layers)
        self.layers = layers
        self.loss = loss
        self.stop_training = False

    @staticmethod
    def _check_sizes_fit(layers):
        previous = None
        for layer in layers:
            if isinstance(layer, Dense):
                if previous is not None and previous.out_features != layer.in_features:
                    raise ValueError(
                        f"Sequential: {previous!r} gives {previous.out_features} features but "
                        f"the next {layer!r} expects {layer.in_features}."
                    )
                previous = layer

    @property
    def dtype(self):
        """The floating-point type of the weights (that of the Dense layers; float64 if none)."""
        for layer in self.layers:
            if isinstance(layer, Dense):
                return layer.dtype
        return np.dtype(np.float64)

    # --- passes ---------------------------------------------------------------------------------

    def forward(self, x, training=False):
        """Run x (N, in_features) through every layer; returns the last layer's output."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, grad_output, *, input_grad=True):
        """Backpropagate dL/d output through the layers in reverse; fills every layer's grads.

        Returns dL/d input (N, in_features), or None with ``input_grad=False``. Training uses
        the latter: nobody needs the gradient with respect to the images, and for the first
        Dense layer it is the largest matrix product of the backward pass (N x 128 x 784 on
        MNIST), so we stop as soon as the first layer with parameters has its gradients.
        """
        first_trainable = self._first_trainable_index()
        grad = grad_output
        for index in reversed(range(len(self.layers))):
            layer = self.layers[index]
            if not input_grad and index == first_trainable:
                layer.backward(grad, input_grad=False)
                return None
            grad = layer.backward(grad)
        return grad

    def _first_trainable_index(self):
        for index, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                return index
        return None

    def loss_and_gradients(self, X, y):
        """Forward in training mode, the loss, and backward on one batch; returns the loss.

        Afterwards ``gradients()`` holds dL/d parameter for this batch.
        """
        loss, _ = self._train_step(X, y)
        return loss

    def _train_step(self, X, y):
        loss_function = self._require_loss("loss_and_gradients")
        output = self.forward(X, training=True)
        loss = loss_function.forward(output, y)
        self.backward(loss_function.backward(), input_grad=False)
        return loss, output

    def _require_loss(self, what):
        if self.loss is None:
            raise ValueError(
                f"{what} needs a loss; create the network with one, e.g. "
                f"Sequential(layers, loss=SoftmaxCrossEntropy())."
            )
        return self.loss

    # --- parameters -----------------------------------------------------------------------------

    def parameters(self):
        """Dict name -> the live parameter arrays ("0.W", "0.b", ...). Changing them changes
        the network."""
        return {f"{index}.{name}": value for index, layer in enumerate(self.layers)
                for name, value in layer.params.items()}

    def gradients(self):
        """Dict name -> the gradient arrays of the last backward pass, same names as parameters()."""
        return {f"{index}.{name}": value for index, layer in enumerate(self.layers)
                for name, value in layer.grads.items()}

    def num_parameters(self):
        return sum(layer.num_parameters() for layer in self.layers)

    # --- prediction -----------------------------------------------------------------------------

    def _as_input(self, X, name="X"):
        """The one check of inputs for fit, predict, predict_proba and evaluate: a dense array
        (N, features) of finite numbers, cast once to the network's dtype (not once per batch)."""
        return validate.as_samples(X, name, dtype=self.dtype)

    def _as_dataset(self, X, y, name="X", labels_name="y"):
        """Inputs as ``_as_input`` checks them, and one finite label (or row) per sample."""
        X = self._as_input(X, name)
        return X, validate.as_labels(y, len(X), labels_name, samples_name=name)

    def predict_proba(self, X, batch_size=1024):
        """Class probabilities (N, C) in evaluation mode, computed batch_size rows at a time to
        bound the memory. Uses the loss's ``predict_proba`` (softmax for logits)."""
        outputs = self._forward_in_batches(self._as_input(X), batch_size)
        self._check_outputs_finite(outputs)
        return outputs if self.loss is None else self.loss.predict_proba(outputs)

    def _forward_in_batches(self, X, batch_size):
        batch_size = validate.check_positive_int("batch_size", batch_size)
        return np.concatenate([self.forward(X[start:start + batch_size])
                               for start in range(0, len(X), batch_size)])

    def _check_outputs_finite(self, outputs):
        """Finite inputs gave NaN or inf: say whether the weights or the scale is to blame."""
        if np.isfinite(outputs).all():
            return
        broken = [name for name, value in self.parameters().items()
                  if not np.isfinite(value).all()]
        if broken:
            raise ValueError(
                f"The network's parameters {broken} contain NaN or infinite values, so its "
                f"outputs mean nothing; train it again (if training diverged: with a smaller learning "
                f"rate, or with He/Xavier initial weights) or load a saved copy."
            )
        bad_rows = np.flatnonzero(~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1))
        raise ValueError(
            f"The network's outputs overflowed to inf or NaN for {bad_rows.size} rows (the "
            f"first: {bad_rows[:5].tolist()}); scale the inputs to about -1..1 (e.g. divide "
            f"pixel values by 255)."
        )

    def predict(self, X, batch_size=1024):
        """Predicted class ids (N,): the arg-max, or probability >= 0.5 for a single output."""
        return _labels_from_probabilities(self.predict_proba(X, batch_size=batch_size))

    def evaluate(self, X, y, batch_size=1024):
        """(loss, accuracy) on the data set, in evaluation mode (dropout off)."""
        self._require_loss("evaluate")
        X, y = self._as_dataset(X, y)
        outputs = self._forward_in_batches(X, batch_size)
        self._check_outputs_finite(outputs)
        return self._loss_and_accuracy(outputs, y)

    def _loss_and_accuracy(self, outputs, y):
        loss = self.loss.forward(outputs, y)
        correct = _count_correct(self.loss.predict_proba(outputs), y)
        return loss, correct / len(outputs)

    # --- training -------------------------------------------------------------------------------

    def fit(self, X, y, *, epochs=None, batch_size=32, optimizer=None, validation_data=None,
            rng=None, verbose=1, callbacks=(), time_budget=None, augment=None):
        """Train with shuffled mini-batches; returns a ``History``.

        X (N, features), y (N,) class ids or (N, C) one-hot. Every epoch visits all samples once
        in a new random order drawn from ``rng`` (a ``np.random.Generator``): the same seed and
        the same data give exactly the same weights. ``epochs`` defaults to 10 (no limit when a
        ``time_budget`` is given). ``optimizer`` defaults to ``Adam(1e-3)``;
        ``validation_data=(X_val, y_val)`` adds val_loss and val_accuracy after every epoch.
        ``verbose=1`` shows a progress bar, ``verbose=0`` nothing. ``callbacks``: ``Callback``
        objects whose hooks are called along the way. Dropout layers without their own
        generator draw their masks from ``rng``.

        ``time_budget``: seconds of wall-clock time; training stops after the first batch that
        ends past it (lesson 07). An optimizer whose learning rate is a ``TimeBudgetCosine``
        has its clock started when fit begins, so give both the same budget:
        ``fit(..., optimizer=Adam(TimeBudgetCosine(2e-3, 60)), time_budget=60)``.

        ``augment``: a function ``augment(X_batch, rng) -> X_batch`` applied to every training
        batch (never to validation data), such as
        ``functools.partial(nnlib.augment.random_shifts, max_shift=1)``; it must return an
        array of the same shape.

        If the loss becomes NaN or infinite (usually: the learning rate is too large), training
        stops; the reason is printed (whatever ``verbose`` says) and stored in
        ``history.stopped_reason``.

        An optimiser keeps memory of the network it trains (moments, its step count): fit refuses
        one that has already taken steps for another network. Give each network its own
        optimiser, or call ``optimizer.reset()`` to start it afresh.

        For speed, the optimiser updates all weights as one array: during fit it receives
        {"W": every weight, "b": every bias} (see ``_ContiguousParameters``), and its state
        is kept under those two names.
        """
        from nnlib.optimizers import Adam

        self._require_loss("fit")
        _check_each_layer_used_once(self.layers)  # again: self.layers may have been edited
        X, y = self._as_dataset(X, y)
        if epochs is not None or time_budget is None:
            epochs = validate.check_positive_int("epochs", 10 if epochs is None else epochs)
        if time_budget is not None:
            validate.check_positive_real("time_budget", time_budget, "fit", example="60 (seconds)")
        if augment is not None and not callable(augment):
            raise TypeError(
                f"fit: augment must be a function augment(X_batch, rng) -> X_batch, got "
                f"{augment!r}; e.g. functools.partial(nnlib.augment.random_shifts, max_shift=1)."
            )
        validate.check_positive_int("batch_size", batch_size)
        if validation_data is not None:
            X_val, y_val = self._as_dataset(*_as_pair(validation_data),
                                            "validation X", "validation y")
        optimizer = validate.check_optimizer(Adam(1e-3) if optimizer is None else optimizer, "fit")
        rng = validate.as_generator(rng, "fit")
        callbacks = validate.as_callbacks(callbacks, "fit")
        if hasattr(optimizer, "attach"):  # nnlib's optimizers: one network each (see above)
            optimizer.attach(self)
        for layer in self.layers:
            if isinstance(layer, Dropout) and layer.rng is None:
                layer.rng = rng

        history = History()
        self.stop_training = False
        fit_started = _now()
        deadline = None if time_budget is None else fit_started + time_budget
        schedule = getattr(optimizer, "learning_rate", None)
        if callable(getattr(schedule, "start", None)):  # a TimeBudgetCosine: its time starts now
            schedule.start()
        progress = tqdm(total=epochs, unit="epoch", disable=verbose == 0)
        run = _TrainingRun(optimizer, rng, callbacks, augment, deadline)
        with _ContiguousParameters(self.layers) as packed:
            for callback in callbacks:
                callback.on_train_begin(self, epochs)
            epoch = 0
            while epochs is None or epoch < epochs:
                started = _now()
                try:
                    loss, accuracy, fraction = self._train_one_epoch(X, y, batch_size, packed, run)
                    if validation_data is not None:
                        val_loss, val_accuracy = self._guarded_evaluate(X_val, y_val)
                except _Diverged as diverged:
                    history.stopped_reason = (
                        f"Training stopped in epoch {epoch + 1}: {diverged} The two usual "
                        f"causes: a learning rate too large (try a smaller one, e.g. a "
                        f"tenth of {optimizer.current_learning_rate():g}), or initial weights "
                        f"too large for the depth (try init='he' for ReLU, 'xavier' for tanh)."
                    )
                    print(history.stopped_reason)
                    break
                history.loss.append(loss)
                history.accuracy.append(accuracy)
                if validation_data is not None:
                    history.val_loss.append(val_loss)
                    history.val_accuracy.append(val_accuracy)
                history.seconds.append(_now() - started)
                history.epochs_done += fraction
                history.elapsed = _now() - fit_started
                progress.set_postfix(_postfix(history), refresh=False)
                progress.update(1)
                for callback in callbacks:
                    callback.on_epoch_end(epoch, history)
                epoch += 1
                if fraction < 1.0 or (deadline is not None and _now() >= deadline):
                    history.stopped_reason = (
                        f"The time budget of {time_budget:g} s was spent after "
                        f"{history.epochs_done:.2f} epochs."
                    )
                    break
                if self.stop_training:
                    history.stopped_reason = f"Stopped by a callback after epoch {epoch}."
                    break
        history.elapsed = _now() - fit_started
        progress.close()
        for callback in callbacks:
            callback.on_train_end(history)
        return history

    def _train_one_epoch(self, X, y, batch_size, packed, run):
        """One pass over the data in a fresh random order, or until run's deadline passes.

        Returns (mean loss, accuracy) over the batches trained, and the fraction of the
        samples they covered (1.0 for a whole epoch).
        """
        params, grads = packed.refresh()
        order = run.rng.permutation(len(X))
        total_loss, total_correct, seen = 0.0, 0, 0
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            X_batch, y_batch = X[batch], y[batch]
            if run.augment is not None:
                X_batch = self._augmented(X_batch, run)
            loss, output = self._guarded_step(X_batch, y_batch, run.optimizer, params, grads)
            total_loss += loss * len(batch)
            total_correct += self._count_correct_outputs(output, y_batch)
            seen += len(batch)
            for callback in run.callbacks:
                callback.on_batch_end(run.steps_done, loss)
            run.steps_done += 1
            if run.deadline is not None and _now() >= run.deadline:
                break
        return total_loss / seen, total_correct / seen, seen / len(X)

    def _augmented(self, X_batch, run):
        augmented = run.augment(X_batch, run.rng)
        if not isinstance(augmented, np.ndarray) or augmented.shape != X_batch.shape:
            raise ValueError(
                f"fit: augment({X_batch.shape[0]} images, rng) must return an array of the same "
                f"shape {X_batch.shape}, got {getattr(augmented, 'shape', type(augmented))}."
            )
        return augmented.astype(self.dtype, copy=False)

    def _guarded_step(self, X_batch, y_batch, optimizer, params, grads):
        """One training step (forward, loss, backward, update); _Diverged if numbers blow up.

        Overflow or 0/0 anywhere in the step raises FloatingPointError inside np.errstate
        instead of printing a RuntimeWarning; we turn it into a clean stop with advice.
        """
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                loss, output = self._train_step(X_batch, y_batch)
                if not math.isfinite(loss):
                    raise _Diverged(f"the loss became {loss}.")
                optimizer.step(params, grads)
        except FloatingPointError as error:
            raise _Diverged(f"the numbers overflowed ({error}).") from None
        return loss, output

    def _guarded_evaluate(self, X, y):
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                return self._loss_and_accuracy(self._forward_in_batches(X, 1024), y)
        except FloatingPointError as error:
            raise _Diverged(f"the numbers overflowed on the validation data ({error}).") from None

    def _count_correct_outputs(self, output, y):
        # The arg-max of logits is the arg-max of their softmax: skip the exponentials.
        if output.ndim == 2 and output.shape[1] > 1:
            return _count_correct(output, y)
        return _count_correct(self.loss.predict_proba(output), y)

    # --- description ----------------------------------------------------------------------------

    def summary(self):
        """A table of the layers, their output shapes and parameter counts, as a string."""
        rows = [("#", "layer", "output shape", "parameters")]
        features = next((layer.in_features for layer in self.layers
                         if isinstance(layer, Dense)), None)
        for index, layer in enumerate(self.layers):
            if features is not None:
                features = layer.output_features(features)
            shape = f"(N, {features})" if features is not None else "(N, ?)"
            rows.append((str(index), repr(layer), shape, f"{layer.num_parameters():,}"))
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        lines = ["  ".join(cell.ljust(width) if column < 3 else cell.rjust(width)
                           for column, (cell, width) in enumerate(zip(row, widths)))
                 for row in rows]
        rule = "-" * len(lines[0])
        footer = [f"total parameters: {self.num_parameters():,} ({np.dtype(self.dtype).name})",
                  f"loss: {self.loss!r}"]
        return "\n".join([lines[0], rule, *lines[1:], rule, *footer])

    def __repr__(self):
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n], loss={self.loss!r})"


class _ContiguousParameters:
    """While ``fit`` runs: all parameters of one kind ("W", "b") in one contiguous array.

    The optimiser then updates every weight matrix with one dozen NumPy calls instead of a dozen
    per layer. That matters: for the small arrays (biases, the last layer) an update costs mostly
    the calls themselves. The layers work on views into the big arrays during training, and get
    their own arrays back -- holding the new values -- when training ends, even by an error or
    an interrupt. ``refresh()`` adopts arrays that a callback swapped in meanwhile.

    Used as ``with _ContiguousParameters(layers) as packed: params, grads = packed.refresh()``;
    params and grads are dicts {"W": flat array, "b": flat array} for ``optimizer.step``.
    """

    def __init__(self, layers):
        self.layers = [layer for layer in layers if layer.params]

    def __enter__(self):
        self._own_arrays = [(layer, dict(layer.params), dict(layer.grads)) for layer in self.layers]
        self.params, self.grads, self._views = {}, {}, []
        groups = {}
        for layer in self.layers:
            for name, value in layer.params.items():
                groups.setdefault((name, value.dtype), []).append(layer)
        several_dtypes = len({name for name, _ in groups}) < len(groups)
        for (name, dtype), owners in groups.items():
            key = f"{dtype.name}.{name}" if several_dtypes else name
            self.params[key] = np.concatenate([layer.params[name].ravel() for layer in owners])
            self.grads[key] = np.concatenate([layer.grads[name].ravel() for layer in owners])
            offset = 0
            for layer in owners:
                shape, size = layer.params[name].shape, layer.params[name].size
                param_view = self.params[key][offset:offset + size].reshape(shape)
                grad_view = self.grads[key][offset:offset + size].reshape(shape)
                layer.params[name], layer.grads[name] = param_view, grad_view
                self._views.append((layer, name, param_view, grad_view))
                offset += size
        return self

    def refresh(self):
        """Re-attach the views if an array was replaced (its values are kept); return the dicts."""
        for layer, name, param_view, grad_view in self._views:
            if layer.params[name] is not param_view:
                param_view[...] = layer.params[name]
                layer.params[name] = param_view
            layer.grads[name] = grad_view
        return self.params, self.grads

    def __exit__(self, *error):
        for layer, params, grads in self._own_arrays:
            for name, own_array in params.items():
                own_array[...] = layer.params[name]
                layer.params[name] = own_array
            for name, own_array in grads.items():
                own_array[...] = layer.grads[name]
                layer.grads[name] = own_array
        return False


# --- helpers ------------------------------------------------------------------------------------

def _labels_from_probabilities(probabilities):
    if probabilities.ndim == 1:
        probabilities = probabilities[:, None]
    if probabilities.shape[1] == 1:
        return (probabilities[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(probabilities, axis=1)


def _count_correct(probabilities, y):
    predicted = _labels_from_probabilities(probabilities)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
        y = np.argmax(y, axis=1)
    return int(np.count_nonzero(predicted == y.reshape(-1)))


def _check_each_layer_used_once(layers):
    """Refuse a layer object that appears at several positions.

    A layer caches its input during forward for its backward pass; used twice, its second use
    overwrites the cache of the first, and backward then computes the first position's gradient
    from the wrong numbers -- silently.
    """
    positions = {}
    for index, layer in enumerate(layers):
        positions.setdefault(id(layer), []).append(index)
    for indices in positions.values():
        if len(indices) > 1:
            layer = layers[indices[0]]
            call = f"{type(layer).__name__}({'...' if layer.params else ''})"
            raise ValueError(
                f"Sequential: the same {layer!r} object is used at positions {indices}. A layer "
                f"remembers its last forward pass for backward, so it can stand at one position "
                f"only; create a new instance for each position (write {call} at each place "
                f"instead of reusing one object)."
            )


def _as_pair(validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError(
            "validation_data must be a pair (X_val, y_val), e.g. validation_data=(X_val, y_val)."
        )
    return validation_data


def _postfix(history):
    postfix = {"loss": f"{history.loss[-1]:.4f}", "acc": f"{history.accuracy[-1]:.4f}"}
    if history.val_loss:
        postfix["val_loss"] = f"{history.val_loss[-1]:.4f}"
        postfix["val_acc"] = f"{history.val_accuracy[-1]:.4f}"
    return postfix
