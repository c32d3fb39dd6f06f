"""One sidecar connection as ferry.mooncake uses it: whole blocks (header + value, ferry.keys)
in and out through a staging buffer, batched when they fit, or in the frames over TCP.

On a sidecar of protocol version 3 the blocks are named (module ferry.named): the sidecar
writes each string key's header itself and compares the key on every hit; on earlier ones
this client writes the header and compares it on reads."""

import ctypes
import os
import socket
import struct
import threading
import time

import ferry_client
from ferry_client import PROCESS_MEMORY, FerryClient, FerryError, MemfdBuffer

from . import keys as _keys
from .codes import BUFFER_OVERFLOW, INVALID_PARAMS, TRANSFER_FAIL, Failed

NOT_FOUND_STATUS = 6  # sidecar statuses (docs/protocol.md)
OUT_OF_RANGE_STATUS = 8
BAD_STATE_STATUS = 12  # among others: a block of that key is stored with another length
UNKNOWN_OPCODE_STATUS = 5  # a sidecar of an earlier build: no PUT_FROM / GET_INTO
NO_PROCESS_ACCESS_STATUS = 17  # the sidecar may not reach this process's private memory
MISMATCH = object()  # read_header's answer for a block of another string key under the same 64-bit key
UNREADABLE = 2  # put_blocks_from's answer for a value whose memory is not mapped (nothing stored)
PR_SET_PTRACER = 0x59616D61


class CopyPaths:
    """How many values each copy path served (thread-safe), for debug_info():

    ``process_memory``: private memory, copied once by the sidecar (process_vm_readv / writev);
    ``shared_memory``: memory of MooncakeHostMemAllocator, copied once by the sidecar;
    ``staging``: through the connection's staging buffer, one copy more (in this process).
    """

    NAMES = ("process_memory", "shared_memory", "staging")

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.NAMES, 0)
        self.process_memory_refusal = None  # the sidecar's reason, once it refused private memory
        self.huge_page_bytes = 0  # bytes of registered private memory put in huge pages

    def huge_pages(self, n):
        with self._lock:
            self.huge_page_bytes += n

    def add(self, path, n=1):
        with self._lock:
            self._counts[path] += n

    def refused(self, reason):
        with self._lock:
            self.process_memory_refusal = reason

    def snapshot(self):
        with self._lock:
            return dict(self._counts)


