"""Compile the triage's hot modules to C with mypyc into build/triage/ (`make install`).

The package uses the build only while its recorded digest matches the sources
(service/triage/compiled.py). Without a C compiler or Python's headers the plain
modules run, at about half the speed; under CI that is an error.

    .venv/bin/python scripts/compile_triage.py
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["AFTERCARE_TRIAGE_PURE"] = "1"  # never load the build this replaces
sys.path.insert(0, str(ROOT))

from service.triage import compiled  # noqa: E402


def missing_toolchain() -> str | None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "no Python headers (Python.h)"
    return None


def build(target: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    sources = [str(compiled.PACKAGE_DIR / f"{name}.py") for name in compiled.MODULES]
    digest = compiled.source_digest()
    log = io.StringIO()
    with tempfile.TemporaryDirectory() as work, contextlib.redirect_stdout(log):
        os.chdir(work)  # mypyc writes its C files under the current directory
        try:
            setup(
                name="aftercare-triage",
                ext_modules=mypycify(sources, opt_level="3", group_name="aftercare_triage"),
                script_args=["build_ext", "--build-lib", str(target), "--build-temp", "temp"],
            )
        except BaseException:  # setup exits on a compile error: show what it said
            sys.stderr.write(log.getvalue())
            raise
    (target / "lib").mkdir()
    for shared in target.glob("aftercare_triage__mypyc*"):
        shared.rename(target / "lib" / shared.name)
    (target / compiled.STAMP).write_text(digest + "\n", encoding="ascii")


def main() -> int:
    problem = missing_toolchain()
    if problem:
        print(f"triage: {problem}; the plain Python triage runs (about half the speed)")
        return 1 if os.environ.get("CI") == "true" else 0
    fresh = compiled.BUILD_DIR.with_name("triage.new")
    shutil.rmtree(fresh, ignore_errors=True)
    build(fresh)
    shutil.rmtree(compiled.BUILD_DIR, ignore_errors=True)
    fresh.rename(compiled.BUILD_DIR)
    print(f"triage: compiled {len(compiled.MODULES)} modules into {compiled.BUILD_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
