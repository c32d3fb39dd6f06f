"""ferry.mooncake's tensor layouts, get_tensor_dim_selection_into and the safetensors
files: the self-describing 304-byte header of later Mooncake releases (read always, written
with tensor_header = "object"), the selection planner, the safetensors codec, and the
selection reads and file round trips against a real master and sidecar, checked against what
torch's own indexing gives.

FERRY_MASTER is the master's host:port and FERRY_HOME a Ferry distribution (./ferry dist);
the tests that need a cluster are skipped without them, the torch ones without torch. Run:
    FERRY_HOME=target/ferry-dist FERRY_MASTER=127.0.0.1:50051 python3 -m unittest -v test_mooncake_tensors
"""

import ctypes
import json
import os
import struct
import tempfile
import unittest

from ferry import safetensors_file, selection, tensor_object, tensors
from ferry.codes import FILE_NOT_FOUND
from ferry.mooncake import (INVALID_PARAMS, OBJECT_NOT_FOUND, OK, MooncakeDistributedStore,
                            MooncakeHostMemAllocator)

MASTER = os.environ.get("FERRY_MASTER")
HOME = os.environ.get("FERRY_HOME")
RUN = os.urandom(4).hex()  # keys of this run: a sidecar may have served earlier runs
NO_CLUSTER = "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against"
NO_TORCH = "torch is not installed (Debian: python3-torch): the torch tensor methods are not tested"


def key(name):
    return "%s/tensors/%s" % (RUN, name)


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def _object_header(dtype, ndim, shape, data_bytes, layout=0, version=1, size=304, offset=304, axes=(),
                   global_shape=None):
    """A self-describing header packed field by field from Mooncake's struct (not through ferry)."""
    pad = [-1] * (8 - len(shape))
    out = struct.pack("<IHHiiIIQQ", 0x4D4F4F4E, version, size, dtype, ndim, layout, 0, offset, data_bytes)
    out += struct.pack("<8q", *(list(shape if global_shape is None else global_shape) + pad))
    out += struct.pack("<8q", *(list(shape) + pad)) + struct.pack("<II", len(axes), 0)
    for axis in axes:
        out += struct.pack("<iiiiiiq", *axis)
    return out + b"\0" * (32 * (4 - len(axes)))


def _expected_selection(values, shape, dim, positions, width):
    """The bytes of a C-order tensor (bytes of ``width`` per element) re-indexed along dim."""
    inner = width
    for d in shape[dim + 1:]:
        inner *= d
    outer = 1
    for d in shape[:dim]:
        outer *= d
    span = shape[dim] * inner
    return b"".join(values[o * span + p * inner:o * span + (p + 1) * inner] for o in range(outer) for p in positions)


