"""Demo additions for case supervision records (bcp keeps them apart from personal supervision): two for Chloe
Evans, recorded by her supervisor Daniel Okafor through the same commands as anyone. One, migrated from the paper
file, was discussed in January 2020 and its decision is on the child's record: past bcp's six years from the
discussion, so it is due for destruction under the class's own retention. The other was discussed two days ago and
its decision is still to be put on the child's record. Loaded once: nothing if any case supervision record exists.
"""

from datetime import date, timedelta

from sqlalchemy import func, select

from api import demo_cast as cast
from api.application import SupervisionApplication
from projections.case_records import case_records

WORKER, SUPERVISOR = "Chloe Evans", "Daniel Okafor"


def load_case_records_demo(app: SupervisionApplication, names: dict[str, str]) -> dict:
    if app.policy.policy_pack.record_classes.case_supervision is None or WORKER not in names:
        return {"loaded": False}
    with app.storage.engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(case_records)).scalar_one():
            return {"loaded": False}
    worker, daniel = names[WORKER], cast.supervisor(names[SUPERVISOR])
    old = app.case_records.record_case_supervision(
        daniel, worker_id=worker, case_reference="LCS 40718", discussed_on=date(2020, 1, 14),
        discussion="Migrated from the paper supervision file. Reviewed the child protection plan after the core "
                   "group meeting; attendance at school has improved.",
        decisions="Step down to a child in need plan at the next review conference.")
    app.case_records.confirm_case_decision(daniel, old.id, childs_record_reference="Case note 71502",
                                           recorded_on=date(2020, 1, 16))
    recent = app.case_records.record_case_supervision(
        daniel, worker_id=worker, case_reference="LCS 55821", discussed_on=app.clock().date() - timedelta(days=2),
        discussion="Worries about neglect: the school reports missed lunches and two late collections this month.",
        decisions="Strategy discussion requested; home visit within five working days.")
    return {"loaded": True, "records": [str(old.id), str(recent.id)]}
