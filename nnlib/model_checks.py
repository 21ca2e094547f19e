"""What ``nnlib.io`` checks in a model file before it builds a network (and before ``save`` writes).

A model file describes its network twice: as a JSON architecture (the layer configs) and as the
stored arrays. ``load`` reads only the small parts first (the version, the JSON and the header
of each array) and checks here that the two descriptions agree: the names, shapes and dtypes of
the parameters the layers declare are exactly those of the stored arrays, and consecutive Dense
layers fit. Only then does it build the layers, so that a file declaring a layer far larger
than what it stores is refused before a single weight is allocated. ``save`` runs the same
checks on what it is about to write, so that it never writes a file ``load`` would refuse.

Every refusal is a ``ModelFileError`` (a ``ValueError``) naming the file and the reason.
"""

import json

import numpy as np

from nnlib import __version__
from nnlib.init import get_initializer
from nnlib.layers import layer_from_config
from nnlib.losses import loss_from_config
from nnlib.network import Sequential

FORMAT_VERSION = 1
VERSION_KEY = "__format_version__"
ARCHITECTURE_KEY = "__architecture__"


class ModelFileError(ValueError):
    """The file exists but is not a network that nnlib can load; the message says why."""


def check_format_version(path, version):
    if version is None:
        raise ModelFileError(
            f"'{path}' is an .npz archive but not an nnlib model file: "
            f"it has no {VERSION_KEY!r} entry."
        )
    if version.shape != () or not np.issubdtype(version.dtype, np.integer):
        raise ModelFileError(
            f"'{path}': {VERSION_KEY!r} should be one integer, got an array of "
            f"shape {version.shape} and dtype {version.dtype}."
        )
    version = int(version)
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"'{path}' uses model file format {version}, newer than the {FORMAT_VERSION} this "
            f"nnlib {__version__} reads. Upgrade nnlib to load it."
        )
    if version < 1:
        raise ModelFileError(f"'{path}' has an invalid format version {version}.")


def check_architecture_header(path, header):
    """The stored architecture must be a 1-D uint8 array (the header says so before reading)."""
    if header is None:
        raise ModelFileError(f"'{path}' has no {ARCHITECTURE_KEY!r} entry describing the layers.")
    if header.dtype != np.uint8 or len(header.shape) != 1:
        raise ModelFileError(
            f"'{path}': {ARCHITECTURE_KEY!r} should be a 1-D uint8 array of UTF-8 bytes, got "
            f"dtype {header.dtype} and shape {header.shape}."
        )


def parse_architecture(path, encoded):
    """Decode the JSON architecture stored as UTF-8 bytes in a uint8 array."""
    try:
        architecture = json.loads(encoded.tobytes().decode("utf-8"))
    except RecursionError:
        raise ModelFileError(
            f"'{path}': the architecture JSON is nested too deeply to read; nnlib writes a "
            "flat list of layer settings, so this file was not written by nnlib.io.save."
        ) from None
    except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
        raise ModelFileError(f"'{path}': the architecture is not valid JSON text ({err}).") from err
    if not isinstance(architecture, dict) or not isinstance(architecture.get("layers"), list):
        raise ModelFileError(
            f"'{path}': the architecture should be a JSON object with a list of \"layers\"."
        )
    return architecture


def declared_parameters(path, configs):
    """name -> (shape, dtype) of every parameter the layer configs declare, before building.

    Dense is the only layer whose size comes from its config, so it is checked here without
    being built (building allocates its weights); the other layers are built at once (they
    hold no arrays) to check their configs. Also checks that consecutive Dense layers fit.
    """
    declared = {}
    previous = None
    for index, config in enumerate(configs):
        if isinstance(config, dict) and config.get("class_name") == "Dense":
            in_features, out_features, dtype = dense_sizes(path, index, config)
            if previous is not None and previous[1] != in_features:
                raise ModelFileError(
                    f"'{path}': the stored layers do not fit together: layer {previous[0]} "
                    f"gives {previous[1]} features but the next Dense, layer {index}, expects "
                    f"{in_features}."
                )
            previous = (index, out_features)
            declared[f"{index}.W"] = ((in_features, out_features), dtype)
            declared[f"{index}.b"] = ((out_features,), dtype)
        else:
            layer = build_layer(path, index, config)
            declared.update({f"{index}.{name}": (value.shape, value.dtype)
                             for name, value in layer.params.items()})
    return declared


def dense_sizes(path, index, config):
    """(in_features, out_features, dtype) from a Dense config, each checked."""
    def refuse(reason):
        return ModelFileError(
            f"'{path}': cannot rebuild layer {index} from its config {short(config)}: {reason}"
        )

    sizes = []
    for key in ("in_features", "out_features"):
        if key not in config:
            raise refuse(f"it lacks {key!r}")
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise refuse(f"{key} should be a positive integer, got {short(value)}")
        sizes.append(value)
    try:
        dtype = np.dtype(config.get("dtype", "float32"))
        get_initializer(config.get("init", "he"))
    except (TypeError, ValueError) as err:
        raise refuse(str(err)) from None
    if not np.issubdtype(dtype, np.floating):
        raise refuse(f"dtype should be a floating type, got {dtype}")
    return sizes[0], sizes[1], dtype


def short(value, limit=200):
    """repr(value), cut to ``limit`` characters (configs in a hostile file can be huge)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<a deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + " ..."


def check_parameters(path, declared, headers):
    """The stored arrays must be exactly the declared parameters, in shape and dtype."""
    missing = sorted(set(declared) - set(headers))
    if missing:
        raise ModelFileError(f"'{path}' lacks the parameter arrays {missing} its layers need.")
    unexpected = sorted(set(headers) - set(declared))
    if unexpected:
        raise ModelFileError(
            f"'{path}' holds arrays {unexpected} that no layer of its architecture has."
        )
    for name, (shape, dtype) in declared.items():
        header = headers[name]
        if header.shape != shape or header.dtype != dtype:
            raise ModelFileError(
                f"'{path}': parameter {name!r} should have shape {shape} and dtype "
                f"{dtype} for its layer, but the file holds shape {header.shape}, "
                f"dtype {header.dtype}."
            )


def build_network(path, architecture):
    layers = [build_layer(path, index, config)
              for index, config in enumerate(architecture["layers"])]
    loss = build_loss(path, architecture.get("loss"))
    try:
        return Sequential(layers, loss=loss)
    except ValueError as err:  # e.g. one layer's output size is not the next one's input size
        raise ModelFileError(f"'{path}': the stored layers do not fit together: {err}") from err


def build_layer(path, index, config):
    try:
        return layer_from_config(config)
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(
            f"'{path}': cannot rebuild layer {index} from its config {short(config)}: {err}"
        ) from err


def build_loss(path, config):
    """Rebuild the loss from its config (None: the network had no loss)."""
    if config is None:
        return None
    try:
        return loss_from_config(config)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ModelFileError(
            f"'{path}': cannot rebuild the loss from {short(config)}: {err}"
        ) from err
