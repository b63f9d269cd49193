"""The plans shipped in a templates directory: `templates/plans/<key>.yaml`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.plans.loader import collect_templates, parse_plan, read_definition
from service.plans.model import Plan, PlanError, UnknownPlan


@dataclass(frozen=True)
class PlanCatalog:
    """The current version of every plan, by key."""

    plans: dict[str, Plan]

    def get(self, key: str) -> Plan:
        try:
            return self.plans[key]
        except KeyError:
            known = ", ".join(sorted(self.plans)) or "none"
            raise UnknownPlan(f"unknown plan {key!r} (known: {known})") from None

    def keys(self) -> list[str]:
        return sorted(self.plans)

    def languages(self) -> list[str]:
        """Every language at least one plan has messages in."""
        return sorted({language for plan in self.plans.values() for language in plan.languages})

    def titles(self) -> dict[str, str]:
        """Each plan's title by key ("botox" -> "Botox aftercare"), for showing people."""
        return {key: plan.title for key, plan in self.plans.items()}

    def all(self) -> list[Plan]:
        return [self.plans[key] for key in self.keys()]

    def __iter__(self) -> Iterator[Plan]:
        return iter(self.all())


def plan_files(templates_dir: Path) -> list[Path]:
    folder = templates_dir / "plans"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def load_plan_file(path: Path, templates_dir: Path) -> Plan:
    """One plan file with its templates; the file name must match the plan key."""
    definition = read_definition(path)
    if definition.get("key") != path.stem:
        raise PlanError(f"{path.name}: key {definition.get('key')!r} must match the file name")
    templates = collect_templates(templates_dir / "messages", path.stem)
    return parse_plan(definition, templates)


def load_catalog(templates_dir: Path) -> PlanCatalog:
    """Every plan under `templates_dir/plans`; raises PlanError naming the first bad file."""
    plans = {}
    for path in plan_files(templates_dir):
        plan = load_plan_file(path, templates_dir)
        plans[plan.key] = plan
    return PlanCatalog(plans=plans)
