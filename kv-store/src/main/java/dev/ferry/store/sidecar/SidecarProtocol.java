package dev.ferry.store.sidecar;

import dev.ferry.store.block.BlockKey;
import io.netty.buffer.ByteBuf;

/**
 * Constants of the sidecar's binary protocol (docs/protocol.md is the full description).
 * Every integer is little-endian. A frame is a 16-byte header and a body:
 * <pre>
 *   0  u32 length      bytes after this field (12 + body bytes)
 *   4  u16 opcode
 *   6  u16 status      0 in a request; the outcome in a response
 *   8  u64 request id  chosen by the client, echoed in the response
 *  16  body
 * </pre>
 * A connection starts with {@link #HELLO}; answers to pipelined requests may come back in
 * any order, matched by request id.
 *
 * <p>Versions: the client offers a range in HELLO and the sidecar answers the highest
 * version in it that it speaks. Versions 1 and 2 differ only in how a block key is carried:
 * version 1 as a u64, little-endian (key {@code k} is {@link BlockKey#of(long) BlockKey.of(k)});
 * version 2 as 16 bytes, {@link BlockKey}'s form (big-endian, high half first). Every
 * entry with a key is 8 bytes longer in version 2 ({@link #entryBytes}). Version 3 carries
 * keys as version 2 does and adds named blocks: {@link #PUT_NAMED}, {@link #GET_NAMED},
 * {@link #STAT_NAMED} and {@link #REMOVE_BY_REGEX} carry a string key with each block key,
 * the sidecar stores it with the value ({@link NamedBlock}) and compares it on every hit;
 * PUT_OPTIONS takes a soft pin and a preferred segment; HELLO's answer names the sidecar's
 * segment and data address.
 */
public final class SidecarProtocol {
    /** Highest protocol version this build speaks: 16-byte block keys and named blocks. */
    public static final int VERSION = 3;
    /** The first version with named blocks (PUT_NAMED, GET_NAMED, STAT_NAMED, REMOVE_BY_REGEX). */
    public static final int NAMED_VERSION = 3;
    /** Lowest protocol version this build speaks: 8-byte block keys. */
    public static final int MIN_VERSION = 1;
    /** Bytes of the frame header, length field included. */
    public static final int HEADER_BYTES = 16;
    /** Bytes of the header after the length field. */
    public static final int HEADER_AFTER_LENGTH = 12;
    /** Bytes of HELLO's answer body. */
    public static final int HELLO_ANSWER_BYTES = 32;
    /**
     * The request id of answers about the connection rather than one request (a frame too
     * large or cut short, a stall, shutdown); clients number their requests from 1.
     */
    public static final long CONNECTION_ID = 0;

    // Opcodes.
    public static final int HELLO = 1;
    public static final int REGISTER_BUFFER = 2;
    public static final int UNREGISTER_BUFFER = 3;
    public static final int PUT = 4;
    public static final int GET = 5;
    public static final int EXISTS = 6;
    public static final int REMOVE = 7;
    public static final int LOOKUP_PREFIX = 8;
    public static final int PUT_START = 9;
    public static final int WRITE_RANGE = 10;
    public static final int PUT_COMMIT = 11;
    public static final int PUT_ABORT = 12;
    public static final int READ_RANGE = 13;
    public static final int PUT_INLINE = 14;
    public static final int GET_INLINE = 15;
    /** Register a memfd passed with SCM_RIGHTS; answered twice (ready, then the buffer id). */
    public static final int REGISTER_MEMFD = 16;
    /** Remove every block no reader leases (with force, hard-pinned ones too); answers the count. */
    public static final int REMOVE_ALL = 17;
    /** Set how this connection's later puts place and keep their blocks: replicas, hard pin. */
    public static final int PUT_OPTIONS = 18;
    /**
     * Store whole blocks gathered from two parts each (a header in a shared buffer, the value
     * in a shared buffer or in the client's private memory, {@link #PROCESS_MEMORY}): one
     * request, the bytes copied once into the store and checksummed there.
     */
    public static final int PUT_FROM = 19;
    /**
     * Read whole blocks, CRC32C-checked, scattered in two parts each (the first bytes to a
     * shared buffer, the rest to a shared buffer or the client's private memory).
     */
    public static final int GET_INTO = 20;
    /**
     * The buffer id of PUT_FROM and GET_INTO that names the client's own private memory: the
     * offset is then an address in the client's process, reached with process_vm_readv / writev.
     */
    public static final int PROCESS_MEMORY = 0xFFFF_FFFF;
    /** Version 3: stores blocks built from a string key and a value in a buffer; per key stored, there, or another key's. */
    public static final int PUT_NAMED = 22;
    /** Version 3: reads values of string keys into buffers, after comparing the stored key; per key the value's length. */
    public static final int GET_NAMED = 23;
    /** Version 3: the value length of string keys (compared), without reading the values. */
    public static final int STAT_NAMED = 24;
    /** Version 3: removes every block whose string key matches a regular expression; answers the count. */
    public static final int REMOVE_BY_REGEX = 25;
    /** Highest opcode. */
    public static final int MAX_OPCODE = REMOVE_BY_REGEX;

    /** Per-key answer of PUT_NAMED: the block key holds another string key's value (nothing written). */
    public static final byte OTHER_KEY = 2;
    /** Per-key answer of GET_NAMED and STAT_NAMED: missing. */
    public static final long MISSING = -1;
    /** Per-key answer of GET_NAMED and STAT_NAMED: the block key holds another string key's value (a miss). */
    public static final long MISMATCH = -2;
    /** Per-key answer of GET_NAMED: the block does not fit the capacity given (STAT_NAMED tells its length). */
    public static final long TOO_LONG = -3;

