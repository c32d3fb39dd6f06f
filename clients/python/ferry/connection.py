"""One sidecar connection as ferry.mooncake uses it: whole blocks (header + value, ferry.keys)
in and out through a staging buffer, batched when they fit, or in the frames over TCP.

On a sidecar of protocol version 3 the blocks are named (module ferry.named): the sidecar
writes each string key's header itself and compares the key on every hit; on earlier ones
this client writes the header and compares it on reads."""

import struct
import time

import ferry_client
from ferry_client import FerryClient, FerryError, MemfdBuffer

from . import keys as _keys
from .codes import INVALID_PARAMS, TRANSFER_FAIL, Failed

NOT_FOUND_STATUS = 6  # sidecar statuses (docs/protocol.md)
OUT_OF_RANGE_STATUS = 8
BAD_STATE_STATUS = 12  # among others: a block of that key is stored with another length
MISMATCH = object()  # read_header's answer for a block of another string key under the same 64-bit key


class Connection:
    """One sidecar connection and its staging buffer (none over TCP: bytes travel in the frames)."""

    def __init__(self, path, host, port, token, timeout, staging_size, max_version=ferry_client.VERSION):
        self.client = FerryClient(path=path, host=host, port=port, token=token, timeout=timeout,
                                  max_version=max_version)
        self.staging = None
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

    def put_block_from(self, bkey, header, allocation, offset, size):
        """Stores header + `size` bytes at `offset` of a host-memory allocation, with no copy of them."""
        if self.named:
            return _named.put_blocks_from(self, [(bkey, header, allocation, offset, size)])[0]
        total = len(header) + size
        try:
            if self.client.put_start([bkey], [total])[0] == 1:
                return 1
        except FerryError as e:
            if e.status != BAD_STATE_STATUS:
                raise
            return 1  # there with another length
        try:
            self.staging.view[0:len(header)] = header
            self.client.write_ranges([(bkey, 0, self.staging_id, 0, len(header)),
                                      (bkey, len(header), self.buffer_id(allocation), offset, size)])
            self.client.put_commit([bkey])
        except BaseException:
            try:
                self.client.put_abort([bkey])
            except (FerryError, OSError):
                pass
            raise
        return 0

    def put_blocks_from(self, entries):
        """put_block_from of each (bkey, header, allocation, offset, size); 0/1 each.

        One PUT_START, one WRITE_RANGE (each header from the staging buffer, each value in place)
        and one PUT_COMMIT for the whole batch when its headers fit the staging buffer and its
        keys are distinct; key by key otherwise, and when a key is stored with another length
        (the sidecar then refuses the whole PUT_START). On an error, the blocks this call started
        are aborted (none is visible) and the error is raised.
        """
        if self.named:
            return _named.put_blocks_from(self, entries)
        bkeys = [e[0] for e in entries]
        if (len(entries) < 2 or len(set(bkeys)) != len(bkeys)
                or sum(len(e[1]) for e in entries) > self.staging.size):
            return [self.put_block_from(*e) for e in entries]
        try:
            answers = self.client.put_start(bkeys, [len(header) + size for _, header, _, _, size in entries])
        except FerryError as e:
            if e.status != BAD_STATE_STATUS:
                raise
            return [self.put_block_from(*e) for e in entries]
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
        return answers

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
    """A put of host memory of the allocator, written by the sidecar where it lies: callable as
    a write of _store, and batchable (Connection.put_blocks_from) by its fields."""

    def __init__(self, c, bkey, header, allocation, offset, size):
        self.c, self.bkey, self.header = c, bkey, header
        self.allocation, self.offset, self.size = allocation, offset, size

    def __call__(self):
        return self.c.put_block_from(self.bkey, self.header, self.allocation, self.offset, self.size)


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
