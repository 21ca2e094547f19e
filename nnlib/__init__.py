"""nnlib: the neural-network library that the course "Neural Networks from Scratch" builds.

Everything here is plain NumPy, written to be read. The modules, one idea each:

    activations   sigmoid, tanh, relu, leaky_relu, softmax and their derivatives
    losses        MSE, cross-entropy, and the fused softmax + cross-entropy
    layers        Dense, activation layers and Dropout: forward caches, backward returns grads
    scratch_layers  lesson 03's own Dense, Sigmoid and ReLU, the bare minimum, for lesson 04
    network       Sequential: layers + a loss, with a mini-batch training loop
    optimizers    SGD, Momentum, AdaGrad, RMSProp, Adam and learning-rate schedules
    init          He, Xavier/Glorot and LeCun weight initialisers
    gradcheck     finite-difference gradients to check every backward pass
    data          MNIST / Fashion-MNIST loaders, XOR and 2-D toy data sets, mini-batches
    io            save and load a network as a versioned .npz file (never pickle)
    estimator     MLPClassifier, a scikit-learn compatible estimator
    plotting      the course's pictures
    backprop_stepper  backpropagation one number at a time: gate graphs and a step-through
    widgets       the interactive explorers and the live training monitor
    checks        the exercise sets' checks: run your function, explain what is wrong
    drawpad       draw a digit and watch a network read it: DrawPad, to_mnist, predict_image
    augment       random shifts and small affine transforms of whole batches of images, and
                  predictions averaged over shifted copies (test-time augmentation)
    averaging     an exponential moving average of the weights, to evaluate with

The most used names are importable from the package itself, e.g.
``from nnlib import Sequential, Dense, ReLU``. They are imported on first use, so that
``import nnlib.data`` stays quick and does not pull in the rest.
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Sequential": "network",
    "History": "network",
    "Callback": "network",
    "Layer": "layers",
    "Dense": "layers",
    "ReLU": "layers",
    "LeakyReLU": "layers",
    "Sigmoid": "layers",
    "Tanh": "layers",
    "Softmax": "layers",
    "Dropout": "layers",
    "MLPClassifier": "estimator",
}
_SUBMODULES = {
    "activations", "losses", "layers", "network", "optimizers", "init", "gradcheck",
    "data", "io", "estimator", "plotting", "widgets", "checks", "drawpad", "backprop_stepper",
    "scratch_layers", "augment", "averaging",
}

__all__ = [  # the classes, then the submodules (tests/test_package.py keeps it complete)
    "Callback", "Dense", "Dropout", "History", "Layer", "LeakyReLU", "MLPClassifier", "ReLU",
    "Sequential", "Sigmoid", "Softmax", "Tanh",
    "activations", "augment", "averaging", "backprop_stepper", "checks", "data", "drawpad",
    "estimator", "gradcheck", "init", "io", "layers", "losses", "network", "optimizers",
    "plotting", "scratch_layers", "widgets",
]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'nnlib' has no attribute {name!r}")


def __dir__():
    return __all__
