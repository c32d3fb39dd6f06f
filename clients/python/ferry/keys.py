"""How a Mooncake string key becomes a Ferry block, the one place of that rule.

A string key maps to the 128-bit digest ``blake2b(key.encode("utf-8"), digest_size=16)``:
on a sidecar of protocol version 2 the block key is the digest's 16 bytes, whole; a sidecar
of version 1 (64-bit keys, earlier builds) gets
``int.from_bytes(digest[:8], "little")``. The stored block carries the full string as well,
so that a reader tells two strings of one block key apart (a guard: with 128 bits a
collision is not expected). A block is:

    offset 0   4 bytes   magic b"FRK1"
    offset 4   u32 LE    key length in bytes (UTF-8)
    offset 8   u64 LE    value length in bytes
    offset 16  key bytes
    then       value bytes

A reader compares magic, key and lengths on every hit; a block of another key (or not of this
format) is a miss to it, never its bytes. A sidecar of protocol version 3 writes this header
itself and compares it before answering (named blocks, module ferry.named); on earlier ones
ferry.mooncake writes and compares it.
"""

import hashlib
import struct

MAGIC = b"FRK1"
_HEADER = struct.Struct("<4sIQ")
FIXED = _HEADER.size  # 16


def namespace(tenant_id):
    """The bytes that precede the keys of a tenant (Mooncake's setup(tenant_id=...)): none for
    "default" (and ""), else 0xFF, the tenant's UTF-8 bytes, 0xFF. No UTF-8 text holds a 0xFF
    byte, so a tenant's keys never equal another tenant's, nor the default one's."""
    if tenant_id in ("", "default"):
        return b""
    return b"\xff" + tenant_id.encode("utf-8") + b"\xff"


def block_key(key_bytes, version=1):
    """The Ferry block key of a UTF-8 encoded string key, for a sidecar of protocol `version`.

    Version 2 and later: the 16 bytes of the digest (a 128-bit key, as FerryClient takes it);
    version 1: the 64-bit int of its first 8 bytes, little-endian.
    """
    digest = hashlib.blake2b(key_bytes, digest_size=16).digest()
    if version >= 2:
        return digest
    return int.from_bytes(digest[:8], "little")


def header(key_bytes, value_length):
    """The bytes that precede the value in the stored block."""
    return _HEADER.pack(MAGIC, len(key_bytes), value_length) + key_bytes


def header_length(key_bytes):
    return FIXED + len(key_bytes)


def value_length(block_prefix, key_bytes, block_length=None):
    """The value length a block holding `key_bytes` declares, or None when the block is another key's.

    `block_prefix` holds at least the header's bytes; `block_length`, when known, must match
    the header's lengths exactly.
    """
    n = header_length(key_bytes)
    if len(block_prefix) < n:
        return None
    magic, key_len, value_len = _HEADER.unpack_from(block_prefix)
    if magic != MAGIC or key_len != len(key_bytes) or bytes(block_prefix[FIXED:n]) != key_bytes:
        return None
    if block_length is not None and block_length != n + value_len:
        return None
    return value_len
