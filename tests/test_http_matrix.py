"""Deny by default, walked in full: every role against every endpoint, for each relationship to a record —
own record, a current supervisee's, a former supervisee's after a transfer, and someone else's.

Write steps are sent with a stale expected_version, so a caller the access rules let through gets 409
(stopped by the version check, nothing written) and anyone else 403; the matrix changes nothing.
"""

import uuid

from fastapi.routing import APIRoute

from api.http_support import PUBLIC_KEY

from tests.support.world import USERS, World, content, world  # noqa: F401  (the shared fixture)

EVERYONE = set(USERS)
UNKNOWN = str(uuid.uuid4())
STALE = {"expected_version": 999}
SHA = "0" * 64

# Who may read each record's content (GET /records/{id} and /history); everyone else is refused and logged.
#   W: Sam's own; Alex supervises Sam; Morgan is Alex's line manager; Ines's grant covers Alex's team.
#   T: Tina's own; Jo supervises her since the transfer; Alex, her former supervisor, is refused.
#   X: Jo supervises Xavier; Ivo's grant covers Xavier's file; nobody else.
READERS = {"W": {"sam", "alex", "morgan", "ines"}, "T": {"tina", "jo", "morgan"}, "X": {"jo", "morgan", "ivo"}}
# The file's index (dates and states, no content): the readers, and HR.
FILE_READERS = {key: readers | {"hana"} for key, readers in READERS.items()}
# Steps by the supervisor (share, amend, decline): only the current supervisor who drafted it. Tina's record,
# drafted by Alex before the transfer, is frozen: Alex has lost access and Jo may not sign in Alex's place.
SUPERVISOR_STEP = {"W": {"alex"}, "T": set(), "X": {"jo"}}
SUPERVISEE_STEP = {"W": {"sam"}, "T": {"tina"}, "X": set()}  # Xavier has no account
EITHER_PARTY_STEP = {key: SUPERVISOR_STEP[key] | SUPERVISEE_STEP[key] for key in READERS}


def test_every_role_against_every_endpoint_and_relationship(world: World) -> None:
    w = world
    seen: list[tuple[str, str, int]] = []

    def expect(username: str, method: str, path: str, allowed: bool, ok: int, body: dict | None = None) -> None:
        response = w.get(username, path) if method == "GET" else w.post(username, path, body)
        want = ok if allowed else 403
        assert response.status_code == want, (username, method, path, response.status_code, response.text)
        if response.status_code == 403:
            assert response.json()["detail"]
        seen.append((username, path, response.status_code))

    for key, rid in w.records.items():
        for user in EVERYONE:
            expect(user, "GET", f"/records/{rid}", user in READERS[key], 200)
            expect(user, "GET", f"/records/{rid}/history", user in READERS[key], 200)
            expect(user, "GET", f"/workers/{w.workers[key]}/file", user in FILE_READERS[key], 200)
            # A worker's practice (observations, step-downs, reviews): decide_practice_read, the same readers
            expect(user, "GET", f"/workers/{w.workers[key]}/practice", user in READERS[key], 200)
            for step, body in (("share", STALE), ("decline", {**STALE, "rationale": "no"}),
                               ("amend", {**STALE, "content": content("changed"), "based_on_version": 1})):
                expect(user, "POST", f"/records/{rid}/{step}", user in SUPERVISOR_STEP[key], 409, body)
            expect(user, "POST", f"/records/{rid}/amendment-requests", user in SUPERVISEE_STEP[key], 409,
                   {**STALE, "text": "please change", "based_on_version": 1})
            for step, body in (("sign", {**STALE, "content_sha256": SHA}),
                               ("addenda", {**STALE, "text": "t", "reason": "r"}),
                               ("addenda/1/countersign", {**STALE, "sha256": SHA})):
                expect(user, "POST", f"/records/{rid}/{step}", user in EITHER_PARTY_STEP[key], 409, body)

    for user in EVERYONE:
        is_admin = user == "hana"
        expect(user, "GET", "/workers", is_admin, 200)
        expect(user, "POST", "/workers", is_admin, 422, {"name": "N"})  # passes the role check, then 422
        expect(user, "POST", f"/workers/{UNKNOWN}/supervisor", is_admin, 404, {"supervisor_id": UNKNOWN})
        expect(user, "POST", f"/workers/{UNKNOWN}/transfer", is_admin, 404,
               {"new_supervisor_id": UNKNOWN, "reason": "r"})
        expect(user, "POST", f"/workers/{UNKNOWN}/leave", is_admin, 404, {"leaving_date": "2026-05-01"})
        expect(user, "POST", "/grants", is_admin, 422, {
            "grantee": "nobody", "purpose": "p", "category": "inspection",
            "scope": {"kind": "team", "id": UNKNOWN}, "expires_at": "2027-01-01T00:00:00Z"})
        expect(user, "POST", f"/grants/{UNKNOWN}/revoke", is_admin, 404, {"reason": "r"})
        expect(user, "GET", "/access-log", user in {"ines", "dana"}, 200)
        expect(user, "GET", "/access-log/flags", user in {"ines", "dana"}, 200)
        for path in ("/me", "/me/access-log", "/grants", "/records"):
            expect(user, "GET", path, True, 200)
        found = w.get(user, f"/grants/{w.grants['ines']}")
        assert found.status_code == (200 if user in {"hana", "ines"} else 404), (user, found.text)

    for user in EVERYONE:  # drafting writes, so it goes last: only Xavier's current supervisor may
        expect(user, "POST", "/records", user == "jo", 201,
               {"supervisee_id": w.workers["X"], "content": content(session_date="2026-04-01")})

    _every_refused_read_was_logged(w, seen)