def allow_sidecar_ptrace(sock):
    """Lets the sidecar at the other end of a Unix socket reach this process's memory where
    Yama's ptrace_scope is 1 (only descendants may, and a sidecar started by this process is
    its child): prctl(PR_SET_PTRACER, sidecar pid), the pid from SO_PEERCRED. Best effort."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            if int(f.read()) != 1:
                return
        pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        zero = ctypes.c_ulong(0)
        ctypes.CDLL(None, use_errno=True).prctl(ctypes.c_int(PR_SET_PTRACER), ctypes.c_ulong(pid), zero, zero, zero)
    except (OSError, ValueError, AttributeError):
        pass


class Connection:
    """One sidecar connection and its staging buffer (none over TCP: bytes travel in the frames)."""

    def __init__(self, path, host, port, token, timeout, staging_size, paths=None,
                 max_version=ferry_client.VERSION):
        self.client = FerryClient(path=path, host=host, port=port, token=token, timeout=timeout,
                                  max_version=max_version)
        self.staging = None
        self.paths = paths if paths is not None else CopyPaths()
        # PUT_FROM / GET_INTO until the sidecar answers UNKNOWN_OPCODE; private memory through
        # them until it answers NO_PROCESS_ACCESS, or when FERRY_PROCESS_MEMORY=0 turns it off.
        self.two_parts = path is not None
        self.process_memory = path is not None and os.environ.get("FERRY_PROCESS_MEMORY", "1") != "0"
        if self.process_memory:
            allow_sidecar_ptrace(self.client._sock)
        try:
            if path is not None:
                self.staging = MemfdBuffer(staging_size, "ferry-staging")
                self.staging_id = self.client.register_buffer(self.staging)
        except BaseException:
            self.close()
            raise
        self.memfd_ids = {}  # _Allocation serial -> (allocation, buffer id on this connection)
        # (replicas, hard pin, soft pin ms, preferred segment) of this connection's puts (PUT_OPTIONS)
        self.put_options = (1, False, 0, None)
        self.named = self.client.version >= ferry_client.NAMED_VERSION  # the sidecar compares string keys

    def use_options(self, options):
        """Makes this connection's later puts use options (replicas, hard pin, soft pin ms,
        preferred segment): one PUT_OPTIONS when they change."""
        options = tuple(options) + (0, None)[len(options) - 2:]
        if not self.named:  # soft pins and preferred segments need version 3: accepted, not used
            options = options[:2] + (0, None)
        if options != self.put_options:
            self.client.put_options(*options)
            self.put_options = options

    def close(self):
        try:
            self.client.close()
        finally:
            if self.staging is not None:
                self.staging.close()

    def buffer_id(self, allocation):
        """This connection's id of an allocation's memfd (registered on first use); lets go of freed ones."""
        for serial, (a, freed_id) in list(self.memfd_ids.items()):
            if a.freed:
                del self.memfd_ids[serial]
                self.client.unregister_buffer(freed_id)
        entry = self.memfd_ids.get(allocation.serial)
        if entry is None:
            entry = (allocation, self.client.register_buffer(allocation.buffer))
            self.memfd_ids[allocation.serial] = entry
        return entry[1]

    # --- blocks ------------------------------------------------------------------------

    def put_block(self, bkey, header, parts):
        """Stores header + parts as one block; 0 stored, 1 a block of that key was there."""
        if self.named:
            return _named.put_block(self, bkey, header, parts)
        try:
            return self._put_block(bkey, header, parts)
        except FerryError as e:
            if e.status != BAD_STATE_STATUS:
                raise
            return 1  # there with another length: taken, as when it has this one

    def _put_block(self, bkey, header, parts):
        total = len(header) + sum(len(p) for p in parts)
        if self.staging is None:
            if total + 64 > self.client.max_frame_bytes:  # over TCP a block travels in one frame
                raise Failed(INVALID_PARAMS)
            return self.client.put_inline([bkey], [b"".join([header] + [bytes(p) for p in parts])])[0]
        if total <= self.staging.size:
            return self._put_through(self.staging, self.staging_id, bkey, header, parts, total)
        with MemfdBuffer(total, "ferry-large-put") as big:
            big_id = self.client.register_buffer(big)
            try:
                return self._put_through(big, big_id, bkey, header, parts, total)
            finally:
                self.client.unregister_buffer(big_id)

    def _put_through(self, buf, buf_id, bkey, header, parts, total):
        at = len(header)
        buf.view[0:at] = header
        for p in parts:
            buf.view[at:at + len(p)] = p
            at += len(p)
        return self.client.put([bkey], buf_id, [0], [total])[0]

    def put_blocks_from(self, entries):
        """Stores each (bkey, header, allocation, offset, size) as header + `size` bytes of memory
        this process registered: of a MooncakeHostMemAllocator allocation at `offset`, or, with
        allocation None, its private memory at address `offset`. 0 stored, 1 a block of that
        key was there, UNREADABLE (private memory not mapped) each.

        One PUT_FROM for the batch when its headers fit the staging buffer: the sidecar copies
        each value once, from the allocation it maps or from private memory (process_vm_readv).
        Where the sidecar cannot (an earlier build, or private memory it may not reach), values
        of allocations go in place in three requests (start, write, commit) and private ones
        through the staging buffer. On an error nothing of the failed request is visible.
        """
        if self.named and all(e[2] is not None for e in entries):
            # PUT_NAMED (version 3): allocation values in place, the sidecar writes each header
            answers = _named.put_blocks_from(self, entries)
            for answer in answers:
                if answer == 0:
                    self.paths.add("shared_memory")
            return answers
        bkeys = [e[0] for e in entries]
        if len(set(bkeys)) != len(bkeys):  # one key twice: one request each, in order
            return [self.put_blocks_from([e])[0] for e in entries]
        if (self.two_parts and sum(len(e[1]) for e in entries) <= self.staging.size
                and (self.process_memory or all(e[2] is not None for e in entries))):
            try:
                answers = self._put_from(entries)
            except FerryError as e:
                if e.status == UNKNOWN_OPCODE_STATUS:
                    self.two_parts = False
                elif e.status == NO_PROCESS_ACCESS_STATUS:
                    self.process_memory = False
                    self.paths.refused(str(e))
                elif e.status == BAD_STATE_STATUS and len(entries) > 1:
                    # A key there with another length refuses the whole request: one by one.
                    return [self.put_blocks_from([entry])[0] for entry in entries]
                elif e.status == BAD_STATE_STATUS:
                    return [1]  # there with another length: taken, as when it has this one
                else:
                    raise
            else:
                for e, answer in zip(entries, answers):
                    if answer == 0:
                        self.paths.add("process_memory" if e[2] is None else "shared_memory")
                return answers
        private = [i for i, e in enumerate(entries) if e[2] is None]
        shared = [i for i, e in enumerate(entries) if e[2] is not None]
        out = [None] * len(entries)
        for i, answer in zip(shared, self._put_in_place([entries[i] for i in shared])):
            out[i] = answer
        staged = [(bkey, header, [_memory(address, size)]) for bkey, header, _, address, size in
                  (entries[i] for i in private)]
        for i, answer in zip(private, self.put_blocks(staged)):
            out[i] = answer
            self.paths.add("staging")
        return out

    def _put_from(self, entries):
        ranges, at = [], 0
        for bkey, header, allocation, offset, size in entries:
            self.staging.view[at:at + len(header)] = header
            if allocation is None:
                ranges.append((bkey, self.staging_id, at, len(header), PROCESS_MEMORY, offset, size))
            else:
                ranges.append((bkey, self.staging_id, at, len(header), self.buffer_id(allocation), offset, size))
            at += len(header)
        return self.client.put_from(ranges)

    def _put_in_place(self, entries):
        """Allocation values written where they lie: PUT_START, WRITE_RANGE, PUT_COMMIT (sidecars
        without PUT_FROM); for the batch when its keys are distinct, key by key otherwise."""
        if not entries:
            return []
        bkeys = [e[0] for e in entries]
        if len(entries) < 2 or len(set(bkeys)) != len(bkeys):
            return [self._put_in_place_batch([e])[0] for e in entries]
        return self._put_in_place_batch(entries)

    def _put_in_place_batch(self, entries):
        try:
            answers = self.client.put_start([e[0] for e in entries],
                                            [len(header) + size for _, header, _, _, size in entries])
        except FerryError as e:
            if e.status != BAD_STATE_STATUS:
                raise
            if len(entries) == 1:
                return [1]  # there with another length
            return [self._put_in_place_batch([e])[0] for e in entries]
        started = [e for e, answer in zip(entries, answers) if answer == 0]
        if not started:
            return answers
        try:
            ranges, at = [], 0
            for bkey, header, allocation, offset, size in started:
                self.staging.view[at:at + len(header)] = header
                ranges.append((bkey, 0, self.staging_id, at, len(header)))
                ranges.append((bkey, len(header), self.buffer_id(allocation), offset, size))
                at += len(header)
            self.client.write_ranges(ranges)
            self.client.put_commit([e[0] for e in started])
        except BaseException:
            try:
                self.client.put_abort([e[0] for e in started])
            except (FerryError, OSError):
                pass
            raise
        self.paths.add("shared_memory", len(started))
        return answers

    def read_blocks_into(self, entries):
        """Reads each (bkey, key bytes, allocation, offset, size) into memory this process
        registered (as put_blocks_from names it) with one GET_INTO: each block's header to the
        staging buffer, its value straight to the memory (the sidecar's one copy, after its
        CRC32C check). Per entry the value's length, None when missing, MISMATCH for another
        key's block, BUFFER_OVERFLOW or INVALID_PARAMS (memory not mapped). None for the whole
        call when this connection cannot (headers beyond the staging buffer, an earlier
        sidecar, private memory it may not reach): copy through the staging buffer then.
        """
        if (not self.two_parts or not entries
                or not (self.process_memory or all(e[2] is not None for e in entries))):
            return None
        lengths = [_keys.header_length(e[1]) for e in entries]
        if sum(lengths) > self.staging.size:
            return None
        ranges, offsets, at = [], [], 0
        for (bkey, _, allocation, offset, size), n in zip(entries, lengths):
            buffer_id = PROCESS_MEMORY if allocation is None else self.buffer_id(allocation)
            ranges.append((bkey, self.staging_id, at, n, buffer_id, offset, size))
            offsets.append(at)
            at += n
        try:
            answers = self.client.get_into(ranges)
        except FerryError as e:
            if e.status == UNKNOWN_OPCODE_STATUS:
                self.two_parts = False
                return None
            if e.status == NO_PROCESS_ACCESS_STATUS:
                self.process_memory = False
                self.paths.refused(str(e))
                return None
            raise
        out = []
        for (_, kb, allocation, offset, size), n, at, answer in zip(entries, lengths, offsets, answers):
            if answer == -1:
                out.append(None)
                continue
            if answer in (-2, -3):  # too long for its memory (header copied), or memory not mapped
                if answer == -2 and _keys.value_length(self.staging.view[at:at + n], kb) is None:
                    out.append(MISMATCH)
                else:
                    out.append(BUFFER_OVERFLOW if answer == -2 else INVALID_PARAMS)
                continue
            header = self.staging.view[at:at + min(n, answer)]
            length = or_mismatch(_keys.value_length(header, kb, answer))
            if length is MISMATCH and size > 0:
                # Another string key's block (a 128-bit digest collision): its bytes never stay
                # in the caller's memory.
                ctypes.memset(offset if allocation is None else allocation.address + offset, 0, size)
            out.append(length)
            self.paths.add("process_memory" if allocation is None else "shared_memory")
        return out

    def read_block(self, bkey, consume, key_bytes=None):
        """Reads a whole block (CRC-checked) and answers consume(view of its bytes), or None when missing.

        The view is valid only inside consume. Given the string key's bytes, a sidecar of
        version 3 compares them first: another key's block answers MISMATCH (consume is not called).
        """
        if self.named and key_bytes is not None:
            return _named.read_block(self, bkey, key_bytes, consume)
        if self.staging is None:
            block = self.client.get_inline([bkey])[0]
            return None if block is None else consume(memoryview(block))
        try:
            length = self.client.get([bkey], self.staging_id, [0], [self.staging.size])[0]
        except FerryError as e:
            if e.status != OUT_OF_RANGE_STATUS:
                raise
            length = -2  # longer than the staging buffer
        if length == -1:
            return None
        if length >= 0:
            return consume(self.staging.view[0:length])
        for _ in range(3):  # the block may be replaced by one of another size between the two calls
            try:
                self.client.read_range(bkey, 0, self.staging_id, 0, _keys.FIXED)
            except FerryError as e:
                if e.status == NOT_FOUND_STATUS:
                    return None
                raise
            _, key_len, value_len = struct.unpack_from("<4sIQ", self.staging.view)
            with MemfdBuffer(_keys.FIXED + key_len + value_len, "ferry-large-get") as big:
                big_id = self.client.register_buffer(big)
                try:
                    length = self.client.get([bkey], big_id, [0], [big.size])[0]
                except FerryError as e:
                    if e.status != OUT_OF_RANGE_STATUS:
                        raise
                    continue
                finally:
                    self.client.unregister_buffer(big_id)
                return None if length < 0 else consume(big.view[0:length])
        raise Failed(TRANSFER_FAIL)

    def put_blocks(self, entries):
        """put_block of each (bkey, header, parts), in one request when they fit the staging buffer; 0/1 each."""
        if self.named:
            return _named.put_blocks(self, entries)
        totals = [len(h) + sum(len(p) for p in parts) for _, h, parts in entries]
        if self.staging is None or len(entries) < 2 or sum(totals) > self.staging.size:
            return [self.put_block(bkey, h, parts) for bkey, h, parts in entries]
        offsets, at = [], 0
        for (_, header, parts), total in zip(entries, totals):
            offsets.append(at)
            self.staging.view[at:at + len(header)] = header
            at += len(header)
            for p in parts:
                self.staging.view[at:at + len(p)] = p
                at += len(p)
        try:
            return self.client.put([bkey for bkey, _, _ in entries], self.staging_id, offsets, totals)
        except FerryError as e:
            if e.status != BAD_STATE_STATUS:
                raise
            # A key there with another length refuses the whole request (nothing was stored):
            # one by one, so that each key gets its own answer.
            return [self.put_block(bkey, h, parts) for bkey, h, parts in entries]

    def read_blocks(self, bkeys, consume, key_bytes_list=None):
        """[consume(i, view of block i) or None when missing], in one request when the blocks fit an
        equal share of the staging buffer each. Each view is valid only inside its consume.
        Given the string keys' bytes, a sidecar of version 3 compares them (MISMATCH for another key's)."""
        if self.named and key_bytes_list is not None:
            return _named.read_blocks(self, bkeys, key_bytes_list, consume)
        if self.staging is None or len(bkeys) < 2:
            return self._read_one_by_one(bkeys, consume)
        share = self.staging.size // len(bkeys)
        try:
            lengths = self.client.get(bkeys, self.staging_id, [i * share for i in range(len(bkeys))],
                                      [share] * len(bkeys))
        except FerryError as e:
            if e.status != OUT_OF_RANGE_STATUS:  # a block larger than its share: one by one
                raise
            return self._read_one_by_one(bkeys, consume)
        return [None if n < 0 else consume(i, self.staging.view[i * share:i * share + n])
                for i, n in enumerate(lengths)]

    def _read_one_by_one(self, bkeys, consume):
        return [self.read_block(bkey, lambda view, i=i: consume(i, view)) for i, bkey in enumerate(bkeys)]

    def read_headers(self, bkeys, key_bytes_list):
        """read_header of each key: one EXISTS, then one READ_RANGE of the present keys' headers
        when they fit the staging buffer (one by one otherwise)."""
        if self.named:
            return _named.read_headers(self, bkeys, key_bytes_list)

        def one_by_one():
            return [self.read_header(bkey, kb) for bkey, kb in zip(bkeys, key_bytes_list)]
        if self.staging is None or len(bkeys) < 2:
            return one_by_one()
        present = [i for i, there in enumerate(self.client.exists(bkeys)) if there]
        lengths = [_keys.header_length(kb) for kb in key_bytes_list]
        if sum(lengths[i] for i in present) > self.staging.size:
            return one_by_one()
        ranges, offsets, at = [], {}, 0
        for i in present:
            ranges.append((bkeys[i], 0, self.staging_id, at, lengths[i]))
            offsets[i] = at
            at += lengths[i]
        try:
            if ranges:
                self.client.read_ranges(ranges)
        except FerryError as e:
            if e.status not in (NOT_FOUND_STATUS, OUT_OF_RANGE_STATUS):  # removed meanwhile, or a short block
                raise
            return one_by_one()
        out = [None] * len(bkeys)
        for i in present:
            view = self.staging.view[offsets[i]:offsets[i] + lengths[i]]
            out[i] = or_mismatch(_keys.value_length(view, key_bytes_list[i]))
        return out

    def read_header(self, bkey, key_bytes):
        """The value length of the block of this string key, None when missing, MISMATCH for another key's."""
        if self.named:
            return _named.read_headers(self, [bkey], [key_bytes])[0]
        if self.staging is None:
            return self.read_block(bkey, lambda v: or_mismatch(_keys.value_length(v, key_bytes, len(v))))
        n = _keys.header_length(key_bytes)
        if n > self.staging.size:
            raise Failed(INVALID_PARAMS)
        try:
            self.client.read_range(bkey, 0, self.staging_id, 0, n)
        except FerryError as e:
            if e.status == NOT_FOUND_STATUS:
                return None
            if e.status == OUT_OF_RANGE_STATUS:  # shorter than this key's header: not this key's block
                return MISMATCH
            raise
        return or_mismatch(_keys.value_length(self.staging.view[0:n], key_bytes))


