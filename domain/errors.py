"""What the domain refuses, and why. The edge turns these into 4xx answers."""


class DomainError(Exception):
    """A command the domain refuses; the message says what was wrong, and `field` (when one input was) which
    input, so that a form can put the message beside it."""

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


class NotPermitted(DomainError):
    """The actor may not take this step (wrong person for the step)."""


class OutOfOrder(DomainError):
    """The step is not allowed in the record's current state."""


class StaleVersion(DomainError):
    """The actor acted on a version that is no longer the current one."""


class InvalidContent(DomainError):
    """Content that breaks a rule (e.g. a case referenced by a full name)."""
