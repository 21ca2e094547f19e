"""Read a NumPy ``.npz`` archive from a file you do not trust, in bounded time and memory.

An ``.npz`` file is a zip archive of ``.npy`` arrays. ``np.load`` trusts what it reads: a member
that announces a 1 GB array gets 1 GB, a named pipe blocks forever, an encrypted or oddly
compressed member ends in a ``RuntimeError`` from deep inside ``zipfile``. This module reads in
three steps, so that a file can be refused before anything large is allocated:

1. ``open_regular_file``: refuse folders, named pipes, devices and sockets *before* reading
   (opening a pipe would wait for a writer forever);
2. ``read_headers``: the zip directory and the few-byte ``.npy`` header of every member, each
   checked against the other (a member holds exactly header + shape x itemsize bytes);
3. ``read_array`` / ``read_into``: the data of one member, never more than its header declares.

Every problem raises ``ArchiveError`` (a ``ValueError``) with the reason in words; ``nnlib.io``
adds the file name. Used by ``nnlib.io.load`` (lesson 04 saves and loads a network).
"""

import contextlib
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

MAX_MEMBERS = 10_000               # a saved network has 2 + 2 per Dense layer
MAX_DIRECTORY_BYTES = 1 << 20      # the zip directory lists the members: ~100 bytes each
MAX_NPY_HEADER_BYTES = 10_000      # numpy's own default limit for an .npy header
_READ_CHUNK = 1 << 20              # bytes inflated per read: memory stays one chunk ahead

_END_RECORD = b"PK\x05\x06"        # the zip "end of central directory" record
_END_RECORD_SIZE = 22              # ... without the trailing comment (at most 65535 bytes)
_ZIP64_MARKERS = (0xFFFF, 0xFFFFFFFF)
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_NUMERIC_KINDS = "biufc"           # bool, signed, unsigned, float, complex
_FILE_KINDS = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


class ArchiveError(ValueError):
    """The archive cannot be read safely; the message says why (without the file name)."""


@dataclass(frozen=True)
class ArrayHeader:
    """What a member's ``.npy`` header declares, checked against the zip directory.

    name           the array's name (the member name without ".npy")
    shape, dtype   as declared; nbytes = prod(shape) * dtype.itemsize
    fortran_order  True if the values are stored column by column
    data_offset    bytes of .npy header before the values
    """

    name: str
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    nbytes: int
    data_offset: int
    member: zipfile.ZipInfo


# --- 1. the file itself -------------------------------------------------------------------------

