"""The read plan of Mooncake's ``get_tensor_dim_selection_into``: which byte ranges of a
stored C-order tensor (of a shape and dtype the caller names, starting ``data_offset``
bytes into the value) make up the tensor with one dimension re-indexed by a list of
selection operations, and where each range lands in the destination.

A selection is ``(op, value)``, ``{"op": op, "value": value}`` or an object with ``op`` and
``value`` attributes (``mooncake.remote_tensor_batch.TensorDimSelection``); they apply in
order, each to the indices the previous ones left:

    ("select_idxs", [i, ...])        those positions (negative ones count from the end), or
                                     with only bools a mask as long as the current dimension
    ("slice", (start, end, step))    Python's slice of the current positions (None allowed)
    ("repeat", (times, interleave))  each position ``times`` times in a row (interleave), or
                                     the whole list ``times`` times over
    ("cat", [[selection, ...], ...]) the concatenation of each group's selections, each group
                                     applied to the current positions on its own

Standard library only. Bad input raises ValueError (TypeError for a value of the wrong type)
with a message that names the problem. Thread-safe: nothing is shared.
"""

import operator

# Bytes per element of the dtypes Mooncake names (torch's names, "torch." prefix optional).
DTYPE_SIZES = {"bool": 1, "uint8": 1, "int8": 1, "float8_e4m3fn": 1, "float8_e5m2": 1, "int16": 2, "uint16": 2,
               "float16": 2, "bfloat16": 2, "int32": 4, "uint32": 4, "float32": 4, "int64": 8, "uint64": 8,
               "float64": 8}
MAX_INDICES = 1 << 20  # positions one selection may produce, and ranges one read may plan
MAX_OUTPUT_BYTES = 64 << 30


def dtype_size(dtype):
    """Bytes per element of a dtype name ("float16", "torch.float16", any case) or torch dtype."""
    name = str(dtype).lower()
    if name.startswith("torch."):
        name = name[len("torch."):]
    if name not in DTYPE_SIZES:
        raise ValueError("unsupported dtype %r (one of %s)" % (dtype, ", ".join(sorted(DTYPE_SIZES))))
    return DTYPE_SIZES[name]


def _integer(value, what):
    if isinstance(value, bool):
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, not %s" % (what, type(value).__name__)) from None


def _op_and_value(selection):
    if isinstance(selection, dict):
        if "op" not in selection or "value" not in selection:
            raise ValueError("a selection dict needs 'op' and 'value'")
        return selection["op"], selection["value"]
    if isinstance(selection, (tuple, list)):
        if len(selection) != 2:
            raise ValueError("a selection tuple has 2 items (op, value), not %d" % len(selection))
        return selection[0], selection[1]
    if hasattr(selection, "op") and hasattr(selection, "value"):
        return selection.op, selection.value
    raise TypeError("a selection is (op, value), a dict or a TensorDimSelection, not %s" % type(selection).__name__)


def _sequence(value, what):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise TypeError("%s must be a sequence, not %s" % (what, type(value).__name__))
    return list(value)


def _checked(count, what):
    if count > MAX_INDICES:
        raise ValueError("%s selects %d positions, more than %d" % (what, count, MAX_INDICES))
    return count


def selected_positions(dim_size, selections):
    """The source positions along the dimension, in output order: a range when no selection
    applies, else a list; ValueError / TypeError for a bad selection."""
    dim_size = _integer(dim_size, "the dimension size")
    if dim_size < 0:
        raise ValueError("the dimension size must be non-negative, not %d" % dim_size)
    current = range(dim_size)
    if selections is None:
        return current
    for selection in _sequence(selections, "selections"):
        op, value = _op_and_value(selection)
        current = _apply(current, op, value)
    return current


def _apply(current, op, value):
    if op == "select_idxs":
        indices = _sequence(value, "select_idxs' value")
        _checked(len(indices), "select_idxs")
        if indices and all(isinstance(i, bool) for i in indices):
            if len(indices) != len(current):
                raise ValueError("a bool mask has %d items for a dimension of %d" % (len(indices), len(current)))
            return [p for p, keep in zip(current, indices) if keep]
        chosen = []
        for i in indices:
            i = _integer(i, "a select_idxs index")
            if not -len(current) <= i < len(current):
                raise ValueError("select index %d is out of range for a dimension of %d" % (i, len(current)))
            chosen.append(current[i])
        return chosen
    if op == "slice":
        bounds = _sequence(value, "slice's value")
        if len(bounds) != 3:
            raise ValueError("slice's value is (start, end, step), not %d items" % len(bounds))
        start, end, step = (None if b is None else _integer(b, "a slice bound") for b in bounds)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        return list(current[slice(start, end, step)])
    if op == "repeat":
        args = _sequence(value, "repeat's value")
        if len(args) != 2:
            raise ValueError("repeat's value is (repeat_times, interleave), not %d items" % len(args))
        times = _integer(args[0], "repeat_times")
        if times < 0:
            raise ValueError("repeat_times must be non-negative, not %d" % times)
        _checked(len(current) * times, "repeat")
        if bool(args[1]):
            return [p for p in current for _ in range(times)]
        return list(current) * times
    if op == "cat":
        joined = []
        for group in _sequence(value, "cat's value"):
            picked = selected_positions(len(current), group)
            _checked(len(joined) + len(picked), "cat")
            joined.extend(current[p] for p in picked)
        return joined
    raise ValueError("unsupported selection op %r (select_idxs, slice, repeat, cat)" % (op,))


def plan(shape, dtype, dim, selections, data_offset):
    """(output bytes, [(dst offset, src offset, bytes), ...]) of a selection read, adjacent
    ranges merged: dst offsets count from the start of the destination, src offsets from the
    start of the stored value. ValueError / TypeError for bad arguments."""
    shape = [_integer(d, "a shape extent") for d in _sequence(shape, "shape")]
    if not shape:
        raise ValueError("shape must have at least one dimension")
    if any(d < 0 for d in shape):
        raise ValueError("shape extents must be non-negative: %s" % (shape,))
    dim = _integer(dim, "dim")
    if not -len(shape) <= dim < len(shape):
        raise ValueError("dim %d is out of range for %d dimensions" % (dim, len(shape)))
    dim %= len(shape)
    data_offset = _integer(data_offset, "data_offset")
    if data_offset < 0:
        raise ValueError("data_offset must be non-negative, not %d" % data_offset)
    positions = selected_positions(shape[dim], selections)
    inner = dtype_size(dtype)
    for d in shape[dim + 1:]:
        inner *= d
    outer = 1
    for d in shape[:dim]:
        outer *= d
    output = outer * len(positions) * inner
    if output > MAX_OUTPUT_BYTES:
        raise ValueError("the selection is %d bytes, more than %d" % (output, MAX_OUTPUT_BYTES))
    ranges = []
    if output == 0:
        return 0, ranges
    if outer * len(positions) > MAX_INDICES:
        raise ValueError("the selection reads %d ranges, more than %d" % (outer * len(positions), MAX_INDICES))
    span = shape[dim] * inner
    dst = 0
    for o in range(outer):
        base = data_offset + o * span
        for p in positions:
            src = base + p * inner
            if ranges and ranges[-1][0] + ranges[-1][2] == dst and ranges[-1][1] + ranges[-1][2] == src:
                last = ranges[-1]
                ranges[-1] = (last[0], last[1], last[2] + inner)
            else:
                ranges.append((dst, src, inner))
            dst += inner
    return output, ranges
