from __future__ import annotations

import pytest

from cumulo.api import policy
from cumulo.exception import PolicyNotAuthorized
from tests.fakes import ADMIN, DEMO, DEMO_PROJECT, DEMO_USER


def test_admin_only_rules() -> None:
    policy.enforce(ADMIN, "compute:flavors:create")
    with pytest.raises(PolicyNotAuthorized, match="compute:flavors:create"):
        policy.enforce(DEMO, "compute:flavors:create")


def test_owner_rules() -> None:
    assert policy.check(DEMO, "compute:keypairs:show", {"user_id": DEMO_USER})
    assert not policy.check(DEMO, "compute:keypairs:show", {"user_id": "someone-else"})
    assert policy.check(ADMIN, "compute:keypairs:show", {"user_id": "someone-else"})
    assert policy.check(DEMO, "identity:get_project", {"id": DEMO_PROJECT})
    assert not policy.check(DEMO, "identity:get_project", {"id": "another"})


def test_unknown_action_is_denied() -> None:
    assert not policy.check(ADMIN, "compute:no_such_rule")


def test_every_rule_denies_an_anonymous_caller() -> None:
    from cumulo.context import RequestContext

    nobody = RequestContext()
    allowed = [name for name in policy.RULES if policy.check(nobody, name, {})]
    assert allowed == []
