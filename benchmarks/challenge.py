"""The 99 % challenge: how accurate a pure-NumPy MLP gets in a wall-clock budget (lesson 07).

    python benchmarks/challenge.py --budget 60 --seed 0
    python benchmarks/challenge.py --budget 300 --seed 0 --dataset fashion-mnist --save model.npz

trains the recipe below for --budget seconds of training on all 60 000 training images and
prints the epochs it managed, the test accuracy, and the seconds per epoch as a multiple of the
matmul floor (the matrix products alone, see matmul_floor.py) measured in the same run.

The recipe (every choice made on a validation split, never on the test set; see README.md):

    784-512-256-10 ReLU, He initialisation, float32
    augmentation: random shifts of up to 2 pixels on MNIST, 1 on Fashion-MNIST; for MNIST
                  budgets from 120 s on, small random affine transforms instead (rotation
                  <= 10 degrees, scale 90-110 %, shift <= 2 px)
    SoftmaxCrossEntropy(label_smoothing=0.1)
    Adam, batch 256, learning rate TimeBudgetCosine(peak 3e-3 on MNIST, 2e-3 on
    Fashion-MNIST): 3 % warm-up, cosine to 0 exactly when the budget is spent
    at test time: the probabilities averaged over each image and its four neighbours one pixel
                  away (nnlib.augment.predict_proba_shifted); the plain accuracy is printed too

``--validation`` trains on the first 50 000 training images and reports the accuracy on the last
10 000 instead of the test set: the way to compare settings (the flags below) without looking at
the test images. ``--save PATH`` writes the trained network with ``nnlib.io.save``; it predicts
from plain (N, 784) images in [0, 1]: ``nnlib.io.load(PATH).predict(images)`` gives the plain
accuracy, ``predict_proba_shifted(nnlib.io.load(PATH), images).argmax(axis=1)`` the headline one.
"""

import argparse
import functools
import itertools
import os
import platform
import time

import numpy as np
from matmul_floor import median_floor

import nnlib.io
from nnlib import Dense, Dropout, ReLU, Sequential
from nnlib.augment import predict_proba_shifted, random_affine, random_flips, random_shifts
from nnlib.averaging import WeightAverage
from nnlib.data import load_fashion_mnist, load_mnist
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.optimizers import Adam, TimeBudgetCosine

LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
AFFINE_FROM_SECONDS = 120  # --augment auto on MNIST: shifts below this budget, affine from it on
# The settings that differ between the data sets, as chosen on their validation splits.
DATASET_DEFAULTS = {"mnist": {"max_shift": 2, "lr": 3e-3},
                    "fashion-mnist": {"max_shift": 1, "lr": 2e-3}}


def defaults_by_dataset(name):
    """'default 2 on mnist, 1 on fashion-mnist': the help text of a per-data-set setting."""
    values = [f"{settings[name]:g} on {dataset}" for dataset, settings in DATASET_DEFAULTS.items()]
    return "default " + ", ".join(values)


def build_network(hidden, rng, dropout=0.0, smoothing=0.1):
    sizes = (784, *hidden, 10)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [Dense(fan_in, fan_out, rng=rng, init="he"), ReLU()]
        if dropout:
            layers.append(Dropout(dropout))
    layers = layers[:-2] if dropout else layers[:-1]   # the last Dense gives the logits
    return Sequential(layers, loss=SoftmaxCrossEntropy(label_smoothing=smoothing))


def make_augment(name, budget, args):
    if name == "auto":  # as chosen on the validation split, see README.md
        digits = args.dataset == "mnist"
        name = "affine" if digits and budget >= AFFINE_FROM_SECONDS else "shifts"
    if name == "shifts":
        transform = functools.partial(random_shifts, max_shift=args.max_shift)
    elif name == "affine":
        transform = functools.partial(random_affine, max_rotation=args.max_rotation,
                                      max_scale=args.max_scale, max_shift=float(args.max_shift))
    else:
        transform = None
    if not args.flip:
        return name, transform
    if transform is None:
        return "flips", random_flips
    return f"flips + {name}", lambda images, rng: transform(random_flips(images, rng), rng)


def accuracy(network, images, labels, test_shifts):
    """test_shifts "neighbours": of the predictions averaged over each image and its four 1-pixel
    neighbours; "none": of the image alone."""
    if test_shifts == "neighbours":
        predictions = predict_proba_shifted(network, images).argmax(axis=1)
    else:
        predictions = network.predict(images)
    return float(np.mean(predictions == labels))


def load_data(dataset, validation):
    X, y = LOADERS[dataset]("train")
    if validation:
        return X[:50_000], y[:50_000], X[50_000:], y[50_000:], "validation (last 10 000 train)"
    X_test, y_test = LOADERS[dataset]("test")
    return X, y, X_test, y_test, "test"


