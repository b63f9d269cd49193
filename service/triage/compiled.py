"""The triage's hot modules compiled to C with mypyc, used only when built from exactly
the sources beside them.

Triage runs on every inbound reply; compiled, the same Python code classifies about
twice as many replies per second of CPU (BENCHMARKS.md, Triage). `make install` builds
the modules into build/triage/ (scripts/compile_triage.py) and writes there a digest of
the sources it compiled. At import, the package puts that folder ahead of its own only
when the digest still matches: an edited module is never shadowed by a stale build,
and without a C compiler (or with AFTERCARE_TRIAGE_PURE=1) the plain modules run. The
Python source stays the one truth; tests check that both give the same results.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

# Leaf-to-root order does not matter to mypyc; lexicon.py (loading, run once) stays Python.
MODULES = (
    "classifier",
    "concepts",
    "context",
    "keywords",
    "measures",
    "pairs",
    "patterns",
    "second_opinion",
    "text",
    "typos",
)
PACKAGE_DIR = Path(__file__).resolve().parent
BUILD_DIR = PACKAGE_DIR.parents[1] / "build" / "triage"
STAMP = "SOURCES.sha256"
PURE_VARIABLE = "AFTERCARE_TRIAGE_PURE"


def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """What a build must have been made from: the sources and this interpreter's ABI."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for name in MODULES:
        digest.update((package_dir / f"{name}.py").read_bytes())
    return digest.hexdigest()


def is_current(build_dir: Path = BUILD_DIR) -> bool:
    """Whether build_dir holds a build of exactly the sources beside this module."""
    try:
        built_from = (build_dir / STAMP).read_text(encoding="ascii").strip()
    except OSError:
        return False
    return built_from == source_digest()


def activate(package_path: list[str], build_dir: Path = BUILD_DIR) -> bool:
    """Put a current build ahead of the plain modules on the package's path."""
    if os.environ.get(PURE_VARIABLE) == "1" or not is_current(build_dir):
        return False
    sys.path.append(str(build_dir / "lib"))  # mypyc's shared runtime of the group
    package_path.insert(0, str(build_dir / "service" / "triage"))
    return True


def is_active() -> bool:
    """Whether the classifier in use is the compiled one."""
    from service.triage import classifier

    return not classifier.__file__.endswith(".py")
