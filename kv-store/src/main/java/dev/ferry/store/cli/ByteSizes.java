package dev.ferry.store.cli;

import java.util.Locale;

/**
 * Parses sizes written as {@code 4096}, {@code 64KiB}, {@code 4MiB}, {@code 1GiB}, {@code 1TiB} (also KB, MB, GB, TB as
 * powers of 1024): the one parser of every size a Ferry command takes. Stateless, thread-safe.
 */
public final class ByteSizes {
    private ByteSizes() {
    }

    /**
     * @return a rate in bytes per second: a size as {@link #parse(String)} reads it, or {@code 0} (off)
     * @throws IllegalArgumentException naming the text when it is neither 0 nor a positive size
     */
    public static long parseRate(String text) {
        return "0".equals(text.trim()) ? 0 : parse(text);
    }

    /** @return the size in bytes, at least 1 @throws IllegalArgumentException naming the text when it is not a positive size */
    public static long parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long unit = 1;
        if (t.endsWith("k")) {
            unit = 1L << 10;
        } else if (t.endsWith("m")) {
            unit = 1L << 20;
        } else if (t.endsWith("g")) {
            unit = 1L << 30;
        } else if (t.endsWith("t")) {
            unit = 1L << 40;
        }
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        try {
            long value = Math.multiplyExact(Long.parseLong(digits.trim()), unit);
            if (value < 1) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("expected a size such as 65536, 64KiB or 4MiB, got '" + text + "'");
        }
    }
}
