"""Records drafted on the pack's template (domain/record_template.py), on the domain alone.

bcp: "Personal Supervision is recorded on the document found at Appendix 1" and "Appendix 1: Example Personal
Supervision Record Template", whose sections run from Health and Welfare to Areas of disagreement."""

from __future__ import annotations

import pytest

from domain.record_template import OTHER, join_sections, split_sections, titled_sections
from infrastructure.policy_packs import load_all_packs

PACKS = load_all_packs()


def test_bcp_appendix_1_worked_example() -> None:
    template = PACKS["bcp"].record_template
    titles = [s.title for s in template.sections]
    assert titles[0] == "Health and Welfare" and titles[-1] == "Areas of disagreement"
    filled = {"areas_of_disagreement": "Workload: we see it differently; rationale recorded.",
              "health_and_welfare": "Back from sick leave; return-to-work meeting held.",
              "annual_leave_toil": "   "}
    discussion = join_sections(filled, template)
    # The template's order, whatever order the sections were filled in; a blank section is left out.
    assert discussion == ("## Health and Welfare\nBack from sick leave; return-to-work meeting held.\n\n"
                          "## Areas of disagreement\nWorkload: we see it differently; rationale recorded.")
    assert split_sections(discussion, template) == {k: v for k, v in filled.items() if v.strip()}
    assert titled_sections(discussion, template) == ("", [
        ("Health and Welfare", "Back from sick leave; return-to-work meeting held."),
        ("Areas of disagreement", "Workload: we see it differently; rationale recorded.")])


def test_text_outside_the_template_is_kept_as_it_was_written() -> None:
    template = PACKS["bcp"].record_template
    discussion = "Drafted through the API.\n## Not a section of ours\nstill the same text\n\n## Practice Progress\nGood."
    other, sections = titled_sections(discussion, template)
    assert other == "Drafted through the API.\n## Not a section of ours\nstill the same text"
    assert sections == [("Practice Progress", "Good.")]
    assert join_sections(split_sections(discussion, template), template) == discussion


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_packs_template_gives_back_what_was_filled_in(pack: str) -> None:
    template = PACKS[pack].record_template
    filled = {s.key: f"What was said under {s.title}." for s in template.sections} | {OTHER: "Opening words."}
    assert split_sections(join_sections(filled, template), template) == filled
