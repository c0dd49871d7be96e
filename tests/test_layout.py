"""The layout shows the design: no import cycles, one application class composed of services that declare
what they use, "ledger" naming the integrity ledger only."""

import inspect

from api.application import SupervisionApplication
from api.core import Core, Service
from tests.support.imports import ROOT, cycles, module_imports


def test_no_module_of_ours_imports_itself_round_a_circle() -> None:
    graph = module_imports()
    assert "api.application" in graph and graph["api.record_service"]  # the source was read
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # it finds one
    assert cycles(graph) == []


def test_the_domain_imports_nothing_of_ours_and_projections_only_the_domain() -> None:
    graph = module_imports()
    assert {(m, d) for m, ds in graph.items() if m.startswith("domain") for d in ds
            if not d.startswith("domain")} == set()
    assert {(m, d) for m, ds in graph.items() if m.startswith("projections") for d in ds
            if not d.startswith(("domain", "projections"))} == set()


def test_each_service_takes_the_core_and_only_services_it_names(application: SupervisionApplication) -> None:
    app = application
    services = {name: value for name, value in vars(app).items() if isinstance(value, Service)}
    assert set(services) == {"policy", "access", "records", "allocation", "people", "scheduling", "practice",
                             "retention", "case_records", "verification"}
    for name, service in services.items():
        parameters = list(inspect.signature(type(service).__init__).parameters.values())[1:]
        assert parameters[0].annotation in (Core, "Core"), name
        for p in parameters[1:]:  # every other argument is a service of this application, held under its name
            assert getattr(service, p.name) is services[p.name], (name, p.name)
        assert service.core is app.core
    assert type(app).name == "SupervisionLedger"  # the event tables are named after it: existing databases open


def test_a_clock_set_on_the_application_is_the_one_every_service_reads(application: SupervisionApplication) -> None:
    app = application
    earlier = app.clock
    app.clock = lambda: earlier().replace(year=2001)
    assert app.scheduling.clock().year == app.retention.clock().year == 2001
    app.clock = earlier
    assert app.core.clock is earlier


def test_no_attribute_is_declared_away() -> None:
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "api").rglob("*.py")
             if "type: ignore[attr-defined]" in p.read_text()]
    assert found == []