class OfflineTest(unittest.TestCase):
    """The layouts and the planner: no cluster needed."""

    def test_the_self_describing_header_is_mooncakes_struct(self):
        ours = tensor_object.encode(11, (2, 3), data_bytes=12)
        self.assertEqual(tensor_object.SIZE, 304)
        self.assertEqual(ours, _object_header(11, 2, (2, 3), 12))
        self.assertEqual(tensors.decode_stored(ours + b"\0" * 12), ("float16", (2, 3), 304))
        self.assertEqual(tensors.decode_metadata(ours + b"\0" * 12), ("float16", (2, 3)))
        shard = tensor_object.encode(0, (4, 2), (4, 6), tensor_object.SHARD, [(tensor_object.TP, 0, 1, 3, 1)], 32)
        self.assertEqual(shard, _object_header(0, 2, (4, 2), 32, layout=1, axes=[(1, 0, 1, 3, 1, 0, 2)],
                                               global_shape=(4, 6)))  # the local extent in the axis
        self.assertEqual(tensors.decode_stored(shard + b"\0" * 32), ("float32", (4, 2), 304))

    def test_headers_mooncake_refuses_are_not_tensors(self):
        data = b"\0" * 12
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (2, 3), 11) + data))  # byte count
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (2, 3), 12, version=2) + data))
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (2, 3), 12, size=40) + data))
        self.assertIsNone(tensors.decode_stored(_object_header(15, 2, (2, 3), 12) + data))  # dtype
        self.assertIsNone(tensors.decode_stored(_object_header(11, 9, (2, 3), 12) + data))  # ndim
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (2, 3), 12, layout=2) + data))
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (2, 3), 0, offset=400) + data))
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (0, 3), 12) + data))  # global extent 0
        self.assertIsNone(tensors.decode_stored(_object_header(11, 1, (2, 3), 12) + data))  # shape past ndim
        self.assertIsNone(tensors.decode_stored(
            _object_header(11, 2, (2, 3), 12, axes=[(1, 0, 3, 3, 0, 0, 0)]) + data))  # rank >= count
        self.assertIsNone(tensors.decode_stored(
            _object_header(11, 2, (2, 3), 12, axes=[(1, 0, 0, 1, 2, 0, 0)]) + data))  # split dim >= ndim
        self.assertIsNone(tensors.decode_stored(_object_header(11, 2, (2, 3), 0)[:300]))  # short
        with self.assertRaises(ValueError):
            tensor_object.encode(0, (1,) * 9)
        with self.assertRaises(ValueError):
            tensor_object.encode(0, (2, 2), axes=[(1, 0, 0, 2, 2)])

    def test_selections_follow_mooncakes_ops(self):
        positions = selection.selected_positions
        self.assertEqual(list(positions(4, None)), [0, 1, 2, 3])
        self.assertEqual(positions(4, [("select_idxs", [3, -4, 1])]), [3, 0, 1])
        self.assertEqual(positions(4, [("select_idxs", [True, False, False, True])]), [0, 3])
        self.assertEqual(positions(4, [{"op": "slice", "value": (None, None, -2)}]), [3, 1])
        self.assertEqual(positions(3, [("repeat", (2, True))]), [0, 0, 1, 1, 2, 2])
        self.assertEqual(positions(3, [("repeat", (2, False))]), [0, 1, 2, 0, 1, 2])
        self.assertEqual(positions(6, [("slice", (1, None, 2)), ("select_idxs", [2, 0])]), [5, 1])
        self.assertEqual(positions(5, [("select_idxs", [4, 3, 2]),
                                       ("cat", [[("slice", (0, 1, None))], [("repeat", (2, False))]])]),
                         [4, 4, 3, 2, 4, 3, 2])
        self.assertEqual(positions(4, [("select_idxs", [])]), [])

        class Op:  # mooncake.remote_tensor_batch.TensorDimSelection's shape
            op, value = "select_idxs", [2]
        self.assertEqual(positions(4, [Op()]), [2])

    def test_bad_selections_raise_with_the_reason(self):
        positions = selection.selected_positions
        for bad, message in (([("select_idxs", [4])], "out of range"), ([("select_idxs", [-5])], "out of range"),
                             ([("select_idxs", [True, False])], "bool mask"),
                             ([("slice", (0, 4))], "slice"), ([("slice", (0, 4, 0))], "zero"),
                             ([("repeat", (-1, True))], "non-negative"), ([("repeat", (1 << 21, True))], "more than"),
                             ([("transpose", 1)], "unsupported"), ([("select_idxs", [1], 3)], "2 items"),
                             ([("cat", [[("select_idxs", [9])]])], "out of range")):
            with self.assertRaisesRegex(ValueError, message):
                positions(4, bad)
        for bad in ([7], [("select_idxs", "ab")], [("select_idxs", [1.5])], 5):
            with self.assertRaises(TypeError):
                positions(4, bad)

    def test_the_plan_merges_adjacent_ranges_and_checks_arguments(self):
        self.assertEqual(selection.plan((4, 3), "int8", 0, None, 40), (12, [(0, 40, 12)]))
        self.assertEqual(selection.plan((4, 3), "torch.float32", 0, [("select_idxs", [1, 2, 0])], 0),
                         (36, [(0, 12, 24), (24, 0, 12)]))
        self.assertEqual(selection.plan((2, 3), "int16", -1, [("select_idxs", [2])], 8),
                         (4, [(0, 12, 2), (2, 18, 2)]))
        self.assertEqual(selection.plan((2, 3), "int16", 1, [("select_idxs", [])], 0), (0, []))
        self.assertEqual(selection.plan((0, 3), "int16", 1, None, 0), (0, []))
        for shape, dtype, dim, offset, message in (((), "int8", 0, 0, "at least one"),
                                                   ((2, -1), "int8", 0, 0, "non-negative"),
                                                   ((2, 2), "int8", 2, 0, "out of range"),
                                                   ((2, 2), "int8", -3, 0, "out of range"),
                                                   ((2, 2), "complex64", 0, 0, "unsupported dtype"),
                                                   ((2, 2), "int8", 0, -1, "non-negative")):
            with self.assertRaisesRegex(ValueError, message):
                selection.plan(shape, dtype, dim, None, offset)
        with self.assertRaises(TypeError):
            selection.plan((2, "2"), "int8", 0, None, 0)
        with self.assertRaisesRegex(ValueError, "ranges, more than"):
            selection.plan((1 << 21, 2), "int8", 1, [("select_idxs", [1])], 0)