    // Status codes.
    public static final int OK = 0;
    public static final int MALFORMED = 1;
    public static final int UNSUPPORTED_VERSION = 2;
    public static final int UNAUTHORIZED = 3;
    public static final int HELLO_REQUIRED = 4;
    public static final int UNKNOWN_OPCODE = 5;
    public static final int NOT_FOUND = 6;
    public static final int UNKNOWN_BUFFER = 7;
    public static final int OUT_OF_RANGE = 8;
    public static final int QUOTA_EXCEEDED = 9;
    public static final int FRAME_TOO_LARGE = 10;
    public static final int NO_SPACE = 11;
    public static final int BAD_STATE = 12;
    public static final int NOT_LOCAL = 13;
    public static final int STORE_ERROR = 14;
    public static final int SHUTTING_DOWN = 15;
    public static final int INTERNAL = 16;
    /**
     * The sidecar may not reach the client's private memory (the kernel refused
     * process_vm_readv / writev, the client is not on the Unix socket, or the sidecar was
     * started with {@code --no-process-memory}): nothing was done; use shared buffers.
     */
    public static final int NO_PROCESS_ACCESS = 17;
    /** Highest status code. */
    public static final int MAX_STATUS = NO_PROCESS_ACCESS;

    // Entry sizes of batch bodies in version 1 (8-byte keys), bytes; see entryBytes for version 2.
    /** PUT entry: key, buffer u32, pad u32, offset u64, length u64. */
    public static final int PUT_ENTRY = 32;
    /** GET entry: key, buffer u32, pad u32, offset u64, capacity u64. */
    public static final int GET_ENTRY = 32;
    /** PUT_START and PUT_INLINE entry: key, length u64. */
    public static final int SIZED_KEY_ENTRY = 16;
    /** WRITE_RANGE and READ_RANGE entry: key, block offset u64, buffer u32, pad u32, buffer offset u64, length u64. */
    public static final int RANGE_ENTRY = 40;
    /** PUT_NAMED and GET_NAMED entry (version 3): key (16), buffer u32, name length u32, offset u64, length u64. */
    public static final int NAMED_ENTRY = 40;
    /** STAT_NAMED entry (version 3): key (16), name length u32. */
    public static final int STAT_ENTRY = 20;

    /**
     * PUT_FROM and GET_INTO entry: key, header buffer u32, value buffer u32, header offset u64,
     * header length u64, value offset (or address) u64, value length (or capacity) u64.
     */
    public static final int TWO_PART_ENTRY = 48;
    private static final String[] OPCODE_NAMES = {"?", "hello", "register_buffer", "unregister_buffer", "put", "get",
        "exists", "remove", "lookup_prefix", "put_start", "write_range", "put_commit", "put_abort", "read_range",
        "put_inline", "get_inline", "register_memfd", "remove_all", "put_options", "put_from", "get_into"};
    private static final String[] STATUS_NAMES = {"OK", "MALFORMED", "UNSUPPORTED_VERSION", "UNAUTHORIZED",
        "HELLO_REQUIRED", "UNKNOWN_OPCODE", "NOT_FOUND", "UNKNOWN_BUFFER", "OUT_OF_RANGE", "QUOTA_EXCEEDED",
        "FRAME_TOO_LARGE", "NO_SPACE", "BAD_STATE", "NOT_LOCAL", "STORE_ERROR", "SHUTTING_DOWN", "INTERNAL", "NO_PROCESS_ACCESS"};

    private SidecarProtocol() {
    }

    /** Bytes of a block key in {@code version}: 8 in version 1, 16 from version 2. */
    public static int keyBytes(int version) {
        return version >= 2 ? BlockKey.BYTES : Long.BYTES;
    }

    /** Bytes of an entry in {@code version}, given its size in version 1 (e.g. {@link #PUT_ENTRY}). */
    public static int entryBytes(int version1Entry, int version) {
        return version1Entry - Long.BYTES + keyBytes(version);
    }

    /**
     * Reads a block key as {@code version} carries it; the caller has checked the bytes are there.
     */
    public static BlockKey readKey(ByteBuf buf, int version) {
        return version >= 2 ? BlockKey.read(buf) : BlockKey.of(buf.readLongLE());
    }

    /**
     * Writes a block key as {@code version} carries it, at the position of {@code buf} (a
     * little-endian buffer, as every frame is).
     *
     * @throws IllegalArgumentException when version 1 is asked to carry a key wider than 64 bits
     */
    public static java.nio.ByteBuffer writeKey(java.nio.ByteBuffer buf, BlockKey key, int version) {
        if (version >= 2) {
            return key.write(buf);
        }
        if (!key.isNarrow()) {
            throw new IllegalArgumentException("sidecar protocol version 1 carries 64-bit block keys only, not " + key);
        }
        return buf.putLong(key.lo());
    }

    /** Lower-case name of an opcode ("put"), or "unknown". */
    public static String opcodeName(int opcode) {
        return switch (opcode) {
            case PUT_NAMED -> "put_named";
            case GET_NAMED -> "get_named";
            case STAT_NAMED -> "stat_named";
            case REMOVE_BY_REGEX -> "remove_by_regex";
            default -> opcode > 0 && opcode < OPCODE_NAMES.length ? OPCODE_NAMES[opcode] : "unknown";
        };
    }

    /** Name of a status code ("NOT_FOUND"), or "STATUS_n". */
    public static String statusName(int status) {
        return status >= 0 && status < STATUS_NAMES.length ? STATUS_NAMES[status] : "STATUS_" + status;
    }
}
