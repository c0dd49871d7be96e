"""Commands and queries of the scheduling area, mixed into SupervisionLedger (see api/application.py)."""


class SchedulingService:
    """Methods here may use self.repository, self.save_and_project, self.clock and self.storage."""
