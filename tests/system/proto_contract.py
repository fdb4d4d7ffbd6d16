"""The event contract's shape, for the breaking-change test (test_proto_contract.py).

    python3 tests/system/proto_contract.py --update    rewrite proto/cp.v1.lock.json after adding
                                                        fields, messages or enum values

The lock file records, for every message of package cp (version 1), each field's number, name,
type and label, and every enum value's number. The test fails when the protos break it (see
proto/README.md for the rules); additions pass and are recorded by --update.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
LOCK = PROTO / "cp.v1.lock.json"

TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
         8: "bool", 9: "string", 10: "group", 11: "message", 12: "bytes", 13: "uint32", 14: "enum",
         15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64"}
LABELS = {1: "optional", 2: "required", 3: "repeated"}


def shape() -> dict:
    """{"package": ..., "messages": {name: {number: [name, type, label]}}, "enums": {name: {value: number}}}"""
    from google.protobuf import descriptor_pb2

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        subprocess.run(["protoc", f"--proto_path={PROTO}", f"--descriptor_set_out={out}",
                        *sorted(p.name for p in PROTO.glob("*.proto"))], check=True, timeout=60)
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    packages, messages, enums = set(), {}, {}

    def walk_enum(prefix, e):
        enums[f"{prefix}.{e.name}"] = {v.name: v.number for v in e.value}

    def walk_message(prefix, m):
        name = f"{prefix}.{m.name}"
        messages[name] = {str(f.number): [f.name, f.type_name.lstrip(".") or TYPES[f.type],
                                          LABELS[f.label] + (f"/oneof:{m.oneof_decl[f.oneof_index].name}"
                                                             if f.HasField("oneof_index") else "")]
                          for f in m.field}
        for n in m.nested_type:
            walk_message(name, n)
        for e in m.enum_type:
            walk_enum(name, e)

    for f in fds.file:
        packages.add(f.package)
        for m in f.message_type:
            walk_message(f.package, m)
        for e in f.enum_type:
            walk_enum(f.package, e)
    return {"package": sorted(packages), "messages": messages, "enums": enums}


def breaks(old: dict, new: dict) -> list[str]:
    """What new does to old that a consumer of old cannot read (buf's WIRE_JSON category)."""
    out = []
    if old["package"] != new["package"]:
        out.append(f"package {old['package']} became {new['package']} (a new version is a new "
                   "package and new topics, next to the old ones)")
    for msg, fields in old["messages"].items():
        now = new["messages"].get(msg)
        if now is None:
            out.append(f"message {msg} was removed or renamed")
            continue
        for num, (name, typ, label) in fields.items():
            if num not in now:
                out.append(f"{msg} field {num} ({name}) was removed: keep it (or mark it "
                           "deprecated), never reuse the number")
                continue
            nname, ntyp, nlabel = now[num]
            if nname != name:
                out.append(f"{msg} field {num} was renamed {name} -> {nname} (the JSON form "
                           "changes)")
            if ntyp != typ:
                out.append(f"{msg} field {num} ({name}) changed type {typ} -> {ntyp}")
            if nlabel != label:
                out.append(f"{msg} field {num} ({name}) changed label {label} -> {nlabel}")
    for enum, values in old["enums"].items():
        now = new["enums"].get(enum)
        if now is None:
            out.append(f"enum {enum} was removed or renamed")
            continue
        for name, number in values.items():
            if now.get(name) != number:
                out.append(f"enum {enum} value {name} = {number} was removed or renumbered")
    return out


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    current = shape()
    if LOCK.exists():
        problems = breaks(json.loads(LOCK.read_text()), current)
        if problems:
            sys.exit("refusing to record a breaking change:\n" + "\n".join(problems))
    LOCK.write_text(json.dumps(current, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {LOCK.relative_to(ROOT)}")
