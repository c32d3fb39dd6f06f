"""Human-readable sizes as Mooncake's config accepts them: 16777216, "16MB", "16 MB", "1GiB"."""

import re

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value):
    """Bytes of an int or a string such as "16MB", "16 MB", "1GiB", "1.5GB" (KB, MB, GB, TB are powers of 1024).

    Raises ValueError for anything else (a percentage, a negative number, an unknown unit).
    """
    if isinstance(value, bool):
        raise ValueError("expected a size, got %r" % (value,))
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative: %d" % value)
        return value
    if not isinstance(value, str):
        raise ValueError("expected a size, got %r" % (value,))
    match = _SIZE.match(value)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if unit is None:
        raise ValueError("expected a size such as 16777216, '16MB' or '1GiB', got %r" % value)
    return int(float(match.group(1)) * unit)
