"""A record drafted on the pack's template: bcp's "Appendix 1: Example Personal Supervision Record Template",
bury's proforma, each a list of sections with titles and prompts. A record's content keeps one schema
(domain/record_content.py), so the sections travel inside its discussion, each filled one a `## Title` block in
the template's order; any text before the first heading (a record drafted through the API without the template)
is kept as it is, under OTHER. Splitting the discussion again gives back the sections, so the record page, its
signed PDF copy and the amendment form all show the record section by section."""

import re

from domain.policy import RecordTemplate

OTHER = "other"  # discussion text outside any template section

_HEADING = re.compile(r"^## (.+)$")


def join_sections(sections: dict[str, str], template: RecordTemplate) -> str:
    """The discussion of a record whose sections (template key -> text) were filled in; blank ones are left out."""
    blocks = [sections[OTHER].strip()] if sections.get(OTHER, "").strip() else []
    blocks += [f"## {s.title}\n{sections[s.key].strip()}" for s in template.sections
               if sections.get(s.key, "").strip()]
    return "\n\n".join(blocks)


def split_sections(discussion: str, template: RecordTemplate) -> dict[str, str]:
    """The inverse of join_sections: template key -> text, and OTHER for text before any section heading. A
    `## ` line that is not one of the template's titles is text, not a heading."""
    by_title = {s.title: s.key for s in template.sections}
    sections: dict[str, list[str]] = {}
    current = OTHER
    for line in discussion.splitlines():
        found = _HEADING.match(line)
        if found and found.group(1).strip() in by_title:
            current = by_title[found.group(1).strip()]
            continue
        sections.setdefault(current, []).append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items() if "\n".join(v).strip()}


def titled_sections(discussion: str, template: RecordTemplate) -> tuple[str, list[tuple[str, str]]]:
    """(text outside any section, [(title, text)] in the template's order): how a record is shown and printed."""
    sections = split_sections(discussion, template)
    return sections.get(OTHER, ""), [(s.title, sections[s.key]) for s in template.sections if s.key in sections]
