"""What a clinic's save and the editor's live preview cost, and what sharing compiled
templates across plan versions saves.

A save lints the whole plan with the clinic's texts (`lint_overrides`): every message
rendered, the content, timing and triage checks. Each version is a plan of its own (its
sha256 differs), so each gets its own Jinja2 environment; the Renderer shares compiled
template code across them by name and source checksum (`rendering.CompiledTemplates`),
so a version compiles only the texts it changed. Baseline, in the same run: the same
lint with that sharing turned off (every environment compiles all ~40 templates again,
as before). Also times one live preview (`preview_text`), which runs on every pause in
typing.

Usage: .venv/bin/python bench/content_lint.py [--saves N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.config import DEFAULT_TEMPLATES_DIR
from service.plans.catalog import load_catalog
from service.plans.lint_overrides import lint_overrides
from service.plans.override_preview import ClinicValues, preview_text
from service.plans.overrides import slot_of
from service.rendering import Renderer

TEXT = (
    "{{ clinic_name }}: Day 1 from your nurse: a cold pack, 10 minutes at a time "
    '(version N). {% include "_partials/emergency.sms.en.j2" %}'
)


def text(n: int) -> str:
    return TEXT.replace("N", str(n), 1)


CLINIC = ClinicValues("Lakeside Aesthetics", "+14155550100", "911", False, "America/New_York")


def cpu_ms(work, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for n in range(repeat):
        start = time.process_time()
        work(n)
        times.append((time.process_time() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=12)
    args = parser.parse_args()
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("thread_lift")
    name = "thread_lift/day1_care.sms.en.j2"
    shared = Renderer(DEFAULT_TEMPLATES_DIR)
    unshared = Renderer(DEFAULT_TEMPLATES_DIR)
    unshared._compiled = None  # type: ignore[assignment]  # the baseline: no sharing
    lint_overrides(plan, {name: text(-1)}, shared)  # triage lexicon, first compile
    lint_overrides(plan, {name: text(-1)}, unshared)

    def save(renderer: Renderer, offset: int):  # type: ignore[no-untyped-def]
        def run(n: int) -> None:
            errors = [f for f in lint_overrides(plan, {name: text(offset + n)}, renderer)
                      if f.severity == "error"]  # fmt: skip
            assert not errors, errors

        return run

    with_sharing = cpu_ms(save(shared, 0), args.saves)
    without = cpu_ms(save(unshared, 10_000), args.saves)
    slot = slot_of(plan, "day1_care", "sms", "en")
    now = datetime.now(UTC)
    preview = cpu_ms(lambda n: preview_text(plan, slot, text(20_000 + n), clinic=CLINIC,
                                            renderer=shared, now=now), args.saves * 5)  # fmt: skip
    summary = {
        "bench": "content_lint",
        "saves": args.saves,
        "save_lint_cpu_ms_median": round(statistics.median(with_sharing), 1),
        "save_lint_cpu_ms_median_unshared": round(statistics.median(without), 1),
        "ratio_shared_to_unshared": round(
            statistics.median(with_sharing) / statistics.median(without), 2
        ),
        "preview_cpu_ms_median": round(statistics.median(preview), 2),
        "preview_cpu_ms_p95": round(sorted(preview)[int(len(preview) * 0.95) - 1], 2),
    }
    print(
        f"save (whole-plan lint): {summary['save_lint_cpu_ms_median']} ms CPU median, "
        f"{summary['save_lint_cpu_ms_median_unshared']} ms without shared compiled templates "
        f"(ratio {summary['ratio_shared_to_unshared']}); live preview: "
        f"{summary['preview_cpu_ms_median']} ms median, {summary['preview_cpu_ms_p95']} ms p95"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
