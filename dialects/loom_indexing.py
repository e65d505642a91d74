"""How `loom.slice` / `loom.update` encode a subscript in their attributes: per source dimension,
`kinds` says what the subscript is; `starts`/`stops`/`steps` hold static parts, NONE for an absent
bound (Python semantics, resolved against the dimension's size). Plain integers, without xDSL:
the checker (compiler/frontend/indexing.py) builds these specs before any IR exists."""

NONE = -(2**63)  # an absent slice bound (Python's `None`) in slice/update attributes
KIND_RANGE = 0  # x[a:b:c] with static (or absent) a, b, c
KIND_WINDOW = 1  # x[i:i+K]: dynamic start operand, static size K (in `stops`), step 1
KIND_INDEX = 2  # x[k], static k (negative counts from the end); drops the dimension
KIND_DYN_INDEX = 3  # x[i], dynamic i (an operand); drops the dimension
