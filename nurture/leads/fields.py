"""What a lead's text fields may hold, checked once where leads are validated (`LeadIn`).

A lead's name, company or title ends up in email headers (From/To display names, subjects)
and templates. A line break there once froze a journey: the message could not be built, and
the send retried forever. So single-line fields hold ordinary printable text only, and an
email address is one that email-validator accepts, refused with the reason when it is stored
rather than when a mail is built days later.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

# Characters that end a line for some reader of the text (email, Python, JavaScript, JSON).
LINE_BREAKS = {
    "\n": "LF",
    "\r": "CR",
    "\x0b": "VT",
    "\x0c": "FF",
    "\x85": "NEL",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
}
CONTROL_NAMES = {"\t": "TAB", "\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL"}
# What a single-line field must not hold: control characters (Cc), line and paragraph
# separators (Zl, Zp), and lone surrogates (Cs), which no mail or database encoding can carry.
NOT_ONE_LINE = {"Cc", "Zl", "Zp", "Cs"}
# How the message calls a field's values ("names must be one line of text").
WHAT = {
    "first_name": "names",
    "last_name": "names",
    "name": "names",
    "company": "company names",
    "title": "titles",
}


def one_line_problem(value: str, field: str) -> str | None:
    """Why `value` cannot be stored in the single-line `field`, or None when it can."""
    bad = next((c for c in value if unicodedata.category(c) in NOT_ONE_LINE), None)
    if bad is None:
        return None
    what = WHAT.get(field, field)
    if bad in "\r\n":
        return f"{field} contains a line break (CR/LF); {what} must be one line of text"
    if bad in LINE_BREAKS:
        return (
            f"{field} contains a line break (U+{ord(bad):04X} {LINE_BREAKS[bad]}); "
            f"{what} must be one line of text"
        )
    kind = "an unpaired surrogate" if unicodedata.category(bad) == "Cs" else "a control character"
    label = f" {CONTROL_NAMES[bad]}" if bad in CONTROL_NAMES else ""
    return f"{field} contains {kind} (U+{ord(bad):04X}{label}); {what} must be printable text only"


def normalised_email(value: str) -> str:
    """The address as the store keeps it: email-validator's normal form (Unicode NFC, the
    domain in lower case and IDNA-normalised), then lower-cased as the store always did, so
    an ASCII address and its suppression hash stay exactly what they were.

    Raises ValueError with the reason. No DNS lookups (a lead is stored while its domain's
    mail server may be down); internationalised addresses are allowed, because the SMTP
    provider uses SMTPUTF8 when the server offers it.
    """
    try:
        # test_environment: `.test` addresses (RFC 2606, the domain test data and schema
        # fuzzers use) are accepted; other special-use names are refused.
        checked = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as err:
        raise ValueError(f"email {value!r} is not a valid address: {err}") from None
    return checked.normalized.lower()