def file_kind(mode):
    """'a named pipe (FIFO)', 'a folder', ... for an os.stat mode; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    return next((kind for is_kind, kind in _FILE_KINDS if is_kind(mode)), "not a regular file")


def open_regular_file(path):
    """Open ``path`` for reading if it is a regular file; ``ArchiveError`` otherwise.

    The type is checked before opening (opening a named pipe waits for a writer), and again on
    the open file, opened without waiting, in case the path was swapped in between.
    Raises ``FileNotFoundError`` if nothing is there.
    """
    kind = file_kind(os.stat(path).st_mode)
    if kind is not None:
        raise ArchiveError(f"is {kind}, not a regular file")
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_BINARY", 0))
    kind = file_kind(os.fstat(descriptor).st_mode)
    if kind is not None:
        os.close(descriptor)
        raise ArchiveError(f"is {kind}, not a regular file")
    return os.fdopen(descriptor, "rb")


# --- 2. the zip directory and the .npy headers --------------------------------------------------

def open_archive(file):
    """A ``zipfile.ZipFile`` on the open ``file``, after checking the size of its directory."""
    _check_directory_size(file)
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            struct.error) as error:
        raise ArchiveError(f"the zip archive is damaged ({type(error).__name__}: {error})") \
            from error
    return archive


def _check_directory_size(file):
    """Refuse a zip directory with more members or bytes than a model file can have.

    zipfile reads the whole directory into Python objects, so its size is checked first, from
    the end record (the last 22 bytes before an optional comment).
    """
    size = file.seek(0, os.SEEK_END)
    tail_size = min(size, _END_RECORD_SIZE + 0xFFFF)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < _END_RECORD_SIZE:
        raise ArchiveError("the zip archive is damaged: it has no end record (the file is "
                           "truncated, or not a zip file)")
    members, directory_bytes = struct.unpack("<HI", tail[at + 10:at + 16])
    if members in _ZIP64_MARKERS or directory_bytes in _ZIP64_MARKERS \
            or members > MAX_MEMBERS or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ArchiveError(f"the zip directory lists {members} members in {directory_bytes} "
                           f"bytes, more than a saved network has (at most {MAX_MEMBERS} "
                           f"members, {MAX_DIRECTORY_BYTES} bytes)")
    file.seek(0)


def read_headers(archive):
    """name -> ``ArrayHeader`` for every member, reading only the few bytes of each header."""
    headers = {}
    for member in archive.infolist():
        _check_member(member)
        name = member.filename.removesuffix(".npy")
        if name in headers:
            raise ArchiveError(f"it holds two members named {member.filename!r}")
        headers[name] = _read_header(archive, member, name)
    return headers


def _check_member(member):
    if not member.filename.endswith(".npy"):
        raise ArchiveError(f"it holds {member.filename!r}, which is not a NumPy .npy array")
    if member.flag_bits & 0x1:
        raise ArchiveError(f"member {member.filename!r} is encrypted; .npz files (and "
                           f"nnlib model files) are never encrypted")
    if member.compress_type not in _COMPRESSIONS:
        raise ArchiveError(f"member {member.filename!r} uses zip compression method "
                           f"{member.compress_type}, but NumPy writes only "
                           f"{' or '.join(_COMPRESSIONS.values())}")


def _read_header(archive, member, name):
    """Parse one .npy header and check that the zip directory gives the member its size."""
    with _damage_explained(member), archive.open(member) as stream:
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                parsed = npy_format.read_array_header_1_0(stream, MAX_NPY_HEADER_BYTES)
            elif version == (2, 0):
                parsed = npy_format.read_array_header_2_0(stream, MAX_NPY_HEADER_BYTES)
            else:
                raise ValueError(f".npy format version {version} is not one NumPy writes "
                                 f"for plain numbers")
        except ValueError as error:
            raise ArchiveError(f"member {member.filename!r} is not a valid .npy array "
                               f"({error})") from None
        data_offset = stream.tell()
    shape, fortran_order, dtype = parsed
    if dtype.hasobject:
        raise ArchiveError(f"array {name!r} holds Python objects, which are stored as a "
                           f"pickle; pickles are refused because loading one can run "
                           f"arbitrary code")
    if dtype.kind not in _NUMERIC_KINDS or dtype.shape:
        raise ArchiveError(f"array {name!r} has dtype {dtype}, not plain numbers")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    stored = member.file_size - data_offset
    if stored != nbytes:
        problem = ("it is truncated" if stored < nbytes
                   else "the rest is not described by its header")
        raise ArchiveError(f"array {name!r}: its .npy header describes shape {shape} of "
                           f"{dtype} ({nbytes} bytes), but the zip directory gives the member "
                           f"{max(stored, 0)} bytes of data: {problem}")
    return ArrayHeader(name, shape, dtype, fortran_order, nbytes, data_offset, member)


@contextlib.contextmanager
def _damage_explained(member):
    """Turn zipfile's and zlib's errors while reading ``member`` into an ``ArchiveError``."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as error:
        raise ArchiveError(f"member {member.filename!r} is damaged "
                           f"({type(error).__name__}: {error})") from error


# --- 3. the values ------------------------------------------------------------------------------

def read_array(archive, header):
    """The values of one member as a new array (allocates ``header.nbytes``)."""
    if header.fortran_order:  # stored column by column: the C-order bytes of the transpose
        values = np.empty(header.shape[::-1], header.dtype).T
    else:
        values = np.empty(header.shape, header.dtype)
    read_into(archive, header, values)
    return values


def read_into(archive, header, out):
    """Copy the values of one member into ``out``, an array of its shape and dtype.

    The member is inflated one chunk at a time and never beyond its declared size, so a member
    that would inflate further (a "zip bomb") costs at most ``header.nbytes``.
    """
    if out.shape != header.shape or out.dtype != header.dtype:
        raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}, but {header.name!r} "
                         f"holds {header.shape} {header.dtype}")
    destination = out.T if header.fortran_order else out
    scratch = (destination if destination.flags.c_contiguous
               else np.empty(destination.shape, destination.dtype))
    as_bytes = scratch.reshape(-1).view(np.uint8)
    with _damage_explained(header.member), archive.open(header.member) as stream:
        stream.read(header.data_offset)
        filled = 0
        while filled < header.nbytes:  # zipfile checks the CRC-32 when the last byte is read
            chunk = stream.read(min(_READ_CHUNK, header.nbytes - filled))
            if not chunk:
                raise ArchiveError(f"member {header.member.filename!r} is truncated: it ends "
                                   f"after {filled} of its {header.nbytes} bytes of data")
            as_bytes[filled:filled + len(chunk)] = np.frombuffer(chunk, np.uint8)
            filled += len(chunk)
    if scratch is not destination:
        np.copyto(destination, scratch)
    return out
