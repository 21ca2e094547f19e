"""Save a trained network to one file and load it back, without pickle.

Python's ``pickle`` is the easy way to store an object, and the dangerous one: loading a pickle
runs whatever code the file asks for. A model file is something people download and share, so
nnlib stores only plain numeric arrays and a JSON text, and reads them with
``np.load(..., allow_pickle=False)``. A file that carries pickled objects is refused.

    from nnlib import io
    io.save(network, "mnist_mlp.npz")
    network = io.load("mnist_mlp.npz")      # bit-identical parameters and predictions

The file format
---------------
A model file is a NumPy ``.npz`` archive: a zip file of ``.npy`` arrays (``numpy.savez``),
written under exactly the name you give (``numpy.savez`` would append ``.npz``; nnlib does not).
Its arrays:

    "__format_version__"   int64 scalar, FORMAT_VERSION; a reader refuses a newer version
    "__architecture__"     uint8 (n_bytes,), the UTF-8 bytes of a JSON document (below)
    "0.W", "0.b", ...      one array per parameter, named as ``Sequential.parameters()`` names
                           them: f"{layer_index}.{parameter_name}", in its own shape and dtype

The JSON architecture, e.g. for 784-128-10 with ReLU:

    {"format": "nnlib.Sequential", "format_version": 1, "nnlib_version": "0.1.0",
     "dtype": "float32",
     "layers": [{"class_name": "Dense", ...}, {"class_name": "ReLU"}, ...],
     "loss": {"class_name": "SoftmaxCrossEntropy", "label_smoothing": 0.0}}

"layers" holds each layer's ``get_config()``, "loss" the loss's ``get_config()`` (null when
the network has no loss), "dtype" the network's dtype (for people reading the file; each Dense
config carries its own).
Loading rebuilds every layer from its config, checks that the stored arrays are exactly the
parameters those layers have (names, shapes, dtypes), and copies the stored values in.

Version history: 1 = the format above.
"""

import json
import os
import secrets
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nnlib import __version__
from nnlib.layers import LAYER_CLASSES, layer_from_config
from nnlib.losses import loss_from_config
from nnlib.network import Sequential

FORMAT_VERSION = 1

_FORMAT_NAME = "nnlib.Sequential"
_VERSION_KEY = "__format_version__"
_ARCHITECTURE_KEY = "__architecture__"

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (an .npz), or an empty one
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"  # pickle protocols 2 and newer start with the PROTO opcode


class ModelFileError(ValueError):
    """The file exists but is not a network that nnlib can load; the message says why."""


# ----------------------------------------------------------------------------------- save

def save(network, path, *, compressed=False):
    """Write ``network`` (a Sequential) to ``path`` as a versioned ``.npz`` file.

    The write is atomic: the arrays go to a temporary file in the same folder, which then
    replaces ``path`` in one step, so a crash never leaves a half-written model behind.

    Args:
        network: the ``Sequential`` to store (layers, loss and every parameter).
        path: file name, ``str`` or ``pathlib.Path``; used exactly as given.
        compressed: zip-compress the arrays (smaller file, slower save and load).
    Returns:
        The ``Path`` written.
    """
    if not isinstance(network, Sequential):
        raise TypeError(
            f"save() stores an nnlib Sequential, got {type(network).__name__}. "
            "Build the model as Sequential([...]) and pass that."
        )
    _check_rebuildable(network)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to '{path}': the folder '{path.parent}' does not exist. Create it first."
        )
    arrays = {
        _VERSION_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
        _ARCHITECTURE_KEY: np.frombuffer(_architecture_json(network).encode("utf-8"), np.uint8),
    }
    arrays.update(network.parameters())
    _write_atomically(path, arrays, compressed)
    return path


def _check_rebuildable(network):
    """Refuse layers and losses that ``load`` could not rebuild, before writing anything."""
    for index, layer in enumerate(network.layers):
        if LAYER_CLASSES.get(type(layer).__name__) is not type(layer):
            raise TypeError(
                f"Cannot save layer {index}, a {type(layer).__name__}: load() rebuilds only the "
                f"layers of nnlib.layers ({', '.join(LAYER_CLASSES)}), not custom ones."
            )
    if network.loss is not None and not _is_nnlib_loss(network.loss):
        raise TypeError(
            f"Cannot save the loss {network.loss!r}: load() rebuilds only the losses of "
            "nnlib.losses, not custom ones."
        )


def _is_nnlib_loss(loss):
    try:
        return type(loss_from_config(loss.get_config())) is type(loss)
    except (ValueError, TypeError):  # an unknown class name, or arguments it does not take
        return False


def _architecture_json(network):
    """The JSON text that describes how to rebuild ``network`` (without its numbers)."""
    architecture = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "nnlib_version": __version__,
        "dtype": np.dtype(network.dtype).name,
        "layers": [layer.get_config() for layer in network.layers],
        "loss": None if network.loss is None else network.loss.get_config(),
    }
    try:
        return json.dumps(architecture)
    except TypeError as err:
        raise TypeError(
            f"Cannot save this network: a layer or loss config is not JSON data ({err}). "
            "get_config() must return only str, int, float, bool, None, lists and dicts."
        ) from err