def load_average():
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") \
        else "unknown"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, required=True, help="seconds of training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="mnist")
    parser.add_argument("--save", metavar="PATH", help="write the trained model (nnlib.io)")
    parser.add_argument("--validation", action="store_true",
                        help="hold out the last 10 000 training images, report on them")
    parser.add_argument("--hidden", default="512,256", help="hidden sizes, e.g. 512,256")
    parser.add_argument("--augment", choices=["auto", "none", "shifts", "affine"],
                        default="auto")
    parser.add_argument("--flip", action="store_true",
                        help="also mirror half of the images left-right (clothes only)")
    parser.add_argument("--max-shift", type=int,
                        help=f"pixels (shifts and affine); {defaults_by_dataset('max_shift')}")
    parser.add_argument("--max-rotation", type=float, default=10.0, help="degrees (affine)")
    parser.add_argument("--max-scale", type=float, default=0.1, help="fraction (affine)")
    parser.add_argument("--lr", type=float,
                        help=f"peak learning rate of Adam; {defaults_by_dataset('lr')}")
    parser.add_argument("--warmup", type=float, default=0.03, help="warm-up fraction")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--smoothing", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                        help="evaluate an exponential moving average of the weights (0: off)")
    parser.add_argument("--test-shifts", choices=["neighbours", "none"], default="neighbours",
                        help="average the predictions over each image and its four 1-pixel "
                             "neighbours (default), or predict from the image alone")
    args = parser.parse_args()
    for name, value in DATASET_DEFAULTS[args.dataset].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not args.budget > 0:
        parser.error("--budget must be a positive number of seconds, e.g. --budget 60")
    try:
        args.hidden = tuple(int(size) for size in args.hidden.split(","))
    except ValueError:
        parser.error(f"--hidden must be sizes separated by commas, e.g. 512,256; got "
                     f"{args.hidden!r}")
    return args


def main():
    args = parse_args()
    X, y, X_eval, y_eval, eval_name = load_data(args.dataset, args.validation)
    rng = np.random.default_rng(args.seed)
    augment_name, augment = make_augment(args.augment, args.budget, args)
    sizes = (784, *args.hidden, 10)
    print(f"{args.dataset}: {len(X)} training images, evaluated on {eval_name}; network "
          f"{'-'.join(map(str, sizes))} ReLU, batch {args.batch}, augmentation {augment_name} "
          f"(shifts up to {args.max_shift} px), "
          f"label smoothing {args.smoothing}, dropout {args.dropout}, Adam peak {args.lr:g}, "
          f"budget {args.budget:g} s, seed {args.seed}")
    print(f"NumPy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}; "
          f"load average before: {load_average()}")

    floor_before = median_floor(X, sizes, args.batch, np.random.default_rng(args.seed + 1))
    network = build_network(args.hidden, rng, args.dropout, args.smoothing)
    schedule = TimeBudgetCosine(args.lr, args.budget, warmup_fraction=args.warmup)
    callbacks = [WeightAverage(network, decay=args.ema)] if args.ema else []
    history = network.fit(X, y, batch_size=args.batch, optimizer=Adam(schedule),
                          time_budget=args.budget, augment=augment, rng=rng, verbose=0,
                          callbacks=callbacks)
    load_during = load_average()
    floor_after = median_floor(X, sizes, args.batch, np.random.default_rng(args.seed + 2),
                               repeats=1)
    started = time.perf_counter()
    if callbacks:
        _, last_weights_accuracy = network.evaluate(X_eval, y_eval)
        callbacks[0].apply()
        print(f"{eval_name} accuracy of the last weights: {last_weights_accuracy:.2%}; their "
              f"moving average (decay {args.ema}) is used below")
    plain_accuracy = accuracy(network, X_eval, y_eval, "none")
    headline_accuracy = accuracy(network, X_eval, y_eval, args.test_shifts)
    evaluate_seconds = time.perf_counter() - started

    floor = float(np.median([floor_before, floor_after]))
    per_epoch = history.elapsed / history.epochs_done
    print(f"load average after training: {load_during}")
    print(f"trained {history.elapsed:.1f} s: {history.epochs_done:.2f} epochs, "
          f"{per_epoch:.2f} s per epoch = {per_epoch / floor:.2f}x the matmul floor "
          f"({floor:.2f} s per epoch; before {floor_before:.2f}, after {floor_after:.2f})")
    if args.test_shifts == "neighbours":
        print(f"{eval_name} accuracy of the image alone: {plain_accuracy:.2%}; averaged over "
              f"the image and its four 1-pixel neighbours (the figure below)")
    print(f"{eval_name} accuracy: {headline_accuracy:.2%}   (evaluation {evaluate_seconds:.1f} s, "
          f"not counted in the budget)")
    if args.save:
        nnlib.io.save(network, args.save)
        reloaded = nnlib.io.load(args.save)
        agree = np.mean(reloaded.predict(X_eval) == network.predict(X_eval))
        reloaded_accuracy = accuracy(reloaded, X_eval, y_eval, args.test_shifts)
        print(f"saved to {args.save} (the reloaded model agrees on {agree:.2%} of the images; "
              f"its accuracy as above: {reloaded_accuracy:.2%})")


if __name__ == "__main__":
    main()
