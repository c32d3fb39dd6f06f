package dev.ferry.store.sidecar;

/**
 * CRC32C of a concatenation from the CRC32C of its parts, without the bytes: what lets a
 * block written in ranges (layer by layer) get its whole-block checksum at commit. The
 * algorithm is zlib's {@code crc32_combine} (Mark Adler; multiplication modulo the CRC
 * polynomial by {@code x^(8 * len2)}), over the reflected Castagnoli polynomial.
 *
 * <p>Stateless; thread-safe; does not allocate.
 */
final class Crc32cCombine {
    private static final int POLY = 0x82F63B78;
    /** X2N[k] = x^(2^k) mod p. */
    private static final int[] X2N = new int[32];

    static {
        int p = 1 << 30; // x^1
        X2N[0] = p;
        for (int k = 1; k < 32; k++) {
            p = multiply(p, p);
            X2N[k] = p;
        }
    }

    private Crc32cCombine() {
    }

    /**
     * @param crc1 CRC32C of the first part
     * @param crc2 CRC32C of the second part
     * @param len2 length of the second part, bytes (at least 0)
     * @return CRC32C of the first part followed by the second
     */
    static int combine(int crc1, int crc2, long len2) {
        return multiply(xPow8n(len2), crc1) ^ crc2;
    }

    /** x^(8n) mod p. */
    private static int xPow8n(long n) {
        int p = 1 << 31; // x^0
        int k = 3;
        while (n != 0) {
            if ((n & 1) != 0) {
                p = multiply(X2N[k & 31], p);
            }
            n >>>= 1;
            k++;
        }
        return p;
    }

    /** a * b mod p, reflected. */
    private static int multiply(int a, int b) {
        int m = 1 << 31;
        int p = 0;
        while (true) {
            if ((a & m) != 0) {
                p ^= b;
                if ((a & (m - 1)) == 0) {
                    break;
                }
            }
            m >>>= 1;
            b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
        }
        return p;
    }
}
