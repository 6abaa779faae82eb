"""Query parameters checked once, with messages a caller can act on (400, never 500)."""

from catalog.errors import InvalidRequest


def int_param(request, name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter ``name`` within [low, high], or ``default`` when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}")
    return value
