"""Commands and queries of the access area, mixed into SupervisionLedger (see api/application.py)."""


class AccessService:
    """Methods here may use self.repository, self.save_and_project, self.clock and self.storage."""
