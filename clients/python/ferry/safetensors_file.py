"""The safetensors file format, standard library only: what Mooncake's
save_tensor_to_safetensor writes and load_tensor_from_safetensor reads (through the
safetensors package there; Ferry needs no package for it).

A file is an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON (padded
with spaces to a multiple of 8), then the tensors' bytes. The JSON maps each tensor's name
to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} (offsets into the bytes
after the header, C order) and may hold "__metadata__", a map of strings. Thread-safe:
nothing is shared.
"""

import json
import os
import struct

# torch dtype names (ferry.tensors.DTYPES) -> safetensors dtype codes, and bytes per element.
CODES = {"float32": "F32", "float64": "F64", "int8": "I8", "uint8": "U8", "int16": "I16", "uint16": "U16",
         "int32": "I32", "uint32": "U32", "int64": "I64", "uint64": "U64", "bool": "BOOL", "float16": "F16",
         "bfloat16": "BF16", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}
NAMES = {code: name for name, code in CODES.items()}
SIZES = {"F32": 4, "F64": 8, "I8": 1, "U8": 1, "I16": 2, "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8,
         "BOOL": 1, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}
MAX_HEADER = 100 << 20  # the limit the safetensors package sets


class FormatError(ValueError):
    """A file that is not a safetensors file, or one whose tensors Ferry cannot store."""


def encode(tensors):
    """The bytes of a file of ``tensors``: a dict of name -> (dtype name, shape, bytes-like);
    FormatError for an unknown dtype or bytes that do not fit the shape."""
    header = {}
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        if dtype not in CODES:
            raise FormatError("dtype %r has no safetensors code" % (dtype,))
        count = 1
        for d in shape:
            count *= d
        if count * SIZES[CODES[dtype]] != len(data):
            raise FormatError("%r: %d bytes for shape %s of %s" % (name, len(data), list(shape), dtype))
        header[name] = {"dtype": CODES[dtype], "shape": [int(d) for d in shape],
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] + [bytes(data) for _, _, data in tensors.values()])


def write(path, tensors):
    """Writes ``tensors`` (as encode takes them) to ``path`` whole: a temporary file beside it
    is renamed over it, so a failed write leaves any earlier file as it was. OSError on failure."""
    payload = encode(tensors)
    path = os.fspath(path)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(temporary, "wb") as f:
            f.write(payload)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def decode(payload):
    """{name: (dtype name, shape, memoryview of its bytes)} of a file's bytes, in the order
    of the tensors' bytes in the file (as the safetensors package loads them); FormatError for a header
    that is not one, offsets that overlap, leave gaps or pass the end, or a dtype Mooncake
    does not store."""
    view = memoryview(payload)
    if len(view) < 8:
        raise FormatError("%d bytes: no header length" % len(view))
    n = struct.unpack_from("<Q", view)[0]
    if n > MAX_HEADER or 8 + n > len(view):
        raise FormatError("a header of %d bytes in a file of %d" % (n, len(view)))
    try:
        header = json.loads(bytes(view[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FormatError("the header is not JSON: %s" % e) from None
    if not isinstance(header, dict):
        raise FormatError("the header is not a JSON object")
    header.pop("__metadata__", None)
    data = view[8 + n:]
    found = []
    for name in header:
        entry = header[name]
        try:
            code, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise FormatError("%r: not a tensor entry" % name) from None
        if code not in NAMES:
            raise FormatError("%r: dtype %r is not one Mooncake stores" % (name, code))
        if (not isinstance(shape, list) or any(not isinstance(d, int) or d < 0 for d in shape)
                or not all(isinstance(x, int) for x in (begin, end)) or not 0 <= begin <= end <= len(data)):
            raise FormatError("%r: bad shape %r or offsets %r" % (name, shape, [begin, end]))
        count = 1
        for d in shape:
            count *= d
        if count * SIZES[code] != end - begin:
            raise FormatError("%r: %d bytes for shape %s of %s" % (name, end - begin, shape, code))
        found.append((begin, end, name, NAMES[code], tuple(shape)))
    at = 0
    out = {}
    for begin, end, name, dtype, shape in sorted(found):
        if begin != at:
            raise FormatError("the tensors' bytes overlap or leave a gap at offset %d" % at)
        at = end
        out[name] = (dtype, shape, data[begin:end])
    if at != len(data):
        raise FormatError("%d bytes after the last tensor" % (len(data) - at))
    return out


def read(path):
    """decode of the file at ``path``; OSError (FileNotFoundError) when it cannot be read."""
    with open(os.fspath(path), "rb") as f:
        return decode(f.read())
