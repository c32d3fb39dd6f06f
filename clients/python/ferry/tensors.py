"""Mooncake Store's tensor methods (put_tensor, get_tensor and their batch, tensor-parallel,
pub, upsert, _into and _from forms, and get_tensor_dim_selection_into), in Mooncake's stored
layouts, so that tensors written through either store read back through the other. The
reads take both layouts Mooncake has used; the puts write the one ``tensor_header`` names:

``"legacy"`` (the default), 40 bytes:

    offset 0   i32 LE    dtype (DTYPES: float32 0, float64 1, int8 2, uint8 3, int16 4,
                         uint16 5, int32 6, uint32 7, int64 8, uint64 9, bool 10, float16 11,
                         bfloat16 12, float8_e4m3fn 13, float8_e5m2 14)
    offset 4   i32 LE    ndim (0 to 4)
    offset 8   4 x i64   shape, -1 past ndim
    offset 40  the tensor's bytes, C order

``"object"``, Mooncake's later self-describing header (ferry.tensor_object: 304 bytes, up
to 8 dimensions; a tensor-parallel shard records the full shape and its TP rank, count and
split dimension), then the tensor's bytes.

The layouts need nothing but the standard library; the torch methods need torch (``import
torch`` raises ModuleNotFoundError where it is not installed, as Mooncake's do). A tensor is
stored from host memory: one on a GPU is copied to the host first (``.cpu()``), a
non-contiguous one made contiguous. The tensor-parallel forms store shard ``r`` of
``tensor.chunk(tp_size, split_dim)`` under ``key + "_tp_" + str(r)``. A mixin of
ferry.mooncake.MooncakeDistributedStore; its methods are as thread-safe as the store's.
"""

import ctypes
import logging
import os
import struct

from . import safetensors_file, selection, tensor_object
from .codes import FILE_NOT_FOUND, INVALID_PARAMS, OK, Failed
from .memory import copy_out

METADATA = struct.Struct("<ii4q")  # dtype, ndim, shape[4]: 40 bytes
DTYPES = ("float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool",
          "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")
MAX_DIMS = 4
_log = logging.getLogger("ferry.mooncake")


def encode_metadata(dtype_name, shape):
    """The 40 bytes that precede a tensor's bytes; ValueError for an unknown dtype or more than 4 dims."""
    if dtype_name not in DTYPES:
        raise ValueError("dtype %r is not one Mooncake stores (%s)" % (dtype_name, ", ".join(DTYPES)))
    shape = [int(d) for d in shape]
    if len(shape) > MAX_DIMS:
        raise ValueError("a stored tensor has at most %d dimensions, not %d" % (MAX_DIMS, len(shape)))
    return METADATA.pack(DTYPES.index(dtype_name), len(shape), *(shape + [-1] * (MAX_DIMS - len(shape))))


def decode_metadata(stored):
    """(dtype name, shape) of a stored tensor, or None when the bytes are not one (decode_stored)."""
    decoded = decode_stored(stored)
    return None if decoded is None else decoded[:2]


def decode_stored(stored):
    """(dtype name, shape, data offset) of a stored tensor in either of Mooncake's layouts:
    this module's 40-byte header, or the 304-byte self-describing one of later releases
    (ferry.tensor_object; the shape is that of the bytes stored). None when the bytes are not
    a stored tensor: too short, no bytes after a 40-byte header, an unknown dtype, a bad ndim
    or shape, a self-describing header Mooncake would refuse."""
    if tensor_object.is_tensor_object(stored):
        decoded = tensor_object.decode(stored, len(DTYPES))
        return None if decoded is None else (DTYPES[decoded[0]], decoded[1], decoded[2])
    if len(stored) <= METADATA.size:
        return None
    dtype, ndim, *shape = METADATA.unpack_from(stored)
    if not 0 <= dtype < len(DTYPES) or not 0 <= ndim <= MAX_DIMS or any(d < 0 for d in shape[:ndim]):
        return None
    return DTYPES[dtype], tuple(shape[:ndim]), METADATA.size


def tp_key(key, rank):
    """The key of shard ``rank`` of a tensor stored with tensor parallelism."""
    return "%s_tp_%d" % (key, rank)


def _torch():
    import torch  # noqa: PLC0415 (optional: only the tensor methods need it)
    return torch


