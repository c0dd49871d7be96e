"""What the domain refuses, and why. The edge turns these into 4xx answers."""


class DomainError(Exception):
    """A command the domain refuses; the message says what was wrong."""


class NotPermitted(DomainError):
    """The actor may not take this step (wrong person for the step)."""


class OutOfOrder(DomainError):
    """The step is not allowed in the record's current state."""


class StaleVersion(DomainError):
    """The actor acted on a version that is no longer the current one."""


class InvalidContent(DomainError):
    """Content that breaks a rule (e.g. a case referenced by a full name)."""
