"""How fast is nnlib's training loop, and how good is the network it trains?

One run measures, on MNIST, for the 784-128-64-10 ReLU network at batch size 128, float32:

1. the floor: the 8 matrix products of a training step alone (3 forward, 3 weight gradients,
   2 input gradients), on the same shuffled batches, gathered beforehand -- no framework can
   train faster than this with NumPy's BLAS;
2. nnlib: seconds per epoch of ``Sequential.fit`` with Adam (everything included: batch
   gathering, activations, loss, backward, optimiser), and for comparison with plain SGD,
   whose update is a single pass over the parameters instead of Adam's ten;
3. scikit-learn's MLPClassifier on the same data and architecture (solver "adam", batch 128,
   no L2 penalty, one ``partial_fit`` per epoch);

each as the median of ``--repeats`` epochs, taken in turns so that a busy machine slows all three
alike; then the test accuracy of nnlib after 10 epochs; then the time to accuracy: the seconds
of training that each of nnlib, scikit-learn and PyTorch (only if it is installed) needs before
its test accuracy first reaches 98.0 %, checked after every epoch (the checks are not timed).

    python benchmarks/train_mnist.py            (MNIST from NNLIB_DATA_DIR or the user cache)
"""

import argparse
import importlib.util
import itertools
import math
import os
import platform
import time

import numpy as np
from matmul_floor import matmul_floor_epoch
from sklearn.neural_network import MLPClassifier

from nnlib import Dense, ReLU, Sequential
from nnlib.data import load_mnist
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.network import _ContiguousParameters
from nnlib.optimizers import SGD, Adam, CosineWithWarmup

HIDDEN = (128, 64)
BATCH_SIZE = 128


def build_network(rng):
    sizes = (784, *HIDDEN, 10)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [Dense(fan_in, fan_out, rng=rng), ReLU()]
    return Sequential(layers[:-1], loss=SoftmaxCrossEntropy())


def floor_epoch(X, rng):
    """Seconds for the 8 matrix products of every training step of one epoch, nothing else."""
    return matmul_floor_epoch(X, (784, *HIDDEN, 10), BATCH_SIZE, rng)


def nnlib_epoch(network, X, y, optimizer, rng):
    history = network.fit(X, y, epochs=1, batch_size=BATCH_SIZE, optimizer=optimizer, rng=rng,
                          verbose=0)
    return history.seconds[0]


def sklearn_epoch(classifier, X, y):
    started = time.perf_counter()
    classifier.partial_fit(X, y, classes=np.arange(10))
    return time.perf_counter() - started


def measure_speed(X, y, repeats, seed):
    rng = np.random.default_rng(seed)
    network, optimizer = build_network(rng), Adam(1e-3)
    sgd_network, sgd = build_network(rng), SGD(0.05)
    classifier = MLPClassifier(hidden_layer_sizes=HIDDEN, solver="adam", batch_size=BATCH_SIZE,
                               learning_rate_init=1e-3, alpha=0.0, random_state=seed)
    # one warm-up round each: first-touch memory, BLAS thread start-up
    floor_epoch(X[:5000], rng)
    nnlib_epoch(network, X[:5000], y[:5000], optimizer, rng)
    nnlib_epoch(sgd_network, X[:5000], y[:5000], sgd, rng)
    sklearn_epoch(classifier, X[:5000], y[:5000])
    times = {"floor": [], "nnlib": [], "nnlib_sgd": [], "sklearn": []}
    for _ in range(repeats):
        times["floor"].append(floor_epoch(X, rng))
        times["nnlib"].append(nnlib_epoch(network, X, y, optimizer, rng))
        times["nnlib_sgd"].append(nnlib_epoch(sgd_network, X, y, sgd, rng))
        times["sklearn"].append(sklearn_epoch(classifier, X, y))
    return {name: float(np.median(values)) for name, values in times.items()}, times


def time_step_parts(X, y, seed):
    """Seconds per epoch spent in each part of nnlib's training step, timed one by one."""
    rng = np.random.default_rng(seed)
    network, optimizer = build_network(rng), Adam(1e-3)
    parts = {"gather the batch": 0.0, "forward, loss, backward": 0.0, "Adam update": 0.0}
    order = rng.permutation(len(X))
    with _ContiguousParameters(network.layers) as packed:  # as fit arranges the parameters
        params, grads = packed.refresh()
        for start in range(0, len(X), BATCH_SIZE):
            _time_one_step(network, optimizer, X, y, order[start:start + BATCH_SIZE],
                           params, grads, parts)
    return parts