HEADERS = ("legacy", "object")  # what TensorMethods.tensor_header may name


def _parts(tensor, header="legacy", shard=None):
    """(metadata, data view, host tensor) of a torch tensor, the metadata in the ``header``
    layout (HEADERS); ``shard`` (full shape, rank, count, split dim) marks one tensor-parallel
    shard of a self-describing header. Raises Failed(INVALID_PARAMS) for anything but a tensor
    of a stored dtype with some elements and at most 4 (legacy) or 8 (object) dimensions;
    ValueError for a header not in HEADERS."""
    if header not in HEADERS:
        raise ValueError("tensor_header is one of %s, not %r" % (HEADERS, header))
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        raise Failed(INVALID_PARAMS)
    name = str(tensor.dtype).rpartition(".")[2]
    max_dims = tensor_object.MAX_DIMS if header == "object" else MAX_DIMS
    if name not in DTYPES or tensor.dim() > max_dims or tensor.numel() == 0:
        raise Failed(INVALID_PARAMS)
    host = tensor.detach().cpu().contiguous()
    nbytes = host.numel() * host.element_size()
    data = memoryview((ctypes.c_char * nbytes).from_address(host.data_ptr())).cast("B")
    if header == "legacy":
        metadata = encode_metadata(name, host.shape)
    elif shard is None:
        metadata = tensor_object.encode(DTYPES.index(name), host.shape, data_bytes=nbytes)
    else:
        full_shape, rank, count, split_dim = shard
        metadata = tensor_object.encode(DTYPES.index(name), host.shape, full_shape, tensor_object.SHARD,
                                        [(tensor_object.TP, 0, rank, count, split_dim)], nbytes)
    return metadata, data, host  # keep host alive while data is used


def _tensor(stored, copy=True):
    """The tensor of stored bytes (bytes-like), or None when they are not a stored tensor."""
    decoded = decode_stored(stored)
    if decoded is None:
        return None
    torch = _torch()
    name, shape, offset = decoded
    dtype = getattr(torch, name)
    data = memoryview(stored)[offset:]
    item = torch.empty((), dtype=dtype).element_size()
    count = 1
    for d in shape:
        count *= d
    if len(data) != count * item:
        return None
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    buffer = bytearray(data) if copy else data
    return torch.frombuffer(buffer, dtype=dtype).reshape(shape)