def _every_refused_read_was_logged(w: World, seen: list[tuple[str, str, int]]) -> None:
    reads = [(u, p, s) for u, p, s in seen if p.startswith(("/records/", "/workers/"))
             and (p.endswith(("/history", "/file")) or p.count("/") == 2)]
    log = w.log(limit=100_000)
    read_entries = [e for e in log if e["action"] in ("read_record", "read_history", "read_file")]
    assert sum(1 for *_, s in reads if s == 403) == sum(1 for e in read_entries if e["outcome"] == "denied")
    assert sum(1 for *_, s in reads if s == 200) == sum(1 for e in read_entries if e["outcome"] == "allowed")


def test_without_a_valid_token_every_api_endpoint_is_401(world: World) -> None:
    client = world.client
    schema = client.get("/openapi.json").json()
    paths = [(path, method.upper()) for path, operations in schema["paths"].items() for method in operations
             if path.startswith("/api/v1") and path != "/api/v1/health"]
    assert len(paths) > 15
    for path, method in paths:
        concrete = path.replace("{record_id}", world.records["W"]).replace("{worker_id}", world.workers["W"]) \
            .replace("{grant_id}", world.grants["ines"]).replace("{number}", "1")
        for headers in ({}, {"Authorization": "Bearer svl_not-a-token"}, {"Authorization": "Basic abc"}):
            response = client.request(method, concrete, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/health").status_code == 200


def test_every_endpoint_states_who_may_call_it(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    public = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if operation.get(PUBLIC_KEY):
                public.add((method, path))
                continue
            assert operation.get("x-allowed-roles"), (method, path)
            assert "Who may call it" in operation.get("description", ""), (method, path)
    # Open without a token: only what a load balancer or monitor asks, which holds no names and no content.
    assert public == {("get", "/health"), ("get", "/api/v1/health"), ("get", "/ready")}, public


# -- every other route of the API, by role: generated against the app's route table ---------------------------
# Routes whose answer depends on the caller's relationship to a record are walked per relationship above.
BY_RELATIONSHIP = {
    ("GET", "/api/v1/records/{record_id}"), ("GET", "/api/v1/records/{record_id}/history"),
    ("GET", "/api/v1/workers/{worker_id}/file"), ("GET", "/api/v1/workers/{worker_id}/practice"),
    ("POST", "/api/v1/records"),
    *{("POST", f"/api/v1/records/{{record_id}}/{step}") for step in (
        "share", "decline", "amend", "amendment-requests", "sign", "addenda", "addenda/{number}/countersign")},
}
HR, DPO, IO, QA, INSPECTOR = {"hana"}, {"dana"}, {"ivo"}, {"quinn"}, {"ines"}
SUPERVISING_STAFF = {"morgan", "alex", "jo"}
MANAGERS = {u for u, (role, _) in USERS.items() if role == "manager"}
STAFF_USERS = SUPERVISING_STAFF | {"sam", "tina"}
SESSION = {"supervisee_id": UNKNOWN, "starts_at": "2026-03-10T10:00:00Z", "planned_minutes": 60}
HOLD = {"kind": "investigation", "reason": "r", "reference": "ref"}


def route_rules(w: World) -> dict[tuple[str, str], tuple[str, dict | None, set[str], int] | tuple[
        str, dict | None, set[str], int, int]]:
    """(method, route) -> (the path called, the body, who may, the status they get[, what others get: 403]).
    Unknown ids or a missing field stop an allowed caller after the access decision, so nothing is written."""
    grant = w.grants["ines"]
    return {
        ("GET", "/api/v1/workers"): ("/workers", None, HR, 200),
        ("POST", "/api/v1/workers"): ("/workers", {"name": "N"}, HR, 422),
        ("POST", "/api/v1/workers/{worker_id}/supervisor"): (
            f"/workers/{UNKNOWN}/supervisor", {"supervisor_id": UNKNOWN}, HR, 404),
        ("POST", "/api/v1/workers/{worker_id}/transfer"): (
            f"/workers/{UNKNOWN}/transfer", {"new_supervisor_id": UNKNOWN, "reason": "r"}, HR, 404),
        ("POST", "/api/v1/workers/{worker_id}/leave"): (
            f"/workers/{UNKNOWN}/leave", {"leaving_date": "2026-05-01"}, HR, 404),
        ("POST", "/api/v1/workers/{worker_id}/role-change"): (
            f"/workers/{UNKNOWN}/role-change",
            {"role": "R", "effective_on": "2026-05-01", "major_change": True, "reason": "r"}, HR, 404),
        ("POST", "/api/v1/workers/{worker_id}/return"): (
            f"/workers/{UNKNOWN}/return", {"returned_on": "2026-05-01", "absence": "career_break"}, HR, 404),
        ("POST", "/api/v1/users/{username}/disable"): ("/users/no-such-user/disable", None, HR, 422),
        ("POST", "/api/v1/workers/{worker_id}/standing"): (f"/workers/{UNKNOWN}/standing", {"level": 2}, HR, 404),
        ("POST", "/api/v1/workers/{worker_id}/second-supervisor"): (
            f"/workers/{UNKNOWN}/second-supervisor", {"supervisor_id": UNKNOWN}, HR, 404),
        ("POST", "/api/v1/workers/{worker_id}/second-supervisor/ending"): (
            f"/workers/{UNKNOWN}/second-supervisor/ending", {"reason": "ASYE ended"}, HR, 404),
        # A departure from the allocation rules is agreed by a manager as themselves (bcp: the Service Manager).
        ("POST", "/api/v1/workers/{worker_id}/allocation-exceptions"): (
            f"/workers/{UNKNOWN}/allocation-exceptions", {"supervisor_id": UNKNOWN, "rules": ["ratio"],
                                                          "reason": "cover"}, MANAGERS, 404),
        ("POST", "/api/v1/grants"): ("/grants", {
            "grantee": "nobody", "purpose": "p", "category": "inspection",
            "scope": {"kind": "team", "id": UNKNOWN}, "expires_at": "2027-01-01T00:00:00Z"}, HR, 422),
        ("GET", "/api/v1/grants"): ("/grants", None, set(USERS), 200),
        # Others' grants are not theirs to know of: 404, as for an unknown id.
        ("GET", "/api/v1/grants/{grant_id}"): (f"/grants/{grant}", None, HR | INSPECTOR, 200, 404),
        ("POST", "/api/v1/grants/{grant_id}/revoke"): (f"/grants/{UNKNOWN}/revoke", {"reason": "r"}, HR, 404),
        ("GET", "/api/v1/access-log"): ("/access-log", None, INSPECTOR | DPO, 200),
        ("GET", "/api/v1/access-log/flags"): ("/access-log/flags", None, INSPECTOR | DPO, 200),
        ("GET", "/api/v1/me"): ("/me", None, set(USERS), 200),
        ("GET", "/api/v1/me/access-log"): ("/me/access-log", None, set(USERS), 200),
        ("GET", "/api/v1/records"): ("/records", None, set(USERS), 200),
        ("GET", "/api/v1/ledger/checkpoint"): ("/ledger/checkpoint", None, set(USERS), 404),  # none signed yet
        ("GET", "/api/v1/ledger/proof/inclusion/{notification_id}"): (
            "/ledger/proof/inclusion/999999", None, set(USERS), 404),
        ("GET", "/api/v1/ledger/proof/consistency"): ("/ledger/proof/consistency?from=1&to=999999", None,
                                                       set(USERS), 404),
        ("GET", "/api/v1/retention/schedule"): ("/retention/schedule", None, HR | DPO, 200),
        ("POST", "/api/v1/workers/{worker_id}/archive"): (f"/workers/{UNKNOWN}/archive", None, HR | DPO, 404),
        ("GET", "/api/v1/holds"): ("/holds", None, HR | DPO | IO, 200),
        ("POST", "/api/v1/workers/{worker_id}/holds"): (f"/workers/{UNKNOWN}/holds", HOLD, HR | DPO | IO, 404),
        # bcp's legal_holds.release names the DPO and HR only: the investigating officer who may place one
        # may not release it.
        ("POST", "/api/v1/holds/{hold_id}/release"): (f"/holds/{UNKNOWN}/release", {"reason": "r"}, HR | DPO, 404),
        ("POST", "/api/v1/sar/{worker_id}"): (f"/sar/{UNKNOWN}", None, DPO, 404),
        # bcp's destruction_approval names the DPO and HR; an as_of that is no date passes the role check, then 422.
        ("GET", "/api/v1/retention/proposals"): ("/retention/proposals", None, HR | DPO, 200),
        ("POST", "/api/v1/retention/proposals"): ("/retention/proposals", {"as_of": "soon"}, HR | DPO, 422),
        ("GET", "/api/v1/retention/proposals/{proposal_id}"): (f"/retention/proposals/{UNKNOWN}", None, HR | DPO, 404),
        ("POST", "/api/v1/retention/proposals/{proposal_id}/approve"): (
            f"/retention/proposals/{UNKNOWN}/approve", {"rationale": "r"}, HR | DPO, 404),
        ("POST", "/api/v1/retention/proposals/{proposal_id}/reject"): (
            f"/retention/proposals/{UNKNOWN}/reject", {"rationale": "r"}, HR | DPO, 404),
        ("POST", "/api/v1/retention/proposals/{proposal_id}/run"): (
            f"/retention/proposals/{UNKNOWN}/run", {}, HR | DPO, 404),
        ("GET", "/api/v1/retention/certificates/{worker_id}"): (f"/retention/certificates/{UNKNOWN}", None,
                                                                 HR | DPO, 404),
        ("GET", "/api/v1/compliance/due"): ("/compliance/due", None, SUPERVISING_STAFF | QA | HR, 200),
        ("GET", "/api/v1/compliance/frequency"): ("/compliance/frequency?month=2026-02", None,
                                                  SUPERVISING_STAFF | QA | HR, 200),
        ("GET", "/api/v1/sessions"): ("/sessions", None, STAFF_USERS | QA | HR, 200),
        ("POST", "/api/v1/sessions"): ("/sessions", SESSION, SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/sessions/{session_id}/held"): (
            f"/sessions/{UNKNOWN}/held", {"actual_minutes": 60}, SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/sessions/{session_id}/cancellation"): (
            f"/sessions/{UNKNOWN}/cancellation", {"reason": "leave"}, STAFF_USERS, 404),
        ("POST", "/api/v1/sessions/{session_id}/return-to-work"): (
            f"/sessions/{UNKNOWN}/return-to-work", {"returned_on": "2026-03-10"}, STAFF_USERS, 404),
        ("POST", "/api/v1/sessions/{session_id}/rebooking"): (
            f"/sessions/{UNKNOWN}/rebooking", {"starts_at": "2026-03-12T10:00:00Z"}, SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/agreements"): ("/agreements", {"supervisee_id": UNKNOWN, "terms": {"frequency": "monthly"}},
                                         SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/agreements/paper"): ("/agreements/paper", {
            "supervisee_id": UNKNOWN, "supervisor_id": UNKNOWN, "signed_on": "2025-01-01",
            "terms": {"frequency": "monthly"}}, HR, 404),
        ("POST", "/api/v1/agreements/{agreement_id}/signatures"): (
            f"/agreements/{UNKNOWN}/signatures", None, STAFF_USERS, 404),
        ("POST", "/api/v1/agreements/{agreement_id}/reviews"): (f"/agreements/{UNKNOWN}/reviews", {}, STAFF_USERS, 404),
        ("POST", "/api/v1/cases"): ("/cases", {"worker_id": UNKNOWN, "case_reference": "CN-1"}, SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/cases/{case_id}/rating"): (f"/cases/{UNKNOWN}/rating", {"rating": "red"},
                                                     SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/cases/{case_id}/discussions"): (
            f"/cases/{UNKNOWN}/discussions", {"discussed_on": "2026-03-01"}, SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/cases/{case_id}/closure"): (f"/cases/{UNKNOWN}/closure", None, SUPERVISING_STAFF, 404),
        # Case supervision records (bcp keeps them apart): recorded by the worker's current supervisor; the decision
        # confirmed on the child's record by either party; each read decided by the access rules and logged.
        ("GET", "/api/v1/record-classes"): ("/record-classes", None, set(USERS), 200),
        ("POST", "/api/v1/case-records"): ("/case-records", {
            "worker_id": UNKNOWN, "case_reference": "LCS 1", "discussed_on": "2026-03-01", "discussion": "d",
            "decisions": "x"}, SUPERVISING_STAFF, 404),
        ("GET", "/api/v1/case-records/due"): ("/case-records/due", None, STAFF_USERS | QA | HR, 200),
        ("GET", "/api/v1/case-records/{case_record_id}"): (f"/case-records/{UNKNOWN}", None, set(USERS), 404),
        ("POST", "/api/v1/case-records/{case_record_id}/on-childs-record"): (
            f"/case-records/{UNKNOWN}/on-childs-record", {"childs_record_reference": "CN 1",
                                                         "recorded_on": "2026-03-01"}, STAFF_USERS, 404),
        ("GET", "/api/v1/retention/case-records"): ("/retention/case-records", None, HR | DPO, 200),
        ("GET", "/api/v1/retention/case-records/proposals"): ("/retention/case-records/proposals", None, HR | DPO, 200),
        ("GET", "/api/v1/retention/case-records/proposals/{disposal_id}"): (
            f"/retention/case-records/proposals/{UNKNOWN}", None, HR | DPO, 404),
        ("POST", "/api/v1/retention/case-records/proposals"): (
            "/retention/case-records/proposals", {"as_of": "soon"}, HR | DPO, 422),
        ("POST", "/api/v1/retention/case-records/proposals/{disposal_id}/approve"): (
            f"/retention/case-records/proposals/{UNKNOWN}/approve", {"rationale": "r"}, HR | DPO, 404),
        ("POST", "/api/v1/retention/case-records/proposals/{disposal_id}/reject"): (
            f"/retention/case-records/proposals/{UNKNOWN}/reject", {"rationale": "r"}, HR | DPO, 404),
        # A destroyed item's certificate: the people who see the lists (bcp: DPO, HR); none for an unknown id.
        ("GET", "/api/v1/retention/case-records/certificates/{case_record_id}"): (
            f"/retention/case-records/certificates/{UNKNOWN}", None, HR | DPO, 404),
        ("POST", "/api/v1/retention/case-records/proposals/{disposal_id}/run"): (
            f"/retention/case-records/proposals/{UNKNOWN}/run", None, HR | DPO, 404),
        ("POST", "/api/v1/observations"): ("/observations", {
            "subject_id": UNKNOWN, "observed_on": "2026-03-01", "outcome": "meets_standard"}, SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/workers/{worker_id}/frequency-step-downs"): (
            f"/workers/{UNKNOWN}/frequency-step-downs", {"decided_on": "2026-03-01", "rationale": "r"},
            SUPERVISING_STAFF, 404),
        ("POST", "/api/v1/workers/{worker_id}/reviews"): (
            f"/workers/{UNKNOWN}/reviews", {"kind": "employee_review", "reviewed_on": "2026-03-01"},
            SUPERVISING_STAFF, 404),
    }


def api_routes(w: World) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, whether or not it appears in the OpenAPI document."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list, prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((method, prefix + route.path) for method in route.methods)
            elif hasattr(route, "original_router"):  # FastAPI includes routers lazily
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(w.client.app.router.routes, "")
    return {(m, p) for m, p in found if p.startswith("/api/v1") and not p.endswith("/health")}


def test_the_matrix_has_a_rule_for_every_route_of_the_api(world: World) -> None:
    """A new route without a rule here fails this test: deny by default, checked by the test too."""
    rules = set(route_rules(world)) | BY_RELATIONSHIP
    routes = api_routes(world)
    assert routes - rules == set(), f"routes without a rule in the matrix: {sorted(routes - rules)}"
    assert rules - routes == set(), f"rules for routes that do not exist: {sorted(rules - routes)}"
    assert len(routes) >= 50


def test_every_role_against_every_other_route(world: World) -> None:
    w = world
    for (method, _), (path, body, allowed, ok, *refused) in route_rules(w).items():
        for user in EVERYONE:
            response = w.get(user, path) if method == "GET" else w.post(user, path, body)
            want = ok if user in allowed else (refused or [403])[0]
            assert response.status_code == want, (user, method, path, response.status_code, response.text)
            if want == 403:
                assert response.json()["detail"]
