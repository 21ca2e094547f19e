"""IDX files, the format of MNIST and Fashion-MNIST, raw or gzip-compressed (lesson 04).

``read_idx`` turns a file into a NumPy array, ``parse_idx`` does the same for bytes. A file is
read within a size limit: a raw file larger than the limit is refused before reading, a gzip
file is decompressed a chunk at a time and refused as soon as it grows past the limit, so that
a "gzip bomb" (a small file that inflates to gigabytes) never fills the memory. The data set
loader (``nnlib.data``) sets the limit to the published size of each file. Importable from
``nnlib.data``.
"""

import gzip
import math
import os
import stat
import zlib
from pathlib import Path

import numpy as np

MAX_IDX_BYTES = 2**30   # read_idx's default limit: 1 GiB (MNIST's largest file is 47 MB)
_CHUNK = 1 << 20        # bytes decompressed per step


# IDX type code (third byte of the file) -> NumPy dtype of the values, all big-endian (">")
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"  # every gzip stream starts with these two bytes


def read_idx(path, max_bytes=MAX_IDX_BYTES):
    """Read an IDX file, raw or gzip-compressed, into a NumPy array.

    The IDX layout (all numbers big-endian):

        bytes 0-1    two zero bytes
        byte  2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                     0x0D float32, 0x0E float64
        byte  3      number of dimensions d
        4 * d bytes  the size of each dimension, one uint32 each
        the rest     the values, row after row (C order)

    MNIST's ``train-images-idx3-ubyte`` starts with 00 00 08 03, then 60000, 28, 28.

    Returns a writable array of shape ``(size_1, ..., size_d)`` in the machine's byte order.
    Raises ``ValueError`` naming the file if it is not a valid gzip stream, not IDX, its
    length does not match its header (a truncated download, for example), or it holds (or
    decompresses to) more than ``max_bytes`` bytes (1 GiB unless you raise it).
    """
    path = Path(path)
    return parse_idx(read_contents(path, max_bytes), source=str(path))


def parse_idx(content, source="IDX data"):
    """Turn the bytes of an (uncompressed) IDX file into an array; see ``read_idx``.

    ``source`` names the data in error messages, usually the file path.
    """
    if len(content) < 4:
        raise ValueError(f"{source}: only {len(content)} bytes, too short for an IDX file "
                         f"(its header alone has at least 4 bytes)")
    if content[:2] != b"\x00\x00":
        raise ValueError(f"{source}: not an IDX file: it starts with the bytes "
                         f"{content[:4].hex(' ')}, but an IDX file starts with two zero bytes "
                         f"(e.g. 00 00 08 03 for MNIST images)")
    type_code, n_dims = content[2], content[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())
        raise ValueError(f"{source}: unknown IDX type code 0x{type_code:02X}; known: {known}")
    if n_dims == 0:
        raise ValueError(f"{source}: the IDX header says the data has 0 dimensions")
    header_size = 4 + 4 * n_dims
    if len(content) < header_size:
        raise ValueError(f"{source}: the header announces {n_dims} dimensions, which needs "
                         f"{header_size} bytes, but the file has only {len(content)} bytes: "
                         f"it is truncated")
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", count=n_dims, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(content) - header_size
    if found != expected:
        problem = "the file is truncated" if found < expected else "extra bytes at the end"
        raise ValueError(f"{source}: expected {expected} bytes of {dtype.name} data for shape "
                         f"{shape}, found {found}: {problem}")
    values = np.frombuffer(content, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a copy: writable, native byte order


def read_contents(path, max_bytes=MAX_IDX_BYTES, limit_reason="read_idx's max_bytes"):
    """The bytes of a file (a bytearray), decompressed first if it is gzip-compressed.

    Refuses, with a ValueError naming the file, anything but a regular file, and a file that
    holds or decompresses to more than ``max_bytes``; ``limit_reason`` says where the limit
    comes from, for the message.
    """
    path = Path(path)
    with open_regular_file(path) as file:
        compressed = path.suffix == ".gz" or file.read(2) == GZIP_MAGIC
        file.seek(0)
        if compressed:
            content = bytearray()
            for chunk in decompressed_chunks(file, str(path), max_bytes, limit_reason):
                content += chunk
            return content
        size = os.fstat(file.fileno()).st_size
        if size > max_bytes:
            raise ValueError(f"{path}: the file holds {size:,} bytes, more than the "
                             f"{max_bytes:,} expected ({limit_reason})")
        return bytearray(file.read())


def decompressed_chunks(file, source, max_bytes, limit_reason):
    """Yield the decompressed content of the open gzip ``file`` piece by piece.

    Raises a ValueError naming ``source`` if the stream is damaged or incomplete, or as soon as
    it decompresses to more than ``max_bytes``; nothing beyond that is ever inflated.
    """
    produced = 0
    try:
        with gzip.GzipFile(fileobj=file, mode="rb") as stream:
            while chunk := stream.read(min(_CHUNK, max_bytes + 1 - produced)):
                produced += len(chunk)
                if produced > max_bytes:
                    raise ValueError(f"{source}: decompresses to more than the {max_bytes:,} "
                                     f"bytes expected ({limit_reason}); it is not the file "
                                     f"it claims to be (a damaged file, or a 'gzip bomb')")
                yield chunk
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise ValueError(f"{source}: not a valid gzip file ({error}): it is damaged or "
                         f"incomplete") from None


def open_regular_file(path):
    """Open a regular file for reading; a named pipe or a device is refused, never waited on."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe or a device)"
        raise ValueError(f"{path}: is {kind}; an IDX file is a regular file")
    return open(path, "rb")