class TensorMethods:
    """Mooncake's tensor methods (module doc)."""

    # --- put ----------------------------------------------------------------------------

    tensor_header = "legacy"  # the layout the puts write (HEADERS); reads take either

    def _put_tensor(self, key, tensor, config, replace=False, shard=None):
        try:
            metadata, data, host = _parts(tensor, self.tensor_header, shard)
        except Failed as e:
            return e.code
        code = self._put(key, [metadata, data], config, replace=replace)
        del host
        return code

    def put_tensor(self, key, tensor):
        """Stores a torch tensor under key; 0, or a negative code (INVALID_PARAMS for an object
        that is not a tensor of a stored dtype with 1 to 4 dimensions and some elements)."""
        return self._put_tensor(key, tensor, None)

    def pub_tensor(self, key, tensor, config=None):
        """put_tensor with a ReplicateConfig."""
        return self._put_tensor(key, tensor, config)

    def upsert_tensor(self, key, tensor):
        """put_tensor replacing a value stored before."""
        return self._put_tensor(key, tensor, None, replace=True)

    def upsert_pub_tensor(self, key, tensor, config=None):
        """pub_tensor replacing a value stored before."""
        return self._put_tensor(key, tensor, config, replace=True)

    def _batch(self, keys, tensors_list, one):
        if len(keys) != len(tensors_list) or not keys:
            return [INVALID_PARAMS] * len(keys)
        return [one(k, t) for k, t in zip(keys, tensors_list)]

    def batch_put_tensor(self, keys, tensors_list):
        """put_tensor of each pair: a list of codes (all INVALID_PARAMS when the lists differ in length)."""
        return self._batch(keys, tensors_list, self.put_tensor)

    def batch_pub_tensor(self, keys, tensors_list, config=None):
        """pub_tensor of each pair: a list of codes."""
        return self._batch(keys, tensors_list, lambda k, t: self.pub_tensor(k, t, config))

    def batch_upsert_tensor(self, keys, tensors_list):
        """upsert_tensor of each pair: a list of codes."""
        return self._batch(keys, tensors_list, self.upsert_tensor)

    def batch_upsert_pub_tensor(self, keys, tensors_list, config=None):
        """upsert_pub_tensor of each pair: a list of codes."""
        return self._batch(keys, tensors_list, lambda k, t: self.upsert_pub_tensor(k, t, config))

    # --- tensor parallelism -------------------------------------------------------------

    def _put_shards(self, key, tensor, config, tp_size, split_dim):
        try:
            chunks = tensor.chunk(tp_size, split_dim)
        except (AttributeError, RuntimeError, IndexError, TypeError):
            return INVALID_PARAMS
        if len(chunks) != tp_size:
            return INVALID_PARAMS
        shape = tuple(tensor.shape)
        for rank, chunk in enumerate(chunks):
            code = self._put_tensor(tp_key(key, rank), chunk, config,
                                    shard=(shape, rank, tp_size, split_dim % len(shape)))
            if code != OK:
                return code
        return OK

    def put_tensor_with_tp(self, key, tensor, tp_rank=0, tp_size=1, split_dim=0):
        """Stores every shard of ``tensor.chunk(tp_size, split_dim)`` under key_tp_<rank>
        (``tp_rank`` is not used: all shards are stored); put_tensor when tp_size <= 1."""
        if tp_size <= 1:
            return self.put_tensor(key, tensor)
        return self._put_shards(key, tensor, None, tp_size, split_dim)

    def pub_tensor_with_tp(self, key, tensor, config=None, tp_rank=0, tp_size=1, split_dim=0):
        """put_tensor_with_tp with a ReplicateConfig."""
        if tp_size <= 1:
            return self.pub_tensor(key, tensor, config)
        return self._put_shards(key, tensor, config, tp_size, split_dim)

    def batch_put_tensor_with_tp(self, base_keys, tensors_list, tp_rank=0, tp_size=1, split_dim=0):
        """put_tensor_with_tp of each pair: a list of codes (each key's first error)."""
        return self._batch(base_keys, tensors_list,
                           lambda k, t: self.put_tensor_with_tp(k, t, tp_rank, tp_size, split_dim))

    def batch_pub_tensor_with_tp(self, base_keys, tensors_list, config=None, tp_rank=0, tp_size=1, split_dim=0):
        """pub_tensor_with_tp of each pair: a list of codes."""
        return self._batch(base_keys, tensors_list,
                           lambda k, t: self.pub_tensor_with_tp(k, t, config, tp_rank, tp_size, split_dim))

    # --- get ----------------------------------------------------------------------------

    def get_tensor(self, key):
        """The torch tensor stored under key, or None when it is missing or not a stored tensor."""
        handle = self.get_buffer(key)
        return None if handle is None else _tensor(memoryview(handle))

    def batch_get_tensor(self, keys):
        """get_tensor of each key: a list of tensors or None."""
        return [None if h is None else _tensor(memoryview(h)) for h in self.batch_get_buffer(keys)]

    def get_tensor_with_tp(self, key, tp_rank=0, tp_size=1, split_dim=0):
        """Shard ``tp_rank`` (key_tp_<rank>), or get_tensor(key) when tp_size <= 1."""
        return self.get_tensor(key if tp_size <= 1 else tp_key(key, tp_rank))

    def batch_get_tensor_with_tp(self, base_keys, tp_rank=0, tp_size=1):
        """get_tensor_with_tp of each key."""
        return self.batch_get_tensor(base_keys if tp_size <= 1 else [tp_key(k, tp_rank) for k in base_keys])

    def get_tensor_into(self, key, buffer_ptr, size):
        """Reads the stored tensor (metadata and bytes) into registered memory at buffer_ptr and
        answers a tensor over that memory (no copy: it lives as long as the buffer does), or None."""
        n = self.get_into(key, buffer_ptr, size)
        return _over(buffer_ptr, n)

    def batch_get_tensor_into(self, keys, buffer_ptrs, sizes):
        """get_tensor_into of each triple: a list of tensors or None (all INVALID_PARAMS when
        the lists differ in length)."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        return [_over(p, n) for p, n in zip(buffer_ptrs, self.batch_get_into(keys, buffer_ptrs, sizes))]

    def get_tensor_with_tp_into(self, key, buffer_ptr, size, tp_rank=0, tp_size=1, split_dim=0):
        """get_tensor_into of shard ``tp_rank`` (of key itself when tp_size <= 1)."""
        return self.get_tensor_into(key if tp_size <= 1 else tp_key(key, tp_rank), buffer_ptr, size)

    def batch_get_tensor_with_tp_into(self, base_keys, buffer_ptrs, sizes, tp_rank=0, tp_size=1, split_dim=0):
        """batch_get_tensor_into of shard ``tp_rank`` of each key (``split_dim`` is not used)."""
        keys = base_keys if tp_size <= 1 else [tp_key(k, tp_rank) for k in base_keys]
        return self.batch_get_tensor_into(keys, buffer_ptrs, sizes)

    # --- dimension selection (no torch needed) -------------------------------------------

    def get_tensor_dim_selection_into(self, key, buffer_ptr, size, shape, dtype, dim=0, selections=None,
                                      data_offset=0):
        """Reads part of a stored tensor into registered memory without its metadata: the value
        of key holds, ``data_offset`` bytes in, a C-order tensor of ``shape`` and ``dtype`` (a
        name such as "float16" or "torch.float16", or a torch dtype); ``selections`` re-index
        dimension ``dim`` (ferry.selection: select_idxs, slice, repeat, cat, in order) and the
        selected tensor's bytes, C order, are written at buffer_ptr. Answers the bytes written
        (0 when the selection is empty), or a negative code: INVALID_PARAMS for a bad shape,
        dtype, dim, selection or data_offset, a buffer smaller than the selection or not
        registered, or a tensor reaching past the value's end; OBJECT_NOT_FOUND for a missing
        key. A failed read writes nothing. ``data_offset`` is the header's size (METADATA.size,
        or tensor_object.SIZE) for a value put_tensor stored; the value is read once."""
        try:
            output, ranges = selection.plan(shape, dtype, dim, selections, data_offset)
        except (TypeError, ValueError) as e:
            _log.warning("get_tensor_dim_selection_into(%r): %s", key, e)
            return INVALID_PARAMS
        if not isinstance(size, int) or output > size:
            return INVALID_PARAMS
        if output == 0:
            return 0
        region = self._region_of(buffer_ptr)
        if region is None or buffer_ptr + output > region[0] + region[1]:
            return INVALID_PARAMS
        end = max(src + n for _, src, n in ranges)

        def scatter(value):
            if end > len(value):
                return INVALID_PARAMS  # the tensor named reaches past the value: write nothing
            for dst, src, n in ranges:
                copy_out(value[src:src + n], buffer_ptr + dst, n)
            return output
        return self._run(lambda c: self._read(c, key, scatter))

    # --- safetensors files ----------------------------------------------------------------

    def save_tensor_to_safetensor(self, key, file_name=None):
        """Writes the tensor stored under key to a safetensors file (ferry.safetensors_file) at
        ``file_name`` (``key`` when None) as its one tensor, named key; needs no torch. Answers
        0, or a negative code: FILE_NOT_FOUND when key is missing or not a stored tensor,
        INVALID_PARAMS on a store not set up or a file that cannot be written (an earlier file
        there is left as it was)."""
        if self._address is None:
            return INVALID_PARAMS
        handle = self.get_buffer(key)
        stored = None if handle is None else memoryview(handle)
        decoded = None if stored is None else decode_stored(stored)
        if decoded is None:
            return FILE_NOT_FOUND
        name, shape, offset = decoded
        try:
            safetensors_file.write(key if file_name is None else file_name, {key: (name, shape, stored[offset:])})
        except (OSError, safetensors_file.FormatError) as e:
            _log.warning("save_tensor_to_safetensor(%r): %s", key, e)
            return INVALID_PARAMS
        return OK

    def load_tensor_from_safetensor(self, key=None, file_name=None):
        """Stores a tensor of the safetensors file ``file_name`` with put_tensor under ``key``
        (``file_name`` when None) and answers it: the file's tensor named key, or else (with a
        warning when key was given) the file's first. None when the file cannot be read, is not
        a safetensors file, holds no tensor, or the put fails (put_tensor's codes); TypeError
        without file_name, as Mooncake's binding raises. Needs torch."""
        if file_name is None:
            raise TypeError("load_tensor_from_safetensor() needs file_name")
        if self._address is None:
            return None
        try:
            found = safetensors_file.read(file_name)
        except (OSError, safetensors_file.FormatError) as e:
            _log.warning("load_tensor_from_safetensor(%r): %s", file_name, e)
            return None
        if not found:
            _log.warning("load_tensor_from_safetensor(%r): the file holds no tensor", file_name)
            return None
        target = os.fspath(file_name) if key is None else key
        if key is not None and key not in found:
            _log.warning("load_tensor_from_safetensor(%r): no tensor named %r, storing the first", file_name, key)
        name, shape, data = found[key] if key in found else next(iter(found.values()))
        torch = _torch()
        dtype = getattr(torch, name)
        tensor = torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape) if len(data) else \
            torch.empty(shape, dtype=dtype)
        code = self.put_tensor(target, tensor)
        if code != OK:
            _log.warning("load_tensor_from_safetensor(%r): put_tensor(%r) answered %d", file_name, target, code)
            return None
        return tensor

    # --- serialized tensors in registered memory (no torch needed) -----------------------

    def put_tensor_from(self, key, buffer_ptr, size):
        """Stores ``size`` bytes at buffer_ptr (registered memory) that hold a tensor in the
        stored layout (metadata, then bytes: what get_tensor_into reads); 0, or a negative code
        (INVALID_PARAMS when the bytes are not a stored tensor)."""
        return self._put_serialized(key, buffer_ptr, size, replace=False)

    def upsert_tensor_from(self, key, buffer_ptr, size):
        """put_tensor_from replacing a value stored before."""
        return self._put_serialized(key, buffer_ptr, size, replace=True)

    def batch_put_tensor_from(self, keys, buffer_ptrs, sizes):
        """put_tensor_from of each triple: a list of codes."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        return [self.put_tensor_from(k, p, n) for k, p, n in zip(keys, buffer_ptrs, sizes)]

    def batch_upsert_tensor_from(self, keys, buffer_ptrs, sizes):
        """upsert_tensor_from of each triple: a list of codes."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        return [self.upsert_tensor_from(k, p, n) for k, p, n in zip(keys, buffer_ptrs, sizes)]

    def _put_serialized(self, key, buffer_ptr, size, replace):
        try:
            self._registered(buffer_ptr, size)
        except Failed as e:
            return e.code
        stored = memoryview((ctypes.c_char * size).from_address(buffer_ptr)).cast("B") if size > 0 else b""
        if decode_metadata(stored) is None:
            return INVALID_PARAMS
        if replace:
            return self._put(key, [stored], None, replace=True, buffered=False)
        return self.put_from(key, buffer_ptr, size)

    def put_tensor_with_tp_from(self, key, buffer_ptr, size, tp_rank=0, tp_size=1, split_dim=0):
        """Stores every shard of the full tensor serialized at buffer_ptr, as put_tensor_with_tp
        does (torch splits it); put_tensor_from when tp_size <= 1."""
        if tp_size <= 1:
            return self.put_tensor_from(key, buffer_ptr, size)
        try:
            self._registered(buffer_ptr, size)
        except Failed as e:
            return e.code
        tensor = _tensor(memoryview((ctypes.c_char * size).from_address(buffer_ptr)).cast("B"), copy=False) \
            if size > 0 else None
        if tensor is None:
            return INVALID_PARAMS
        return self._put_shards(key, tensor, None, tp_size, split_dim)

    def batch_put_tensor_with_tp_from(self, base_keys, buffer_ptrs, sizes, tp_rank=0, tp_size=1, split_dim=0):
        """put_tensor_with_tp_from of each triple: a list of codes."""
        if not len(base_keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(base_keys)
        return [self.put_tensor_with_tp_from(k, p, n, tp_rank, tp_size, split_dim)
                for k, p, n in zip(base_keys, buffer_ptrs, sizes)]


def _over(ptr, length):
    """A tensor over the stored tensor of ``length`` bytes at ptr (no copy), or None (length < 0, not a tensor)."""
    if not isinstance(length, int) or length <= METADATA.size:
        return None
    return _tensor(memoryview((ctypes.c_char * length).from_address(ptr)).cast("B"), copy=False)
