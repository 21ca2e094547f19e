"""Save a trained network to one file and load it back, without pickle.

Python's ``pickle`` is the easy way to store an object, and the dangerous one: loading a pickle
runs whatever code the file asks for. A model file is something people download and share, so
nnlib stores only plain numeric arrays and a JSON text. A file that carries pickled objects is
refused, and so is anything else a shared file could hide (see "Reading a file you did not
write" below).

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

Reading a file you did not write
--------------------------------
``load`` costs little time and memory whatever the file holds. It reads the zip directory and
the few-byte header of every array first (``nnlib.npz_reader``), checks the architecture against
them (``nnlib.model_checks``), and builds the layers only when they match: a 1 kB file that
declares a 10000 x 10000 layer is refused before a weight is allocated. The arrays together may
hold at most ``max_bytes`` (256 MiB unless you pass more), and each is inflated no further than
its header declares, so a "zip bomb" (a small file that inflates to gigabytes) is refused
unread. Named pipes and devices are refused without waiting on them; encrypted or oddly
compressed members, truncated arrays and JSON nested thousands deep each get a
``ModelFileError`` that says which.
"""

import json
import os
import secrets
from pathlib import Path

import numpy as np

from nnlib import __version__, model_checks, npz_reader
from nnlib.init import INITIALIZERS
from nnlib.layers import LAYER_CLASSES, Dense
from nnlib.losses import loss_from_config
from nnlib.model_checks import ARCHITECTURE_KEY, FORMAT_VERSION, VERSION_KEY, ModelFileError
from nnlib.network import Sequential

__all__ = ["FORMAT_VERSION", "MAX_LOAD_BYTES", "ModelFileError", "load", "save"]

_FORMAT_NAME = "nnlib.Sequential"

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (an .npz), or an empty one
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"  # pickle protocols 2 and newer start with the PROTO opcode


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
    path = Path(path)
    architecture = _architecture_json(network)
    _check_rebuildable(network, path, json.loads(architecture))
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to '{path}': the folder '{path.parent}' does not exist. Create it first."
        )
    arrays = {
        VERSION_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
        ARCHITECTURE_KEY: np.frombuffer(architecture.encode("utf-8"), np.uint8),
    }
    arrays.update(network.parameters())
    _write_atomically(path, arrays, compressed)
    return path


def _check_rebuildable(network, path, architecture):
    """Refuse what ``load`` could not rebuild, before writing anything.

    Only nnlib's own layers and losses are rebuilt (by class name), Dense initialisers by their
    name; then the description about to be written goes through the checks ``load`` makes.
    """
    for index, layer in enumerate(network.layers):
        if LAYER_CLASSES.get(type(layer).__name__) is not type(layer):
            raise TypeError(
                f"Cannot save layer {index}, a {type(layer).__name__}: load() rebuilds only the "
                f"layers of nnlib.layers ({', '.join(LAYER_CLASSES)}), not custom ones."
            )
        if isinstance(layer, Dense) and str(layer.init).lower() not in INITIALIZERS:
            raise TypeError(
                f"Cannot save layer {index}, {layer!r}: it was built with init={layer.init!r}, "
                f"and load() rebuilds only nnlib.init's initialisers, by name "
                f"({', '.join(INITIALIZERS)}). The file stores the weights themselves, so the "
                f"initialiser only says how they started: build the layer with one of those "
                f"names, or set network.layers[{index}].init = 'he' before saving."
            )
    if network.loss is not None and not _is_nnlib_loss(network.loss):
        raise TypeError(
            f"Cannot save the loss {network.loss!r}: load() rebuilds only the losses of "
            "nnlib.losses, not custom ones."
        )
    try:
        declared = model_checks.declared_parameters(path, architecture["layers"])
        model_checks.check_parameters(path, declared, network.parameters())
    except ModelFileError as err:
        raise TypeError(f"Cannot save this network: load() could not rebuild it ({err})") from None


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

MAX_LOAD_BYTES = 256 * 2**20  # load() refuses files whose arrays hold more (max_bytes=...)
MAX_ARCHITECTURE_BYTES = 2**20  # the JSON text: a few hundred bytes per layer


