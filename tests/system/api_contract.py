"""The routes as the services declare them, and the front door's routing, for the contract tests.

    service_routes()          every route of every service binary (`cp-<name> --routes`):
                              [{"service", "method", "path", "roles"}], path with {} segments
    nginx_locations(text)     the API locations of the nginx template, in file order
    nginx_upstream(locs, p)   the upstream nginx picks for path p (its own matching rules)
    sample_path(pattern)      a concrete path for a route pattern ({} -> one sample segment)

The route tables in services/*/main.c are the one place routes and their callers are written;
these helpers let the tests hold nginx and the OpenAPI document to them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stack import ROOT, SERVICES, bin_dir

TEMPLATE = ROOT / "deploy" / "nginx" / "nginx.conf.tmpl"
OPENAPI = ROOT / "deploy" / "openapi" / "openapi.json"
SAMPLE_SEGMENT = "CP-20260101-X1"
# the API tools' own venv (tests/requirements-api.txt, deploy/scripts/deps.sh)
API_VENV = Path(os.environ.get("CP_API_VENV", Path(os.environ.get(
    "CP_CACHE", Path.home() / ".cache" / "complaints")) / "venv-api"))


def service_routes() -> list[dict]:
    out = []
    for name in SERVICES:
        done = subprocess.run([str(bin_dir() / f"cp-{name}"), "--routes"], capture_output=True,
                              text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, f"cp-{name} --routes failed: {done.stderr}"
        out += [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return out


def sample_path(pattern: str) -> str:
    return pattern.replace("{}", SAMPLE_SEGMENT)


@dataclass
class Location:
    modifier: str  # "=", "^~", "~", "~*" or "" (prefix)
    path: str
    upstream: str | None  # the upstream of proxy_pass http://<name>..., None when it answers itself
    line: int

    def matches(self, path: str) -> bool:
        if self.modifier == "=":
            return path == self.path
        if self.modifier in ("~", "~*"):
            return re.search(self.path, path, re.I if self.modifier == "~*" else 0) is not None
        return path.startswith(self.path)


def nginx_locations(text: str | None = None) -> list[Location]:
    """The locations of the server block (named @locations skipped), with their upstream."""
    text = TEMPLATE.read_text() if text is None else text
    locs = []
    for m in re.finditer(r"^\s*location\s+(=|\^~|~\*|~)?\s*([^\s{]+)\s*\{", text, re.M):
        if m.group(2).startswith("@"):
            continue
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i]
        up = re.search(r"proxy_pass\s+http://([a-z_]+)", body)
        locs.append(Location(m.group(1) or "", m.group(2), up.group(1) if up else None,
                             text.count("\n", 0, m.start()) + 1))
    return locs


def nginx_pick(locs: list[Location], path: str) -> Location | None:
    """nginx's choice: an exact match; else the longest prefix, unless a regex (first in file
    order) matches and that prefix is not ^~."""
    for loc in locs:
        if loc.modifier == "=" and loc.matches(path):
            return loc
    prefixes = [l for l in locs if l.modifier in ("", "^~") and l.matches(path)]
    longest = max(prefixes, key=lambda l: len(l.path), default=None)
    if longest is not None and longest.modifier == "^~":
        return longest
    for loc in locs:
        if loc.modifier in ("~", "~*") and loc.matches(path):
            return loc
    return longest


def nginx_upstream(locs: list[Location], path: str) -> str | None:
    loc = nginx_pick(locs, path)
    return loc.upstream if loc else None


def regex_alternatives(pattern: str) -> list[str]:
    """A location regex with one (a|b|c) group of literal words as one regex per word, so each
    word can be held to a route; other regexes unchanged."""
    groups = re.findall(r"\(([\w\-./|\\]+)\)", pattern)
    if len(groups) != 1 or "|" not in groups[0]:
        return [pattern]
    return [pattern.replace(f"({groups[0]})", f"({alt})", 1) for alt in groups[0].split("|")]