UPSERT_LEASE_WAIT_S = 1.0  # how long upsert waits for readers of the old value (a lease cache period)


def remove_block(c, bkey, wait_s):
    """REMOVE of one block, asked again while a reader's lease keeps it, for up to wait_s; the last answer."""
    deadline = time.monotonic() + wait_s
    pause = 0.001
    while True:
        answer = c.client.remove([bkey])[0]
        if answer != 2 or time.monotonic() + pause > deadline:
            return answer
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class Staged:
    """A put of bytes copied through the staging buffer: callable as a write of _store, and
    batchable (Connection.put_blocks) by its fields."""

    def __init__(self, c, bkey, header, parts):
        self.c, self.bkey, self.header, self.parts = c, bkey, header, parts

    def __call__(self):
        return self.c.put_block(self.bkey, self.header, self.parts)


class InPlace:
    """A put of registered memory that the sidecar copies itself, from an allocation of the
    allocator (at offset) or, with allocation None, from private memory (at address offset):
    callable as a write of _store, and batchable (Connection.put_blocks_from) by its fields."""

    def __init__(self, c, bkey, header, allocation, offset, size):
        self.c, self.bkey, self.header = c, bkey, header
        self.allocation, self.offset, self.size = allocation, offset, size

    def entry(self):
        return self.bkey, self.header, self.allocation, self.offset, self.size

    def __call__(self):
        answer = self.c.put_blocks_from([self.entry()])[0]
        if answer == UNREADABLE:
            raise Failed(INVALID_PARAMS)
        return answer


def _memory(address, size):
    """A writable flat view of `size` bytes at address (memory this process registered)."""
    return memoryview((ctypes.c_char * size).from_address(address)).cast("B")


def bytes_view(value):
    """A flat byte view of a bytes-like value; TypeError for anything else (as Mooncake's binding,
    whose values are buffers), INVALID_PARAMS for a buffer that is not contiguous."""
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError("a value is a bytes-like object (the buffer protocol), got %s"
                        % type(value).__name__) from None
    try:
        return view.cast("B")
    except TypeError:
        raise Failed(INVALID_PARAMS) from None


def or_mismatch(value_length):
    return MISMATCH if value_length is None else value_length


from . import named as _named  # noqa: E402 (it uses MISMATCH and the helpers above)
