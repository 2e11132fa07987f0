"""Who may receive a test send, and what the test message changes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from nurture.mail.test_send import NotAllowed, allow_list, as_test, check_allowed


def test_the_allow_list_takes_addresses_and_domains_in_any_case() -> None:
    allowed = allow_list(" Me@Acme.example, @QA.acme.example ,, ")
    assert allowed == ["me@acme.example", "@qa.acme.example"]
    assert check_allowed("ME@acme.example", allowed) == "me@acme.example"
    assert check_allowed("Tester <t@qa.acme.example>", allowed) == "t@qa.acme.example"
    with pytest.raises(NotAllowed, match=r"add it or @acme\.example to NURTURE_TEST_RECIPIENTS"):
        check_allowed("other@acme.example", allowed)
    with pytest.raises(NotAllowed, match=r"@evil\.qa\.acme\.example"):
        check_allowed("x@evil.qa.acme.example", allowed)  # a subdomain is another domain
    with pytest.raises(NotAllowed, match="is not an email address"):
        check_allowed("nobody", allowed)


def test_a_test_message_changes_only_recipient_subject_and_its_mark() -> None:
    message = EmailMessage()
    message["From"] = "Acme <hello@acme.example>"
    message["To"] = "Aiko Sato <aiko@example.com>"
    message["Subject"] = "Welcome, Aiko"
    message["List-Unsubscribe"] = "<https://acme.example/u/x>"
    message.set_content("hello")
    test = as_test(message, "me@acme.example")
    assert (test["To"], test["Subject"], test["X-Nurture-Test"]) == (
        "me@acme.example",
        "[TEST] Welcome, Aiko",
        "true",
    )
    assert test["List-Unsubscribe"] == message["List-Unsubscribe"]
    assert test.get_content() == "hello\n"
    assert message["To"] == "Aiko Sato <aiko@example.com>"  # the original is untouched
