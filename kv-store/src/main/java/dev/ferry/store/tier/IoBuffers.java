package dev.ferry.store.tier;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;
import org.rocksdb.WriteBatch;

/**
 * What one tier I/O thread reuses for every call, so that a put or get allocates no
 * buffers: direct buffers for a key and a metadata record, a write batch (cleared between
 * uses; it keeps its capacity), and a CRC32C.
 *
 * <p>Confined to its thread. Owns a native write batch: closed when the tier closes.
 */
final class IoBuffers implements AutoCloseable {
    final ByteBuffer key = ByteBuffer.allocateDirect(MetaRecord.KEY_BYTES);
    final ByteBuffer victimKey = ByteBuffer.allocateDirect(MetaRecord.KEY_BYTES);
    final ByteBuffer meta = ByteBuffer.allocateDirect(MetaRecord.BYTES);
    final WriteBatch batch = new WriteBatch();
    final CRC32C crc = new CRC32C();

    /** CRC32C of the bytes between {@code bytes}' position and limit; leaves {@code bytes} as it was. */
    int crc32c(ByteBuffer bytes) {
        int position = bytes.position();
        crc.reset();
        crc.update(bytes);
        bytes.position(position);
        return (int) crc.getValue();
    }

    @Override
    public void close() {
        batch.close();
    }
}
