"""Finding every match of a pattern in an Arrow array, and the array helpers validators share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def find_all(values: pa.Array, pattern: str) -> tuple[pa.Array, np.ndarray]:
    """Every non-overlapping match of ``pattern`` in each value (like ``re.finditer``), flattened.

    Returns the matches, in value order, and for each the index of the value it came from.
    Values with one match (nearly all) are extracted directly. RE2 extracts only the first match
    of a value, so for the others one global replace keeps the matches, separated by a control
    character that no scan pattern matches, and drops the text between them.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.fill_null(pc.count_substring_regex(values, pattern), 0).to_numpy(zero_copy_only=False)
    single, several = np.flatnonzero(counts == 1), np.flatnonzero(counts > 1)
    matches = [pc.extract_regex(values.take(single), pattern=f"(?P<m>{pattern})").field("m")]
    parents = [single]
    if len(several):
        marked = pc.replace_substring_regex(
            values.take(several), pattern=f"(?s:.*?)({pattern})|(?s:.+)", replacement="\\1\x1f"
        )
        parts = pc.split_pattern(marked, pattern="\x1f")
        flat = pc.list_flatten(parts)
        keep = pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False).astype(bool)
        matches.append(flat.filter(keep))
        parents.append(several[pc.list_parent_indices(parts).to_numpy()[keep]])
    parent = np.concatenate(parents)
    order = np.argsort(parent, kind="stable")
    flat_matches = pa.concat_arrays([m.cast(pa.large_string()) for m in matches])
    return flat_matches.take(order), parent[order]


def char_matrix(values: pa.Array, width: int, *, right: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of each (ASCII) value in a row of a ``(n, width)`` uint8 matrix, zero-padded.

    ``right`` aligns the last ``width`` bytes to the right edge (for checksums read from the
    right); otherwise the first ``width`` bytes start at the left edge. Also returns the lengths.
    """
    import numpy as np
    import pyarrow as pa

    values = values.cast(pa.large_string())
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[values.offset : values.offset + n + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    kept = np.minimum(lengths, width)
    matrix = np.zeros((n, width), dtype=np.uint8)
    if kept.sum():
        rows = np.repeat(np.arange(n), kept)
        position = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
        first = offsets[:-1] + (lengths - kept if right else 0)
        source = np.repeat(first, kept) + position
        column = position + (np.repeat(width - kept, kept) if right else 0)
        matrix[rows, column] = data[source]
    return matrix, lengths


def _digits(matches: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.replace_substring_regex(matches, pattern=r"[^0-9]", replacement="")


def _lengths(values: pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.utf8_length(values).to_numpy(zero_copy_only=False)


def _groups(matches: pa.Array, anchored: str) -> dict[str, pa.Array]:
    """Named groups of an anchored pattern over every match (null where it does not match)."""
    import pyarrow.compute as pc

    struct = pc.extract_regex(matches, pattern=anchored)
    return {struct.type.field(i).name: struct.field(i) for i in range(struct.type.num_fields)}


def _ints(values: pa.Array) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.fill_null(values, "-1"), pa.int64()).to_numpy(zero_copy_only=False)


def _per_unique(matches: pa.Array, valid: Callable[[str], bool]) -> np.ndarray:
    """Run a Python validator once per distinct candidate (for rare, hard-to-vectorise entities)."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(matches)
    verdict = np.array([valid(v) for v in encoded.dictionary.to_pylist()], dtype=bool)
    return verdict[encoded.indices.to_numpy(zero_copy_only=False)] if len(verdict) else np.zeros(len(matches), bool)
