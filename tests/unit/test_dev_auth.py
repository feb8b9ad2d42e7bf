"""Dev sign-in: the name is the token, under one rule with one message (the page's too)."""

from __future__ import annotations

import pytest

from place.api.auth import DEV_NAME_RULE, AuthError, DevAuth

PAGE_MESSAGE = "A name is 1 to 32 letters, digits, spaces, dots, dashes or underscores."


@pytest.mark.parametrize(
    "name", ["ann", "Ann Lee", "a.b-c_d", "x" * 32, "José", "Zoë 2", "李小龍", "  padded  "]
)
async def test_a_name_within_the_rule_is_the_identity(name: str) -> None:
    identity = await DevAuth().verify(name)
    assert identity.id == identity.name == name.strip()


@pytest.mark.parametrize("name", ["", "   ", "x" * 33, "x" * 40, "no!", "a/b", "tab\there", "😀"])
async def test_a_name_outside_the_rule_is_refused_with_the_pages_words(name: str) -> None:
    with pytest.raises(AuthError) as refused:
        await DevAuth().verify(name)
    # word for word what the page says before asking (frontend/src/lib/auth.ts)
    assert str(refused.value) == DEV_NAME_RULE == PAGE_MESSAGE
