#!/usr/bin/env python3
"""Regenerate clipcv's committed test fixtures (never needed in CI; tests never run Python).

    python3 scripts/make_fixtures.py                 # every generator in scripts/fixturegen/
    python3 scripts/make_fixtures.py clip_models     # only the named ones

Each module of scripts/fixturegen/ exposes `generate(repo_root)`; every generator seeds itself, so a run on the
same machine and library versions rewrites the same files.
Needs torch, transformers, peft, safetensors, numpy (and scikit-learn/pillow for some generators).
"""

import importlib
import pathlib
import pkgutil
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import fixturegen  # noqa: E402


def main(argv: list) -> int:
    available = sorted(m.name for m in pkgutil.iter_modules(fixturegen.__path__) if not m.name.startswith("_"))
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__.strip())
        print("generators:", " ".join(available))
        return 0
    unknown = [name for name in argv if name not in available]
    if unknown:
        print(f"make_fixtures: unknown generator {', '.join(unknown)}; available: {' '.join(available)}",
              file=sys.stderr)
        return 2
    for name in argv or available:
        print(f"== {name}", flush=True)
        importlib.import_module(f"fixturegen.{name}").generate(REPO_ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
