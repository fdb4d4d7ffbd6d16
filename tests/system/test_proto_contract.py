"""The event contract (proto/, package cp, version 1) never breaks: the rules are in
proto/README.md, the recorded shape in proto/cp.v1.lock.json."""

import copy
import json

from proto_contract import LOCK, breaks, shape


def test_protos_keep_every_recorded_field_enum_value_and_message():
    problems = breaks(json.loads(LOCK.read_text()), shape())
    assert not problems, ("the protos break the v1 event contract (proto/README.md):\n"
                          + "\n".join(problems))


def test_additions_pass_and_every_kind_of_break_is_caught():
    """The rule itself: a new field or enum value is fine; a removed, renumbered, renamed or
    retyped field, a removed message or enum value, a renamed package are each reported."""
    old = shape()
    msg = next(iter(sorted(old["messages"])))
    enum = next(iter(sorted(old["enums"])))
    added = copy.deepcopy(old)
    added["messages"][msg]["999"] = ["new_field", "string", "optional"]
    added["enums"][enum]["NEW_VALUE"] = 999
    added["messages"]["cp.Brand_new"] = {}
    assert breaks(old, added) == []
    num, (name, typ, label) = next(iter(old["messages"][msg].items()))
    cases = {
        "removed": lambda s: s["messages"][msg].pop(num),
        "renamed": lambda s: s["messages"][msg].__setitem__(num, [name + "_x", typ, label]),
        "changed type": lambda s: s["messages"][msg].__setitem__(
            num, [name, "bytes" if typ != "bytes" else "string", label]),
        "changed label": lambda s: s["messages"][msg].__setitem__(
            num, [name, typ, "repeated" if label != "repeated" else "optional"]),
        "message": lambda s: s["messages"].pop(msg),
        "enum": lambda s: s["enums"][enum].popitem(),
        "package": lambda s: s.__setitem__("package", ["cp.v2"]),
    }
    for what, change in cases.items():
        new = copy.deepcopy(old)
        change(new)
        assert breaks(old, new), f"a {what} break was not reported"
