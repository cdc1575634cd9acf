"""Small statistics for the staff console's figures."""

import math


def percentiles(values: list[int]) -> dict[str, int | None]:
    """Median and 90th percentile (nearest rank) of `values`, with their count."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "median": None, "p90": None}

    def rank(fraction: float) -> int:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]

    return {"count": len(ordered), "median": rank(0.5), "p90": rank(0.9)}