def _write_atomically(path, arrays, compressed):
    """Write the arrays to a temporary file next to ``path``, then rename it onto ``path``."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    write_npz = np.savez_compressed if compressed else np.savez
    try:
        with open(temporary, "xb") as file:
            # Writing to an open file (not a name) stops numpy from appending ".npz".
            write_npz(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------- load

def load(path):
    """Read a network written by ``save`` and return it as a ``Sequential``.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError (a ValueError): the file is not an nnlib model file, is damaged, holds
            pickled objects, comes from a newer nnlib, or its arrays do not match its layers.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    _check_format_version(path, arrays.pop(_VERSION_KEY, None))
    architecture = _parse_architecture(path, arrays.pop(_ARCHITECTURE_KEY, None))
    layers = [_build_layer(path, index, config)
              for index, config in enumerate(architecture["layers"])]
    loss = _build_loss(path, architecture.get("loss"))
    try:
        network = Sequential(layers, loss=loss)
    except ValueError as err:  # e.g. one layer's output size is not the next one's input size
        raise ModelFileError(f"'{path}': the stored layers do not fit together: {err}") from err
    _copy_parameters(path, arrays, network.parameters())
    return network


def _read_arrays(path):
    """Every array in the .npz at ``path``, as a dict; clear errors for anything else."""
    if not path.exists():
        raise FileNotFoundError(
            f"No model file at '{path}'. Check the name and folder; "
            "nnlib.io.save(network, path) writes one."
        )
    if path.is_dir():
        raise ModelFileError(f"'{path}' is a folder, not a model file.")
    _check_is_zip(path)
    try:
        # Opened here, not by np.load, so that the file is closed even if the zip is damaged.
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
            return {name: _read_array(path, archive, name) for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise ModelFileError(
            f"Cannot read '{path}': the .npz archive is damaged ({type(err).__name__}: {err})."
        ) from err


def _read_array(path, archive, name):
    try:
        value = archive[name]
    except ValueError as err:  # with allow_pickle=False numpy refuses arrays of Python objects
        raise ModelFileError(
            f"Cannot read array {name!r} of '{path}': {err}. An nnlib model file holds only "
            "plain numeric arrays; pickled Python objects are refused because loading a pickle "
            "can run arbitrary code."
        ) from err
    if not isinstance(value, np.ndarray):  # a zip member that is not an .npy file
        raise ModelFileError(f"'{path}' holds {name!r}, which is not a NumPy array.")
    return value


def _check_is_zip(path):
    """Refuse, with a reason, a file that is not a zip archive (the container of an .npz)."""
    with open(path, "rb") as file:
        start = file.read(8)
    if start.startswith(_ZIP_MAGIC):
        return
    if start.startswith(_NPY_MAGIC):
        what = "a single .npy array, not a saved network"
    elif start.startswith(_PICKLE_MAGIC):
        what = "a Python pickle, which nnlib never loads because unpickling can run any code"
    else:
        what = "not an .npz archive"
    raise ModelFileError(
        f"'{path}' is {what}. nnlib.io.load reads files written by nnlib.io.save."
    )


def _check_format_version(path, version):
    if version is None:
        raise ModelFileError(
            f"'{path}' is an .npz archive but not an nnlib model file: "
            f"it has no {_VERSION_KEY!r} entry."
        )
    if version.shape != () or not np.issubdtype(version.dtype, np.integer):
        raise ModelFileError(
            f"'{path}': {_VERSION_KEY!r} should be one integer, got an array of "
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


def _parse_architecture(path, encoded):
    """Decode the JSON architecture stored as UTF-8 bytes in a uint8 array."""
    if encoded is None:
        raise ModelFileError(f"'{path}' has no {_ARCHITECTURE_KEY!r} entry describing the layers.")
    if encoded.dtype != np.uint8 or encoded.ndim != 1:
        raise ModelFileError(
            f"'{path}': {_ARCHITECTURE_KEY!r} should be a 1-D uint8 array of UTF-8 bytes, got "
            f"dtype {encoded.dtype} and shape {encoded.shape}."
        )
    try:
        architecture = json.loads(encoded.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"'{path}': the architecture is not valid JSON text ({err}).") from err
    if not isinstance(architecture, dict) or not isinstance(architecture.get("layers"), list):
        raise ModelFileError(
            f"'{path}': the architecture should be a JSON object with a list of \"layers\"."
        )
    return architecture


def _build_layer(path, index, config):
    try:
        return layer_from_config(config)
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(
            f"'{path}': cannot rebuild layer {index} from its config {config!r}: {err}"
        ) from err


def _build_loss(path, config):
    """Rebuild the loss from its config (None: the network had no loss)."""
    if config is None:
        return None
    try:
        return loss_from_config(config)
    except (ValueError, TypeError) as err:
        raise ModelFileError(f"'{path}': cannot rebuild the loss from {config!r}: {err}") from err


def _copy_parameters(path, stored, expected):
    """Check that ``stored`` has exactly the ``expected`` parameters, then copy them in place.

    ``expected`` holds the live arrays of the rebuilt network; copying into them (rather than
    replacing them) keeps every reference the layers hold valid.
    """
    missing = sorted(set(expected) - set(stored))
    if missing:
        raise ModelFileError(f"'{path}' lacks the parameter arrays {missing} its layers need.")
    unexpected = sorted(set(stored) - set(expected))
    if unexpected:
        raise ModelFileError(
            f"'{path}' holds arrays {unexpected} that no layer of its architecture has."
        )
    for name, live in expected.items():
        array = stored[name]
        if array.shape != live.shape or array.dtype != live.dtype:
            raise ModelFileError(
                f"'{path}': parameter {name!r} should have shape {live.shape} and dtype "
                f"{live.dtype} for its layer, but the file holds shape {array.shape}, "
                f"dtype {array.dtype}."
            )
        np.copyto(live, array)
