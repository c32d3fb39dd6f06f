"""The self-describing tensor header of Mooncake releases that store tensors as "tensor
objects" (version 1, 304 bytes, little-endian), next to the 40-byte header of earlier
releases (ferry.tensors.METADATA); the first 4 bytes tell them apart (a 40-byte header
starts with a dtype below 15, this one with the magic):

    offset 0    u32  magic 0x4d4f4f4e          offset 4   u16  version (1)
    offset 6    u16  header size (304)         offset 8   i32  dtype (ferry.tensors.DTYPES)
    offset 12   i32  ndim (0 to 8)             offset 16  u32  layout (0 full, 1 shard)
    offset 20   u32  flags (0)                 offset 24  u64  data offset (>= 304)
    offset 32   u64  data bytes (the rest of the value past the data offset)
    offset 40   8 x i64  global shape, -1 past ndim
    offset 104  8 x i64  local shape (the shape of the bytes stored), -1 past ndim
    offset 168  u32  axis count (0 to 4)       offset 172 u32  reserved
    offset 176  4 x 32 bytes  axes: i32 kind (DP 0, TP 1, EP 2, PP 3, 4), i32 axis index,
                i32 shard rank, i32 shard count, i32 split dim (-1 for none), i32, i64

Standard library only; stateless and thread-safe.
"""

import struct

MAGIC = 0x4D4F4F4E
VERSION = 1
MAX_DIMS = 8
MAX_AXES = 4
FULL, SHARD = 0, 1
DP, TP, EP, PP = 0, 1, 2, 3  # axis kinds
_HEADER = struct.Struct("<IHHiiIIQQ")
_SHAPE = struct.Struct("<8q")
_COUNT = struct.Struct("<II")
_AXIS = struct.Struct("<iiiiiiq")
SIZE = _HEADER.size + 2 * _SHAPE.size + _COUNT.size + MAX_AXES * _AXIS.size  # 304


def is_tensor_object(stored):
    """Whether bytes start with this header's magic."""
    return len(stored) >= 4 and struct.unpack_from("<I", stored)[0] == MAGIC


def encode(dtype, local_shape, global_shape=None, layout=FULL, axes=(), data_bytes=0):
    """The 304 header bytes of a tensor of dtype index ``dtype`` whose stored bytes have
    ``local_shape`` (``global_shape`` the whole tensor's, the local one by default), ``axes``
    tuples of (kind, axis index, shard rank, shard count, split dim), each recording the local
    extent along its split dim as Mooncake does; ValueError for more than 8 dimensions or 4
    axes, shapes of different ranks, or a split dim outside them."""
    local_shape = [int(d) for d in local_shape]
    global_shape = local_shape if global_shape is None else [int(d) for d in global_shape]
    if len(local_shape) > MAX_DIMS or len(global_shape) != len(local_shape):
        raise ValueError("shapes %s and %s: at most %d dimensions, the same number in both"
                         % (global_shape, local_shape, MAX_DIMS))
    if len(axes) > MAX_AXES:
        raise ValueError("at most %d layout axes, not %d" % (MAX_AXES, len(axes)))
    pad = [-1] * (MAX_DIMS - len(local_shape))
    out = bytearray(SIZE)
    _HEADER.pack_into(out, 0, MAGIC, VERSION, SIZE, dtype, len(local_shape), layout, 0, SIZE, data_bytes)
    _SHAPE.pack_into(out, _HEADER.size, *(global_shape + pad))
    _SHAPE.pack_into(out, _HEADER.size + _SHAPE.size, *(local_shape + pad))
    at = _HEADER.size + 2 * _SHAPE.size
    _COUNT.pack_into(out, at, len(axes), 0)
    for i, (kind, index, rank, count, split_dim) in enumerate(axes):
        if not -1 <= split_dim < len(local_shape):
            raise ValueError("split dim %d outside %d dimensions" % (split_dim, len(local_shape)))
        extent = local_shape[split_dim] if split_dim >= 0 else 0
        _AXIS.pack_into(out, at + _COUNT.size + i * _AXIS.size, kind, index, rank, count, split_dim, 0, extent)
    return bytes(out)


def decode(stored, dtype_count):
    """(dtype index, local shape, data offset) of a value that starts with this header, or
    None when the header is not one Mooncake accepts: another magic, version or size, a dtype
    not below ``dtype_count``, bad ndim, layout or axes, shapes that do not fit ndim, or a
    data offset and byte count that do not add up to the value's length."""
    total = len(stored)
    if total < SIZE or not is_tensor_object(stored):
        return None
    _, version, size, dtype, ndim, layout, _, offset, nbytes = _HEADER.unpack_from(stored)
    if version != VERSION or size != SIZE or not 0 <= dtype < dtype_count or not 0 <= ndim <= MAX_DIMS:
        return None
    if layout > SHARD or not SIZE <= offset <= total or nbytes != total - offset:
        return None
    global_shape = _SHAPE.unpack_from(stored, _HEADER.size)
    local_shape = _SHAPE.unpack_from(stored, _HEADER.size + _SHAPE.size)
    if any(d <= 0 for d in global_shape[:ndim]) or any(d < 0 for d in local_shape[:ndim]):
        return None
    if any(d != -1 for d in global_shape[ndim:] + local_shape[ndim:]):
        return None
    at = _HEADER.size + 2 * _SHAPE.size
    count = _COUNT.unpack_from(stored, at)[0]
    if count > MAX_AXES:
        return None
    for i in range(count):
        kind, _, rank, shards, split_dim, _, _ = _AXIS.unpack_from(stored, at + _COUNT.size + i * _AXIS.size)
        if not 0 <= kind <= 4 or shards <= 0 or not 0 <= rank < shards or not -1 <= split_dim < ndim:
            return None
    return dtype, tuple(local_shape[:ndim]), offset