def _time_one_step(network, optimizer, X, y, batch, params, grads, parts):
    started = time.perf_counter()
    X_batch, y_batch = X[batch], y[batch]
    gathered = time.perf_counter()
    network.loss_and_gradients(X_batch, y_batch)
    backpropagated = time.perf_counter()
    optimizer.step(params, grads)
    updated = time.perf_counter()
    parts["gather the batch"] += gathered - started
    parts["forward, loss, backward"] += backpropagated - gathered
    parts["Adam update"] += updated - backpropagated


def train_for_accuracy(X, y, X_test, y_test, epochs, seed):
    """The benchmark network, trained for ``epochs`` with Adam and a cosine learning rate."""
    rng = np.random.default_rng(seed)
    network = build_network(rng)
    steps = epochs * int(np.ceil(len(X) / BATCH_SIZE))
    optimizer = Adam(CosineWithWarmup(peak=2e-3, total_steps=steps, warmup_steps=200))
    history = network.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, optimizer=optimizer,
                          rng=rng, verbose=0)
    _, accuracy = network.evaluate(X_test, y_test)
    return accuracy, history


# --- time to accuracy ---------------------------------------------------------------------------

TARGET_ACCURACY = 0.98
MAX_EPOCHS = 30        # a contender that has not reached the target by then is reported as such
SCHEDULE_EPOCHS = 10   # nnlib and PyTorch: cosine learning rate over this many epochs
PEAK_RATE, WARMUP_STEPS = 2e-3, 200


def epochs_to_accuracy(train_one_epoch, test_accuracy):
    """Train epoch after epoch until test_accuracy() >= 98.0 %; returns (seconds, epochs,
    accuracy, reached). Only train_one_epoch() is timed; if MAX_EPOCHS do not reach the target,
    seconds is the time they took (a lower bound) and reached is False."""
    seconds = 0.0
    for epoch in range(1, MAX_EPOCHS + 1):
        started = time.perf_counter()
        train_one_epoch()
        seconds += time.perf_counter() - started
        accuracy = test_accuracy()
        if accuracy >= TARGET_ACCURACY:
            return seconds, epoch, accuracy, True
    return seconds, MAX_EPOCHS, accuracy, False


def nnlib_time_to_accuracy(X, y, X_test, y_test, seed):
    """Adam with warm-up and cosine (peak 2e-3 over 10 epochs), batch 128, float32."""
    rng = np.random.default_rng(seed)
    network = build_network(rng)
    steps = SCHEDULE_EPOCHS * math.ceil(len(X) / BATCH_SIZE)
    optimizer = Adam(CosineWithWarmup(PEAK_RATE, steps, warmup_steps=WARMUP_STEPS))
    return epochs_to_accuracy(
        lambda: network.fit(X, y, epochs=1, batch_size=BATCH_SIZE, optimizer=optimizer,
                            rng=rng, verbose=0),
        lambda: network.evaluate(X_test, y_test)[1])


def sklearn_time_to_accuracy(X, y, X_test, y_test, seed):
    """MLPClassifier, solver adam at its default constant rate 1e-3 (it has no schedule for
    adam), batch 128, no L2 penalty; one partial_fit per epoch."""
    classifier = MLPClassifier(hidden_layer_sizes=HIDDEN, solver="adam", batch_size=BATCH_SIZE,
                               learning_rate_init=1e-3, alpha=0.0, random_state=seed)
    return epochs_to_accuracy(
        lambda: classifier.partial_fit(X, y, classes=np.arange(10)),
        lambda: classifier.score(X_test, y_test))