class _OnTheCluster(unittest.TestCase):
    """A store set up on FERRY_MASTER for the whole class, and a destination of SIZE bytes."""
    store = None
    allocator = None
    ptr = 0
    SIZE = 1 << 16

    @classmethod
    def setUpClass(cls):
        cls.store = MooncakeDistributedStore()
        code = cls.store.setup("127.0.0.1", "P2PHANDSHAKE", 32 << 20, 1 << 20, "tcp", "", MASTER)
        if code != OK:
            raise AssertionError("setup answered %d" % code)
        cls.allocator = MooncakeHostMemAllocator()
        cls.ptr = cls.allocator.alloc(cls.SIZE)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.ptr:
                cls.allocator.free(cls.ptr)
        finally:
            cls.store.close()

    def setUp(self):
        self.assertTrue(self.ptr, "no memory for the destination buffer")


    def test_safetensors_files_follow_the_format(self):
        header = json.dumps({"__metadata__": {"format": "pt"},
                             "w": {"dtype": "BF16", "shape": [2], "data_offsets": [1, 5]},
                             "flag": {"dtype": "BOOL", "shape": [], "data_offsets": [0, 1]}}).encode()
        built = struct.pack("<Q", len(header)) + header + b"\x01abcd"  # written by hand from the format
        found = safetensors_file.decode(built)
        self.assertEqual(list(found), ["flag", "w"])  # in the order of their bytes
        self.assertEqual([(d, s, bytes(b)) for d, s, b in found.values()],
                         [("bool", (), b"\x01"), ("bfloat16", (2,), b"abcd")])
        ours = safetensors_file.encode({"k/1": ("int16", (1, 2), b"wxyz")})
        n = struct.unpack_from("<Q", ours)[0]
        self.assertEqual(n % 8, 0)
        self.assertEqual(json.loads(ours[8:8 + n]), {"k/1": {"dtype": "I16", "shape": [1, 2], "data_offsets": [0, 4]}})
        self.assertEqual(ours[8 + n:], b"wxyz")
        self.assertEqual(bytes(safetensors_file.decode(ours)["k/1"][2]), b"wxyz")

    def test_files_that_are_not_safetensors_are_refused(self):
        def file(entries, data=b"", length=None):
            text = json.dumps(entries).encode()
            return struct.pack("<Q", len(text) if length is None else length) + text + data
        entry = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
        for bad, message in ((b"\x01", "no header length"), (file({}, length=1 << 40), "header of"),
                             (struct.pack("<Q", 3) + b"{x}", "not JSON"), (file([1]), "not a JSON object"),
                             (file({"t": 7}), "not a tensor entry"),
                             (file({"t": dict(entry, dtype="C64")}, b"1234"), "dtype"),
                             (file({"t": dict(entry, shape=[2])}, b"1234"), "bytes for shape"),
                             (file({"t": dict(entry, data_offsets=[0, 8])}, b"1234"), "offsets"),
                             (file({"t": entry, "u": entry}, b"12341234"), "overlap or leave a gap"),
                             (file({"t": entry}, b"12345"), "after the last tensor")):
            with self.assertRaisesRegex(safetensors_file.FormatError, message):
                safetensors_file.decode(bad)
        with self.assertRaisesRegex(safetensors_file.FormatError, "bytes for shape"):
            safetensors_file.encode({"t": ("float32", (2,), b"1234")})


