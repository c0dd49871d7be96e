"""Policy pack files with a history, written for a test: a real pack followed by made-up `[[versions]]`
(no council has announced these changes; they exist to test how a change is applied)."""

import shutil
from pathlib import Path

from infrastructure.policy_packs import default_directory

# bcp's experienced workers move from monthly to fortnightly supervision on 1 March 2026 (made up).
BCP_FORTNIGHTLY_FROM_MARCH = """
[[versions]]
effective_from = 2026-03-01

[versions.frequency.experienced]
note = "test version: fortnightly from 1 March 2026"
phases = [{ every = { weeks = 2 } }]
"""


def packs_with_history(folder: Path, name: str = "bcp", versions: str = BCP_FORTNIGHTLY_FROM_MARCH) -> Path:
    """A copy of every real pack in `folder`, with `versions` appended to pack `name`; the folder's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for pack in default_directory().glob("*.toml"):
        shutil.copy(pack, folder / pack.name)
    with (folder / f"{name}.toml").open("a", encoding="utf-8") as file:
        file.write(versions)
    return folder

# ...and from the same day a cancelled session must be re-held within 5 working days (made up; bcp sets none).
BCP_REBOOKING_FROM_MARCH = """
[versions.rebooking.after_cancellation]
days = 5
counting = "working_days"
note = "test version: rebook within 5 working days from 1 March 2026"
"""

# bcp keeps personal supervision files eight years after employment ends from 1 March 2026, not six (made up).
BCP_EIGHT_YEARS_FROM_MARCH = """
[[versions]]
effective_from = 2026-03-01

[versions.retention]
years_after_employment_ends = 8
source = "Test version (made up): supervision records are kept for 8 years after an employee has left."
"""

# ...and its case supervision records eight years after the discussion from the same day (made up).
BCP_CASE_RECORDS_EIGHT_YEARS = """
[versions.record_classes.case_supervision.retention]
years_after_discussion = 8
note = "test version: eight years after the discussion from 1 March 2026"
"""
