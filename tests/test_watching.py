"""/ready and /metrics in one process, on both backends: who may scrape, and what a stuck read model does."""

from sqlalchemy import update

from api.http import create_app
from projections.schema import read_model_positions
from tests.support.world import world  # noqa: F401  (the shared fixture)


def test_ready_answers_503_naming_a_stuck_read_model_and_200_again_once_it_is_rebuilt(world):  # noqa: F811
    ready = world.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready" and ready.json()["projects"] is True
    assert {m["name"]: m["lag"] for m in ready.json()["read_models"]}["current_records"] >= 0
    with world.app.storage.engine.begin() as conn:  # broken underneath, as tests/test_read_models.py does
        conn.execute(update(read_model_positions).where(read_model_positions.c.name == "access_log")
                     .values(stuck_at=3, stuck_event="AccessLogged", stuck_error="ProgrammingError: boom"))
    stuck = world.client.get("/ready")
    assert stuck.status_code == 503 and stuck.headers["retry-after"] == "2"
    assert stuck.json()["problems"] == ["the access_log read model is stuck at notification 3"]
    world.app.read_models.rebuild(["access_log"])
    assert world.client.get("/ready").status_code == 200


def test_metrics_are_refused_to_everyone_without_a_token_setting(world):  # noqa: F811
    refused = world.client.get("/metrics")
    assert refused.status_code == 403 and "SVL_METRICS_TOKEN" in refused.json()["detail"]
    # an API bearer token is not a metrics token
    assert world.client.get("/metrics", headers=world.auth("hana")).status_code == 403


def test_metrics_need_the_metrics_token_and_count_routes_by_template(settings, master_key, tmp_path):  # noqa: ANN001
    from dataclasses import replace

    from fastapi.testclient import TestClient

    token = "t" * 32
    api = create_app(replace(settings, metrics_token=token), master_key)
    try:
        client = TestClient(api)
        assert client.get("/api/v1/workers/0f6e7d36-9b7e-4c4e-8f00-1d2a3b4c5d6e/file").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer " + "u" * 32}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200
        assert 'route="/api/v1/workers/{worker_id}/file",status="401"' in scraped.text
        assert "0f6e7d36" not in scraped.text and "svl_ready 1.0" in scraped.text
    finally:
        api.state.application.close()
        api.state.application.storage.engine.dispose()


def test_metrics_route_templates_are_the_ones_fastapi_routes_by(tmp_path):  # noqa: ANN001
    """api/metrics.py works the templates out from the routers' prefixes (cheaply, at every `create_app`): the
    same list, in the same order, as FastAPI's own route contexts give once they are built."""
    from fastapi.routing import iter_route_contexts

    from api.metrics import route_templates
    from infrastructure.settings import Settings

    (tmp_path / "keys").mkdir()
    api = create_app(Settings(database_url=f"sqlite:///{tmp_path}/data/svl.db",
                              master_key_file=tmp_path / "keys" / "master.key",
                              signing_key_file=tmp_path / "keys" / "signing.key",
                              certificate_dir=tmp_path / "certificates"), b"k" * 32)
    try:
        ours = route_templates(api)
        theirs: list[str] = []
        for context in iter_route_contexts(api.routes):
            template = getattr(context, "path_format", None) or getattr(context, "path", None)
            if template and template not in theirs:
                theirs.append(template)
        assert ours == theirs
        assert "/api/v1/records/{record_id}" in ours and "/assets/{path}" in ours and len(ours) > 60
    finally:
        api.state.application.close()
        api.state.application.storage.engine.dispose()
