"""Reads .local/stack.env, the environment `make up` writes (infra/local/up.sh)."""

from pathlib import Path

from . import ROOT

STACK_ENV = ROOT / ".local/stack.env"


def read_stack_env(path: Path = STACK_ENV) -> dict[str, str]:
    """`export K=V` lines (a value ends at the first space: stack.env has trailing comments)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            out[key.strip()] = value.strip().split(" ", 1)[0].strip("'\"")
    return out
