package dev.ferry.store.cli;

import picocli.CommandLine.ITypeConverter;

/** Reads an option's value as {@code 0} (none) or a size in bytes with {@link ByteSizes#parse(String)}. */
public final class SizeOrZeroConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return value.strip().equals("0") ? 0L : ByteSizes.parse(value);
    }
}
