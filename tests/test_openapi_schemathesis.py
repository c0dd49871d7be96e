"""Schemathesis against the OpenAPI document, on both backends, with a bounded number of examples per
operation and generation mode: no 5xx, and every answer matches the documented status codes, content
types and schemas.

Each operation is called as a user whose role it declares, over a populated organisation, so that calls
get past authentication into validation, the access rules and the domain.
"""

import os
import random
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
# Left out on purpose: it expects every schema-valid request to succeed, but rules no JSON Schema can state
# (the grantee must exist, an expiry lies in the future, a record's state) rightly refuse some with 422.
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.world import USERS, World, world  # noqa: F401  (the shared fixture)

MAX_EXAMPLES = int(os.environ.get("SVL_SCHEMATHESIS_EXAMPLES", "5"))
STATUSES: Counter[int] = Counter()
ROLE_TO_USER = {role: username for username, (role, _) in reversed(list(USERS.items()))}


def test_no_server_errors_and_answers_match_the_schema(world: World) -> None:
    STATUSES.clear()
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)

    @schema.auth(cache_by_key=lambda case, context: case.operation.label)
    class BearerOfAnAllowedRole:
        """Schemathesis applies it to each case (and leaves it off when it tests a missing token)."""

        def get(self, case: Any, context: Any) -> str:
            return world.tokens[user_for(case.operation)]

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _explore(operation, mode)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: the operation takes no input
            except Exception as exc:  # collect every operation's failure, not just the first
                failures.append(f"{operation.label} [{mode.value}] as {user_for(operation)}: {exc}")
    assert not failures, "\n\n".join(failures)
    # The calls got past authentication into the API proper: most answers are not 401.
    assert STATUSES[200] > 20 and STATUSES[422] > 20 and STATUSES[401] < sum(STATUSES.values()) / 2, STATUSES


def user_for(operation: Any) -> str:
    roles = operation.definition.raw.get("x-allowed-roles") or sorted(ROLE_TO_USER)
    return ROLE_TO_USER[random.Random(operation.label).choice(roles)]


def _explore(operation: Any, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
    def explore(case: Any) -> None:
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        STATUSES[response.status_code] += 1

    explore()
