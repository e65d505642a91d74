"""How `loom.slice` / `loom.update` encode a subscript in their attributes: per source dimension,
`kinds` says what the subscript is; `starts`/`stops`/`steps` hold static parts, NONE for an absent
bound (Python semantics, resolved against the dimension's size). Plain integers, without xDSL:
the checker (compiler/frontend/indexing.py) builds these specs before any IR exists."""

NONE = -(2**63)  # an absent slice bound (Python's `None`) in slice/update attributes
KIND_RANGE = 0  # x[a:b:c] with static (or absent) a, b, c
KIND_WINDOW = 1  # x[i:i+K]: dynamic start operand, static size K (in `stops`), step 1
KIND_INDEX = 2  # x[k], static k (negative counts from the end); drops the dimension
KIND_DYN_INDEX = 3  # x[i], dynamic i (an operand); drops the dimension


def is_whole(spec: tuple[int, int, int, int], size: int) -> bool:
    """A subscript that keeps the whole dimension in order (`x[:]`, `x[0:n]`)."""
    kind, start, stop, step = spec
    return (kind == KIND_RANGE and start in (NONE, 0) and step in (NONE, 1)
            and (stop == NONE or (size >= 0 and stop >= size)))


def static_range(spec: tuple[int, int, int, int], size: int) -> range | None:
    """The positions a static range subscript selects on a dimension of static `size` (Python's
    rules for absent and negative bounds); None for another subscript or a symbolic size."""
    kind, start, stop, step = spec
    if kind != KIND_RANGE or size < 0:
        return None
    return range(*slice(*(None if v == NONE else v for v in (start, stop, step))).indices(size))
