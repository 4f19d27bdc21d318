"""Page bodies to records: gids always strings. The client only walks a page
to coerce gids when a cheap search of the raw body finds a non-string one."""

from __future__ import annotations

import pytest

from tap_asana.http.client import _parse_page


@pytest.mark.parametrize("body", [
    b'{"data":[{"gid":12,"assignee":{"gid":"34"}}]}',
    b'{"data": [{"gid" : "12", "assignee": {"gid":\n34}}]}',
    b'{"data":[{"\\u0067id":12,"assignee":{"gid":"34"}}]}',
    b'{"data":[{"gid":"12","assignee":{"\\u0067\\u0069\\u0064":34}}]}',
])
def test_non_string_gids_anywhere_become_strings(body):
    (record,) = _parse_page(body, None).data
    assert record == {"gid": "12", "assignee": {"gid": "34"}}


def test_string_and_null_gids_are_left_alone():
    body = b'{"data":[{"gid":"12","assignee":null,"parent":{"gid":null},"notes":"gid: 5"}]}'
    (record,) = _parse_page(body, None).data
    assert record == {"gid": "12", "assignee": None, "parent": {"gid": None}, "notes": "gid: 5"}
