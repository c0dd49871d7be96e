"""Read model: retention schedule (filled in by its issue). Tables go on projections.schema.read_models."""

from collections.abc import Callable
from typing import Any

HANDLERS: dict[type, Callable[[Any, Any], None]] = {}
