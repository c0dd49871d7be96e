"""The query behind the index of records a reader may list (`GET /records`, `svl records`), beside the
current-records and worker-files read models it reads: the scopes come from domain/authorisation.py
(`listing_scopes`), this only says them in SQL.

Plain SQL text with `:name` parameters, importing nothing beyond the standard library: the application runs it
through SQLAlchemy (typed by `current_records`' columns), and `svl records` runs it with the database driver
alone (infrastructure/plain_reads.py), so that listing starts without importing SQLAlchemy or the application.
"""

from collections.abc import Sequence

from domain.authorisation import ListedBy, ListingScope

# The column each kind of scope matches: `sup` is the supervisee's row in workers, `boss` their supervisor's.
_COLUMN = {ListedBy.SUPERVISEE: "cr.supervisee_id", ListedBy.SUPERVISOR: "sup.supervisor_id",
           ListedBy.LINE_MANAGER: "boss.supervisor_id", ListedBy.RECORD: "cr.record_id"}


def listing_query(scopes: Sequence[ListingScope]) -> tuple[str, dict[str, str]]:
    """SELECT every column of current_records (in the table's order) for the records within any scope, by
    session date then record id. `scopes` must not be empty (an empty listing needs no query)."""
    if not scopes:
        raise ValueError("no scope: nothing may be listed, so there is nothing to ask the database")
    conditions, params = [], {}
    for n, scope in enumerate(scopes):
        params[f"id{n}"] = scope.id
        within = f"{_COLUMN[scope.by]} = :id{n}"
        conditions.append(within if scope.archived_too else f"({within} AND sup.state != 'archived')")
    sql = ("SELECT cr.* FROM current_records AS cr "
           "JOIN workers AS sup ON sup.worker_id = cr.supervisee_id "
           "LEFT OUTER JOIN workers AS boss ON boss.worker_id = sup.supervisor_id "
           f"WHERE {' OR '.join(conditions)} ORDER BY cr.session_date, cr.record_id")
    return sql, params
