"""Named blocks on a sidecar of protocol version 3, as ferry.connection uses them.

The sidecar writes each string key's header (module ferry.keys: magic, key length, value
length, key) before the value itself and compares the key on every hit: a block of another
string key that shares the block key is answered as such (OTHER_KEY on a put, MISMATCH on a
read, its bytes zeroed), never as this key's value. Values move as before: through the
connection's staging buffer, in place from host memory of the allocator, or in the frames
over TCP. Functions of one Connection; not thread-safe (a connection serves one call at a
time).
"""

from ferry_client import INLINE, MISSING, OTHER_KEY, TOO_LONG, MemfdBuffer

from . import keys as _keys
from .codes import INVALID_PARAMS, TRANSFER_FAIL, Failed

FRAME_SLACK = 64  # bytes of a frame besides its names and values: header, count, one entry


def key_bytes_of(header):
    """The string key's bytes of a header built by ferry.keys.header."""
    return bytes(header[_keys.FIXED:])


def _taken(answer):
    """put_named's answer as put_block's: 0 stored, 1 the block key was taken (this key's value or another's)."""
    return 1 if answer == OTHER_KEY else answer


def put_block(c, bkey, header, parts):
    """One value (the concatenation of parts) under the string key of header; 0 stored, 1 taken."""
    kb = key_bytes_of(header)
    size = sum(len(p) for p in parts)
    if c.staging is None:
        if size + len(kb) + FRAME_SLACK > c.client.max_frame_bytes:
            raise Failed(INVALID_PARAMS)  # over TCP a value travels in one frame
        return _taken(c.client.put_named([(bkey, kb, INLINE, 0, size)], b"".join(bytes(p) for p in parts))[0])
    if size <= c.staging.size:
        _lay_out(c.staging, 0, parts)
        return _taken(c.client.put_named([(bkey, kb, c.staging_id, 0, size)])[0])
    with MemfdBuffer(size, "ferry-large-put") as big:
        big_id = c.client.register_buffer(big)
        try:
            _lay_out(big, 0, parts)
            return _taken(c.client.put_named([(bkey, kb, big_id, 0, size)])[0])
        finally:
            c.client.unregister_buffer(big_id)


def put_blocks(c, entries):
    """put_block of each (bkey, header, parts): one request when the values fit the staging buffer."""
    sizes = [sum(len(p) for p in parts) for _, _, parts in entries]
    if c.staging is None or len(entries) < 2 or sum(sizes) > c.staging.size:
        return [put_block(c, bkey, header, parts) for bkey, header, parts in entries]
    named, at = [], 0
    for (bkey, header, parts), size in zip(entries, sizes):
        _lay_out(c.staging, at, parts)
        named.append((bkey, key_bytes_of(header), c.staging_id, at, size))
        at += size
    return [_taken(a) for a in c.client.put_named(named)]


def put_blocks_from(c, entries):
    """Values of host memory of the allocator, each (bkey, header, allocation, offset, size),
    written by the sidecar where they lie: one request for the whole batch; 0/1 each."""
    if not entries:
        return []
    named = [(bkey, key_bytes_of(header), c.buffer_id(allocation), offset, size)
             for bkey, header, allocation, offset, size in entries]
    return [_taken(a) for a in c.client.put_named(named)]


def read_block(c, bkey, kb, consume):
    """consume(view of the whole block: header, then value) of the string key, None when
    missing, ferry.connection.MISMATCH for another key's block."""
    from .connection import MISMATCH
    n = _keys.header_length(kb)
    if c.staging is None:
        lengths, values = c.client.get_named([(bkey, kb, INLINE, 0, c.client.max_frame_bytes - FRAME_SLACK - n)])
        if lengths[0] == TOO_LONG:
            raise Failed(INVALID_PARAMS)  # over TCP a value travels in one frame
        if lengths[0] < 0:
            return None if lengths[0] == MISSING else MISMATCH
        return consume(memoryview(_keys.header(kb, lengths[0]) + values[0]))
    for _ in range(3):  # the block may be replaced by a longer one between the calls
        lengths, _ = c.client.get_named([(bkey, kb, c.staging_id, 0, c.staging.size)])
        if lengths[0] >= 0:
            return consume(c.staging.view[0:n + lengths[0]])
        if lengths[0] != TOO_LONG:
            return None if lengths[0] == MISSING else MISMATCH
        value = c.client.stat_named([bkey], [kb])[0]
        if value < 0:
            return None if value == MISSING else MISMATCH
        with MemfdBuffer(n + value, "ferry-large-get") as big:
            big_id = c.client.register_buffer(big)
            try:
                lengths, _ = c.client.get_named([(bkey, kb, big_id, 0, big.size)])
            finally:
                c.client.unregister_buffer(big_id)
            if lengths[0] >= 0:
                return consume(big.view[0:n + lengths[0]])
            if lengths[0] != TOO_LONG:
                return None if lengths[0] == MISSING else MISMATCH
    raise Failed(TRANSFER_FAIL)


def read_blocks(c, bkeys, key_bytes_list, consume):
    """[consume(i, view of block i), None (missing) or MISMATCH]: one request when each block
    fits an equal share of the staging buffer, the others then one by one."""
    from .connection import MISMATCH
    if c.staging is None or len(bkeys) < 2:
        return [read_block(c, bkey, kb, lambda view, i=i: consume(i, view))
                for i, (bkey, kb) in enumerate(zip(bkeys, key_bytes_list))]
    share = c.staging.size // len(bkeys)
    lengths, _ = c.client.get_named([(bkey, kb, c.staging_id, i * share, share)
                                     for i, (bkey, kb) in enumerate(zip(bkeys, key_bytes_list))])
    out = []
    for i, (bkey, kb, length) in enumerate(zip(bkeys, key_bytes_list, lengths)):
        if length >= 0:
            at = i * share
            out.append(consume(i, c.staging.view[at:at + _keys.header_length(kb) + length]))
        elif length == TOO_LONG:
            out.append(None)  # read below, once the views handed out are done with
        else:
            out.append(None if length == MISSING else MISMATCH)
    for i, length in enumerate(lengths):
        if length == TOO_LONG:
            out[i] = read_block(c, bkeys[i], key_bytes_list[i], lambda view, i=i: consume(i, view))
    return out


def read_headers(c, bkeys, key_bytes_list):
    """Per string key its value's length, None when missing, MISMATCH for another key's block:
    one request (STAT_NAMED), in frames of at most max_frame_bytes."""
    from .connection import MISMATCH
    out, start = [], 0
    while start < len(bkeys):
        end, size = start, FRAME_SLACK
        while end < len(bkeys) and (end == start or size + 20 + len(key_bytes_list[end]) < c.client.max_frame_bytes):
            size += 20 + len(key_bytes_list[end])
            end += 1
        for length in c.client.stat_named(bkeys[start:end], key_bytes_list[start:end]):
            out.append(length if length >= 0 else None if length == MISSING else MISMATCH)
        start = end
    return out


def _lay_out(buf, at, parts):
    for p in parts:
        buf.view[at:at + len(p)] = p
        at += len(p)

