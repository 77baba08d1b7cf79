"""Impersonation as apiserver's filter builds the user (issue 23 item 8): uid, a ServiceAccount's groups."""

from __future__ import annotations

import pytest

from sim.apiserver.access import GROUPS_OF, Subject, impersonated
from sim.apiserver.errors import ApiError
from sim.apiserver.identity import ADMIN_USER, VIEWER_USER

ADMIN = Subject(ADMIN_USER, GROUPS_OF[ADMIN_USER])


def test_a_service_account_brings_its_groups_and_a_uid_is_kept():
    subject = impersonated(ADMIN, "system:serviceaccount:ci:builder", [], "1234")
    assert subject == Subject("system:serviceaccount:ci:builder",
                              ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"), "1234")
    # a name serviceaccount.SplitUsername does not read (a namespace that is no DNS label) is a user's
    assert impersonated(ADMIN, "system:serviceaccount:Bad_NS:x", []).groups == ("system:authenticated",)


def test_groups_given_replace_a_service_accounts_and_unauthenticated_keeps_authenticated_out():
    assert impersonated(ADMIN, "system:serviceaccount:ci:builder", ["devs"]).groups == ("devs", "system:authenticated")
    assert impersonated(ADMIN, "alice", ["system:unauthenticated"]).groups == ("system:unauthenticated",)


def test_a_uid_needs_a_user_and_the_right_to_impersonate_uids():
    with pytest.raises(ApiError) as alone:
        impersonated(ADMIN, None, [], "1234")
    assert alone.value.code == 400
    with pytest.raises(ApiError) as viewer:
        impersonated(Subject(VIEWER_USER, GROUPS_OF[VIEWER_USER]), "alice", [], "1234")
    assert viewer.value.code == 403