def torch_time_to_accuracy(X, y, X_test, y_test, seed):
    """The same network in PyTorch (default init), Adam with nnlib's schedule, batch 128,
    float32, as many threads as OpenBLAS gets."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count())))
    sizes = (784, *HIDDEN, 10)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=PEAK_RATE)
    steps = SCHEDULE_EPOCHS * math.ceil(len(X) / BATCH_SIZE)
    schedule = CosineWithWarmup(PEAK_RATE, steps, warmup_steps=WARMUP_STEPS)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule(step) / PEAK_RATE)
    X_torch, y_torch = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    X_test_torch = torch.from_numpy(X_test)
    loss_function = torch.nn.CrossEntropyLoss()

    def train_one_epoch():
        model.train()
        order = torch.randperm(len(X_torch))
        for start in range(0, len(X_torch), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss_function(model(X_torch[batch]), y_torch[batch]).backward()
            optimizer.step()
            scheduler.step()

    def test_accuracy():
        model.eval()
        with torch.no_grad():
            predicted = model(X_test_torch).argmax(dim=1).numpy()
        return float(np.mean(predicted == y_test))

    return epochs_to_accuracy(train_one_epoch, test_accuracy)


def report_time_to_accuracy(X, y, X_test, y_test, seed):
    contenders = {"nnlib": nnlib_time_to_accuracy, "scikit-learn": sklearn_time_to_accuracy}
    if importlib.util.find_spec("torch") is not None:
        contenders["PyTorch"] = torch_time_to_accuracy
    print(f"\ntime to {TARGET_ACCURACY:.1%} test accuracy (training seconds only, checked "
          f"after every epoch, at most {MAX_EPOCHS} epochs; load average {_load_average()}):")
    results = {}
    for name, measure in contenders.items():
        seconds, epochs, accuracy, reached = measure(X, y, X_test, y_test, seed)
        results[name] = (seconds, reached)
        outcome = (f"{seconds:6.1f} s  ({epochs} epochs, {accuracy:.2%})" if reached else
                   f"not reached in {epochs} epochs, {seconds:.1f} s ({accuracy:.2%})")
        print(f"  {name:14s} {outcome}")
    if "PyTorch" not in contenders:
        print("  PyTorch        not installed (optional: pip install torch)")
    nnlib_seconds, nnlib_reached = results["nnlib"]
    for name, (seconds, reached) in results.items():
        if name != "nnlib" and nnlib_reached:
            at_least = "" if reached else "more than "   # its seconds are a lower bound
            print(f"  {name} / nnlib: {at_least}{seconds / nnlib_seconds:.2f}x   (target > 1: "
                  f"nnlib faster)")
    print(f"load average after: {_load_average()}")
    return results


def _load_average():
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="epochs timed per contender")
    parser.add_argument("--epochs", type=int, default=10, help="epochs for the accuracy run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["speed", "time-to-accuracy"],
                        help="run one part only (default: everything)")
    args = parser.parse_args()

    X, y = load_mnist("train")
    X_test, y_test = load_mnist("test")
    print(f"MNIST {X.shape[0]} train / {X_test.shape[0]} test, {X.dtype}; network "
          f"784-{'-'.join(map(str, HIDDEN))}-10 ReLU, batch {BATCH_SIZE}")
    print(f"NumPy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")

    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    if args.only == "time-to-accuracy":
        report_time_to_accuracy(X, y, X_test, y_test, args.seed)
        return
    print(f"load average before: {_load_average()}  (other busy processes distort all timings)")
    medians, times = measure_speed(X, y, args.repeats, args.seed)
    print(f"\nseconds per epoch, median of {args.repeats}:")
    for name, label in (("floor", "matrix products only (floor)"),
                        ("nnlib", "nnlib Sequential.fit, Adam"),
                        ("nnlib_sgd", "nnlib Sequential.fit, SGD"),
                        ("sklearn", "scikit-learn MLPClassifier")):
        runs = ", ".join(f"{t:.3f}" for t in times[name])
        print(f"  {label:30s} {medians[name]:.3f} s   ({runs})")
    print(f"  nnlib / floor     {medians['nnlib'] / medians['floor']:.2f}x   (target <= 2.0x)")
    print(f"  nnlib SGD / floor {medians['nnlib_sgd'] / medians['floor']:.2f}x")
    print(f"  sklearn / nnlib   {medians['sklearn'] / medians['nnlib']:.2f}x   "
          f"(nnlib's speed-up; target >= 1.5x)")
    # Each round timed the three back to back; on a shared machine the ratio within a round
    # is steadier than the ratio of the medians.
    paired = [n / f for n, f in zip(times["nnlib"], times["floor"])]
    print(f"  nnlib / floor within each round: {', '.join(f'{r:.2f}' for r in paired)}  "
          f"(median {np.median(paired):.2f}x)")

    print(f"load average after the timings: {_load_average()}")

    parts = time_step_parts(X, y, args.seed)
    print("\none nnlib epoch, part by part (the matrix products are in the middle part):")
    for name, seconds in parts.items():
        print(f"  {name:30s} {seconds:.3f} s   ({seconds / medians['floor']:.2f}x the floor)")

    accuracy, history = train_for_accuracy(X, y, X_test, y_test, args.epochs, args.seed)
    print(f"\nnnlib test accuracy after {history.epochs} epochs: {accuracy:.2%}   "
          f"(target >= 97.8%; {np.median(history.seconds):.3f} s per epoch)")
    if args.only is None:
        report_time_to_accuracy(X, y, X_test, y_test, args.seed)


if __name__ == "__main__":
    main()
