"""The mypyc build of the triage (service/triage/compiled.py): used only when current,
and giving exactly what the plain Python modules give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.triage import compiled

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]

# Prints, for every reply of the dev set and the fresh batches, what the triage says.
LABEL_ALL = """
import json, sys
from pathlib import Path
from service.triage import classify, compiled
rows = [json.loads(line) for path in sorted(Path(sys.argv[1]).glob(sys.argv[2]))
        for line in path.read_text(encoding="utf-8").splitlines() if line]
print(json.dumps({"compiled": compiled.is_active(), "results": [
    [r.label, r.severity, r.intent, r.matches] for r in (
        classify(row["text"], procedure=row.get("procedure"), day=row.get("day"))
        for row in rows)]}))
"""


def label_all(pattern: str, *, pure: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(compiled.PURE_VARIABLE, None)
    if pure:
        env[compiled.PURE_VARIABLE] = "1"
    done = subprocess.run(
        [sys.executable, "-c", LABEL_ALL, str(DATA), pattern],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(
    os.environ.get("CI") != "true" and not compiled.is_current(),
    reason="no current triage build (make install compiles it; CI must)",
)
def test_the_compiled_triage_is_in_use_and_agrees_with_the_plain_one() -> None:
    for pattern in ("triage_devset.jsonl", "triage_fresh_*.jsonl"):
        built = label_all(pattern, pure=False)
        plain = label_all(pattern, pure=True)
        assert built["compiled"] is True
        assert plain["compiled"] is False
        assert len(built["results"]) > 500
        assert built["results"] == plain["results"]


def test_a_build_from_other_sources_is_not_used(tmp_path: Path) -> None:
    (tmp_path / compiled.STAMP).write_text("0" * 64 + "\n", encoding="ascii")
    path: list[str] = []
    assert compiled.activate(path, build_dir=tmp_path) is False
    assert path == []


def test_a_missing_build_is_not_used(tmp_path: Path) -> None:
    path: list[str] = []
    assert compiled.activate(path, build_dir=tmp_path / "nothing") is False
    assert path == []


def test_the_digest_follows_every_compiled_source(tmp_path: Path) -> None:
    for name in compiled.MODULES:
        (tmp_path / f"{name}.py").write_text(f"# {name}\n", encoding="utf-8")
    before = compiled.source_digest(tmp_path)
    (tmp_path / "typos.py").write_text("# typos, edited\n", encoding="utf-8")
    assert compiled.source_digest(tmp_path) != before
