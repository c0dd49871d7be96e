"""Dates and times as the GOV.UK date input sends them (day, month and year fields) and a 24-hour time field,
turned into the ISO text the API's request models read; a field that is not a real date is an error naming it."""

from datetime import date, time

from api.web.record_form import FormErrors


def day_from(form: dict[str, str], prefix: str, errors: FormErrors, what: str, required: bool = True) -> str | None:
    """`prefix-day`, `prefix-month`, `prefix-year` as an ISO date; None when left empty (and not required)."""
    parts = [form.get(f"{prefix}-{p}", "").strip() for p in ("day", "month", "year")]
    if not any(parts):
        if required:
            errors.add(f"{prefix}-day", f"Enter {what}, with a day, month and year")
        return None
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat()
    except ValueError:
        errors.add(f"{prefix}-day", f"{what[0].upper()}{what[1:]} must be a real date")
        return None


def time_from(form: dict[str, str], name: str, errors: FormErrors, what: str) -> str | None:
    """A 24-hour time such as 09:30 (or 9.30)."""
    text = form.get(name, "").strip().replace(".", ":")
    try:
        hours, minutes = (int(p) for p in text.split(":"))
        return time(hours, minutes).isoformat(timespec="minutes")
    except ValueError:
        errors.add(name, f"Enter {what} as a 24-hour time, like 09:30")
        return None


def values_of(form: dict[str, str], *prefixes: str) -> dict[str, str]:
    """What was typed, to show again beside the errors."""
    return {k: v for k, v in form.items() if k.startswith(prefixes)}
