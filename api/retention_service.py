"""Commands and queries of the retention area, mixed into SupervisionLedger (see api/application.py)."""


class RetentionService:
    """Methods here may use self.repository, self.save_and_project, self.clock and self.storage."""
