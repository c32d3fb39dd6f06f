package dev.ferry.store.cli;

import picocli.CommandLine.ITypeConverter;

/** Reads an option's value as a size in bytes with {@link ByteSizes#parse(String)} ({@code 4GiB}, {@code 65536}). */
public final class SizeConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return ByteSizes.parse(value);
    }

    /** Reads a rate in bytes per second with {@link ByteSizes#parseRate(String)}: a size, or 0 for off. */
    public static final class Rate implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return ByteSizes.parseRate(value);
        }
    }
}