@unittest.skipUnless(MASTER and HOME, NO_CLUSTER)
class SelectionReadTest(_OnTheCluster):
    """get_tensor_dim_selection_into against a real sidecar, on bytes put without torch."""

    def _put_int32s(self, name, shape, header=True):
        count = 1
        for d in shape:
            count *= d
        values = struct.pack("<%di" % count, *range(100, 100 + count))
        stored = (tensors.encode_metadata("int32", shape) if header else b"") + values
        k = key(name)
        self.assertEqual(self.store.put(k, stored), OK)
        return k, values

    def _read(self, k, shape, dim, selections, offset=40, size=None, dtype="int32"):
        ctypes.memset(self.ptr, 0xEE, self.SIZE)
        return self.store.get_tensor_dim_selection_into(k, self.ptr, self.SIZE if size is None else size,
                                                        list(shape), dtype, dim, selections, offset)

    def test_every_dimension_and_op_reads_the_selected_rows(self):
        shape = (3, 4, 5)
        k, values = self._put_int32s("cube", shape)
        cases = ((0, [("select_idxs", [2, 0])], [2, 0]), (1, [("slice", (None, None, -1))], [3, 2, 1, 0]),
                 (2, [("repeat", (2, True))], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]),
                 (-1, [("select_idxs", [True, False, True, False, True])], [0, 2, 4]),
                 (1, [("cat", [[("select_idxs", [3])], [("slice", (0, 2, None))]])], [3, 0, 1]),
                 (0, None, [0, 1, 2]), (2, [], [0, 1, 2, 3, 4]))
        for dim, selections, positions in cases:
            with self.subTest(dim=dim, selections=selections):
                wanted = _expected_selection(values, shape, dim % 3, positions, 4)
                self.assertEqual(self._read(k, shape, dim, selections), len(wanted))
                self.assertEqual(ctypes.string_at(self.ptr, len(wanted)), wanted)
                self.assertEqual(ctypes.string_at(self.ptr + len(wanted), 4), b"\xee" * 4)  # nothing past it

    def test_data_offset_zero_reads_a_value_without_a_header(self):
        k, values = self._put_int32s("raw", (6,), header=False)
        self.assertEqual(self.store.get_tensor_dim_selection_into(k, self.ptr, 8, [6], "torch.int32", 0,
                                                                  [("select_idxs", [5, 4])]), 8)
        self.assertEqual(ctypes.string_at(self.ptr, 8), values[20:24] + values[16:20])
        self.assertEqual(self.store.get_tensor_dim_selection_into(k, self.ptr, 24, [6], "int32"), 24)  # defaults
        self.assertEqual(ctypes.string_at(self.ptr, 24), values)

    def test_an_empty_selection_writes_nothing_and_answers_zero(self):
        k, _ = self._put_int32s("empty", (2, 2))
        self.assertEqual(self._read(k, (2, 2), 1, [("select_idxs", [])]), 0)
        self.assertEqual(ctypes.string_at(self.ptr, 4), b"\xee" * 4)

    def test_bad_reads_answer_codes_and_leave_the_value(self):
        k, values = self._put_int32s("errors", (4, 2))
        self.assertEqual(self._read(key("absent"), (4, 2), 0, None), OBJECT_NOT_FOUND)
        self.assertEqual(self._read(k, (4, 2), 0, None, size=31), INVALID_PARAMS)  # buffer too small
        self.assertEqual(self._read(k, (5, 2), 0, None), INVALID_PARAMS)  # past the value's end
        self.assertEqual(self._read(k, (5, 2), 0, [("select_idxs", [0, 4])]), INVALID_PARAMS)  # its last row
        self.assertEqual(self._read(k, (4, 2), 0, None, offset=44), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, 2), 2, None), INVALID_PARAMS)  # dim
        self.assertEqual(self._read(k, (4, 2), 0, [("select_idxs", [4])]), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, 2), 0, [("slice", (0, 4, 0))]), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, 2), 0, [("frobnicate", 1)]), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, 2), 0, [7]), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, 2), 0, None, dtype="complex64"), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, -2), 0, None), INVALID_PARAMS)
        self.assertEqual(self._read(k, (4, 2), 0, None, offset=-1), INVALID_PARAMS)
        self.assertEqual(ctypes.string_at(self.ptr, 4), b"\xee" * 4)  # none of them wrote
        unregistered = ctypes.create_string_buffer(64)
        self.assertEqual(self.store.get_tensor_dim_selection_into(k, ctypes.addressof(unregistered), 64, [4, 2],
                                                                  "int32", 0, None, 40), INVALID_PARAMS)
        self.assertEqual(self.store.get_tensor_dim_selection_into(k, self.ptr + self.SIZE - 16, 32, [4, 2],
                                                                  "int32", 0, None, 40), INVALID_PARAMS)
        with self.assertRaises(TypeError):
            self.store.get_tensor_dim_selection_into(7, self.ptr, 64, [4, 2], "int32", 0, None, 40)
        self.assertEqual(self.store.get(k)[40:], values)  # the stored value is untouched

    def test_a_stored_tensor_saves_to_a_safetensors_file_without_torch(self):
        k, values = self._put_int32s("to-file", (2, 3))
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "t.safetensors")
            self.assertEqual(self.store.save_tensor_to_safetensor(k, path), OK)
            found = safetensors_file.read(path)
            self.assertEqual(list(found), [k])  # the one tensor, named by its key
            self.assertEqual(found[k][:2], ("int32", (2, 3)))
            self.assertEqual(bytes(found[k][2]), values)
            self.assertEqual(self.store.save_tensor_to_safetensor(key("absent"), path), FILE_NOT_FOUND)
            self.assertEqual(self.store.put(key("bytes"), b"not a tensor"), OK)
            self.assertEqual(self.store.save_tensor_to_safetensor(key("bytes"), path), FILE_NOT_FOUND)
            self.assertEqual(self.store.save_tensor_to_safetensor(k, os.path.join(folder, "no", "such", "dir")),
                             INVALID_PARAMS)
            self.assertEqual(bytes(safetensors_file.read(path)[k][2]), values)  # the file is as it was
            self.assertEqual(sorted(os.listdir(folder)), ["t.safetensors"])  # no temporary file left
            here = os.getcwd()
            os.chdir(folder)
            try:
                flat = "%s-flat" % RUN
                self.assertEqual(self.store.put(flat, tensors.encode_metadata("int8", (2,)) + b"\x05\x06"), OK)
                self.assertEqual(self.store.save_tensor_to_safetensor(flat), OK)  # the key names the file
                self.assertEqual(bytes(safetensors_file.read(flat)[flat][2]), b"\x05\x06")
            finally:
                os.chdir(here)

    def test_a_registered_buffer_takes_the_read(self):
        k, values = self._put_int32s("registered", (2, 3))
        buffer = ctypes.create_string_buffer(64)
        address = ctypes.addressof(buffer)
        self.assertEqual(self.store.register_buffer(address, 64), OK)
        try:
            self.assertEqual(self.store.get_tensor_dim_selection_into(k, address, 64, [2, 3], "int32", 1,
                                                                      [("select_idxs", [1])], 40), 8)
            self.assertEqual(buffer.raw[:8], values[4:8] + values[16:20])
        finally:
            self.store.unregister_buffer(address)