def load(path, *, max_bytes=MAX_LOAD_BYTES):
    """Read a network written by ``save`` and return it as a ``Sequential``.

    Nothing in the file is trusted: the zip directory and the ``.npy`` header of every array
    are read first (a few bytes each), the architecture is checked against them (names, shapes,
    dtypes), and only then are the layers built and the values read, each array inflated no
    further than its header declares. So a damaged or hostile file costs little time and memory.

    Args:
        path: the file, ``str`` or ``pathlib.Path``.
        max_bytes: refuse files whose arrays hold more bytes than this (default 256 MiB);
            raise it to load a larger network, e.g. ``load(path, max_bytes=2**31)``.
    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError (a ValueError): the file is not an nnlib model file, is damaged, holds
            pickled objects, comes from a newer nnlib, its arrays do not match its layers, or
            they are larger than ``max_bytes``.
    """
    path = Path(path)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) \
            or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
    with _open_model_file(path) as file:
        archive, headers = _read_headers(path, file)
        _check_total_size(path, headers, max_bytes)
        with archive:
            version = headers.pop(VERSION_KEY, None)
            model_checks.check_format_version(path, _read_small_array(path, archive, version))
            architecture_header = headers.pop(ARCHITECTURE_KEY, None)
            model_checks.check_architecture_header(path, architecture_header)
            architecture = model_checks.parse_architecture(
                path, _read_small_array(path, archive, architecture_header,
                                        limit=MAX_ARCHITECTURE_BYTES))
            declared = model_checks.declared_parameters(path, architecture["layers"])
            model_checks.check_parameters(path, declared, headers)
            network = model_checks.build_network(path, architecture)
            _read_parameters(path, archive, headers, network.parameters())
    return network


def _open_model_file(path):
    """The open file at ``path``, if it is a regular file that starts like a zip archive."""
    try:
        file = npz_reader.open_regular_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No model file at '{path}'. Check the name and folder; "
            "nnlib.io.save(network, path) writes one."
        ) from None
    except npz_reader.ArchiveError as error:
        raise ModelFileError(f"'{path}' {error}; a model file is a regular file written by "
                             "nnlib.io.save.") from None
    except OSError as error:
        raise ModelFileError(f"Cannot open '{path}': {error.strerror or error}.") from None
    try:
        _check_is_zip(path, file.read(8))
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file


def _check_is_zip(path, start):
    """Refuse, with a reason, a file that is not a zip archive (the container of an .npz)."""
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


def _read_headers(path, file):
    """The zip archive and the header of each of its arrays: a few bytes read per array."""
    try:
        archive = npz_reader.open_archive(file)
    except npz_reader.ArchiveError as error:
        raise ModelFileError(f"Cannot read '{path}': {error}.") from None
    try:
        return archive, npz_reader.read_headers(archive)
    except npz_reader.ArchiveError as error:
        archive.close()
        raise ModelFileError(f"Cannot read '{path}': {error}.") from None


def _check_total_size(path, headers, max_bytes):
    total = sum(header.nbytes for header in headers.values())
    if total > max_bytes:
        raise ModelFileError(
            f"'{path}': its arrays hold {total:,} bytes, more than the {max_bytes:,} "
            f"(max_bytes) that load() accepts. If you trust the file and have the memory, "
            f"raise the limit: nnlib.io.load(path, max_bytes={_round_up(total)})."
        )


def _round_up(n_bytes):
    """The next power of two of at least n_bytes, as a readable expression: '2**31'."""
    return f"2**{max(int(n_bytes - 1).bit_length(), 1)}"


def _read_small_array(path, archive, header, limit=1024):
    """Read an array the format keeps small (the version, the architecture text)."""
    if header is None:
        return None
    if header.nbytes > limit:
        raise ModelFileError(
            f"'{path}': {header.name!r} holds {header.nbytes:,} bytes; nnlib writes at most "
            f"{limit:,} there, so this is not a file nnlib.io.save wrote."
        )
    try:
        return npz_reader.read_array(archive, header)
    except npz_reader.ArchiveError as error:
        raise ModelFileError(f"Cannot read '{path}': {error}.") from None


def _read_parameters(path, archive, headers, live_parameters):
    """Read each stored array straight into the rebuilt network's own array.

    Copying into the live arrays (rather than replacing them) keeps every reference the layers
    hold valid, and needs no second copy of the weights in memory.
    """
    for name, live in live_parameters.items():
        header = headers[name]
        if header.shape != live.shape or header.dtype != live.dtype:  # checked before: a guard
            raise ModelFileError(
                f"'{path}': parameter {name!r} should have shape {live.shape} and dtype "
                f"{live.dtype} for its layer, but the file holds shape {header.shape}, "
                f"dtype {header.dtype}."
            )
        try:
            npz_reader.read_into(archive, header, live)
        except npz_reader.ArchiveError as error:
            raise ModelFileError(f"Cannot read '{path}': {error}.") from None