@unittest.skipUnless(MASTER and HOME, NO_CLUSTER)
@unittest.skipIf(_torch() is None, NO_TORCH)
class TorchTensorTest(_OnTheCluster):
    """The torch tensor methods in both layouts, and selections checked against torch's indexing."""

    def tearDown(self):
        self.store.tensor_header = "legacy"

    def _tensors(self):
        torch = _torch()
        return (torch.arange(60, dtype=torch.float32).reshape(3, 4, 5),
                torch.arange(24, dtype=torch.int64).reshape(2, 3, 4) - 7,
                (torch.arange(16, dtype=torch.float32) / 3).to(torch.bfloat16).reshape(4, 4),
                (torch.arange(12, dtype=torch.float32) / 7).to(torch.float16).reshape(2, 2, 3),
                torch.arange(10) % 3 == 0,
                torch.arange(120, dtype=torch.uint8).reshape(2, 3, 4, 5))

    def test_selections_match_torch_indexing_in_both_layouts(self):
        torch = _torch()
        for header in tensors.HEADERS:
            self.store.tensor_header = header
            offset = 40 if header == "legacy" else 304
            for n, t in enumerate(self._tensors()):
                k = key("select-%s-%d" % (header, n))
                self.assertEqual(self.store.upsert_tensor(k, t), OK)
                for dim in range(-t.dim(), t.dim()):
                    size = t.shape[dim]
                    picks = [size - 1, 0, size // 2]
                    wanted = t.index_select(dim, torch.tensor(picks)).repeat_interleave(2, dim)
                    with self.subTest(header=header, dtype=t.dtype, dim=dim):
                        got = self.store.get_tensor_dim_selection_into(
                            k, self.ptr, self.SIZE, list(t.shape), t.dtype, dim,
                            [("select_idxs", picks), ("repeat", (2, True))], offset)
                        nbytes = wanted.numel() * wanted.element_size()
                        self.assertEqual(got, nbytes)
                        out = torch.frombuffer(bytearray(ctypes.string_at(self.ptr, nbytes)), dtype=t.dtype)
                        self.assertTrue(torch.equal(out.reshape(wanted.shape), wanted))

    def test_the_object_layout_round_trips_through_every_get(self):
        torch = _torch()
        self.store.tensor_header = "object"
        for n, t in enumerate(self._tensors()):
            k = key("object-%d" % n)
            self.assertEqual(self.store.put_tensor(k, t), OK)
            stored = self.store.get(k)
            self.assertEqual(stored[:304], _object_header(tensors.DTYPES.index(str(t.dtype)[6:]), t.dim(),
                                                          tuple(t.shape), t.numel() * t.element_size()))
            self.assertTrue(torch.equal(self.store.get_tensor(k), t))
        five = torch.ones(1, 2, 1, 2, 3)
        self.assertEqual(self.store.put_tensor(key("five-dims"), five), OK)  # the object layout holds 8
        self.assertTrue(torch.equal(self.store.get_tensor(key("five-dims")), five))
        t = self._tensors()[0]
        self.assertEqual(self.store.batch_put_tensor([key("b0"), key("b1")], [t, t + 1]), [OK, OK])
        got = self.store.batch_get_tensor([key("b0"), key("b1"), key("absent")])
        self.assertTrue(torch.equal(got[0], t) and torch.equal(got[1], t + 1))
        self.assertIsNone(got[2])
        self.assertTrue(torch.equal(self.store.get_tensor_into(key("b1"), self.ptr, self.SIZE), t + 1))
        self.assertEqual(self.store.put_tensor_from(key("from"), self.ptr, 304 + t.numel() * 4), OK)
        self.assertTrue(torch.equal(self.store.get_tensor(key("from")), t + 1))
        self.assertIsNone(self.store.get_tensor_into(key("b1"), self.ptr, 304 + t.numel() * 4 - 1))

    def test_object_shards_record_their_place_in_the_whole(self):
        torch = _torch()
        self.store.tensor_header = "object"
        t = torch.arange(24, dtype=torch.int32).reshape(4, 6)
        self.assertEqual(self.store.put_tensor_with_tp(key("tp"), t, tp_size=3, split_dim=-1), OK)
        for rank in range(3):
            shard = self.store.get_tensor_with_tp(key("tp"), tp_rank=rank, tp_size=3)
            self.assertTrue(torch.equal(shard, t[:, 2 * rank:2 * rank + 2]))
            stored = self.store.get(tensors.tp_key(key("tp"), rank))
            self.assertEqual(struct.unpack_from("<I", stored, 16)[0], 1)  # layout: shard
            self.assertEqual(struct.unpack_from("<8q", stored, 40)[:2], (4, 6))  # the whole tensor's shape
            self.assertEqual(struct.unpack_from("<8q", stored, 104)[:2], (4, 2))  # this shard's
            self.assertEqual(struct.unpack_from("<II", stored, 168)[0], 1)
            self.assertEqual(struct.unpack_from("<iiiiiiq", stored, 176), (1, 0, rank, 3, 1, 0, 2))

    def test_tensors_mooncake_wrote_in_either_layout_read_back(self):
        torch = _torch()
        t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
        data = t.numpy().tobytes()
        self.assertEqual(self.store.put(key("theirs-object"), _object_header(1, 2, (2, 3), 48) + data), OK)
        self.assertEqual(self.store.put(key("theirs-legacy"), struct.pack("<ii4q", 1, 2, 2, 3, -1, -1) + data), OK)
        self.assertEqual(self.store.put(key("theirs-bad"), _object_header(1, 2, (2, 3), 47) + data), OK)
        got = self.store.batch_get_tensor([key("theirs-object"), key("theirs-legacy"), key("theirs-bad")])
        self.assertTrue(torch.equal(got[0], t) and torch.equal(got[1], t))
        self.assertIsNone(got[2])
        self.assertEqual(self.store.put_tensor(key("ours-legacy"), t), OK)  # the default: Mooncake's 40 bytes
        self.assertEqual(self.store.get(key("ours-legacy")), struct.pack("<ii4q", 1, 2, 2, 3, -1, -1) + data)

    def test_wrong_inputs_answer_invalid_params_and_store_nothing(self):
        torch = _torch()
        self.assertEqual(self.store.put_tensor(key("five-legacy"), torch.ones(1, 1, 1, 1, 2)), INVALID_PARAMS)
        self.assertEqual(self.store.is_exist(key("five-legacy")), 0)
        self.store.tensor_header = "object"
        self.assertEqual(self.store.put_tensor(key("nine"), torch.ones((1,) * 9)), INVALID_PARAMS)
        self.assertEqual(self.store.put_tensor(key("list"), [1.0, 2.0]), INVALID_PARAMS)
        self.assertEqual(self.store.put_tensor(key("complex"), torch.ones(2, dtype=torch.complex64)), INVALID_PARAMS)
        self.assertEqual(self.store.put_tensor(key("no-elements"), torch.ones(0, 3)), INVALID_PARAMS)
        self.assertEqual(self.store.batch_is_exist([key("nine"), key("list"), key("complex"), key("no-elements")]),
                         [0, 0, 0, 0])
        self.store.tensor_header = "json"
        with self.assertRaisesRegex(ValueError, "tensor_header"):
            self.store.put_tensor(key("json"), torch.ones(2))
        self.assertEqual(self.store.is_exist(key("json")), 0)


    def test_safetensors_files_round_trip_through_the_store(self):
        torch = _torch()
        with tempfile.TemporaryDirectory() as folder:
            for n, t in enumerate(self._tensors()):
                k, path = key("file-%d" % n), os.path.join(folder, "%d.safetensors" % n)
                self.assertEqual(self.store.put_tensor(k, t), OK)
                self.assertEqual(self.store.save_tensor_to_safetensor(k, path), OK)
                self.assertEqual(self.store.remove(k), OK)
                loaded = self.store.load_tensor_from_safetensor(k, path)
                self.assertTrue(torch.equal(loaded, t))
                self.assertTrue(torch.equal(self.store.get_tensor(k), t))
            other = key("file-renamed")
            loaded = self.store.load_tensor_from_safetensor(other, os.path.join(folder, "1.safetensors"))
            self.assertTrue(torch.equal(loaded, self._tensors()[1]))  # no tensor named so: the first is stored
            self.assertTrue(torch.equal(self.store.get_tensor(other), self._tensors()[1]))
            by_name = os.path.join(folder, "0.safetensors")
            self.assertTrue(torch.equal(self.store.load_tensor_from_safetensor(file_name=by_name), self._tensors()[0]))
            self.assertTrue(torch.equal(self.store.get_tensor(by_name), self._tensors()[0]))  # stored under the path
            pair = os.path.join(folder, "pair.safetensors")
            named = key("pair-named")
            safetensors_file.write(pair, {"b": ("int8", (2,), b"\x01\x02"), named: ("int8", (1,), b"\x09")})
            self.assertTrue(torch.equal(self.store.load_tensor_from_safetensor(key("pair-other"), pair),
                                        torch.tensor([1, 2], dtype=torch.int8)))  # the first in the file
            self.assertTrue(torch.equal(self.store.load_tensor_from_safetensor(named, pair),
                                        torch.tensor([9], dtype=torch.int8)))  # the one named by the key

    def test_unreadable_safetensors_files_load_nothing(self):
        with tempfile.TemporaryDirectory() as folder:
            garbage = os.path.join(folder, "garbage.safetensors")
            with open(garbage, "wb") as f:
                f.write(b"\x10" * 64)
            empty = os.path.join(folder, "empty.safetensors")
            safetensors_file.write(empty, {})
            for path in (os.path.join(folder, "absent.safetensors"), garbage, empty):
                self.assertIsNone(self.store.load_tensor_from_safetensor(key("unreadable"), path))
            self.assertEqual(self.store.is_exist(key("unreadable")), 0)
            with self.assertRaises(TypeError):
                self.store.load_tensor_from_safetensor(key("no-file"))

if __name__ == "__main__":
    unittest.main()
