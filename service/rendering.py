"""Message text from templates: strict, sandboxed Jinja2 (clinic admins edit templates).

Plan steps render from the plan's own frozen template sources (so a pinned enrolment
never sees later edits); system messages render from `templates/messages/_system/`.
SMS text is normalised to plain GSM-7 punctuation after rendering. An email template
defines the blocks `subject` and `text`; its HTML part is the shared layout
`_partials/email.<lang>.html.j2`, autoescaped, so a patient name with markup stays text.
"""

from __future__ import annotations

import datetime
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.sandbox import SandboxedEnvironment

from service.domain import Channel
from service.phones import display_phone
from service.plans.model import Plan, Step, template_name
from service.plans.red_flags import RedFlags, Route
from service.sms import count_segments, normalise_sms

DEFAULT_LANGUAGE = "en"
MONTHS = {
    "en": "January February March April May June July August September October November December",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
}


class RenderError(ValueError):
    """A template failed to render; the message names the template and line."""

    def __init__(self, template: str, line: int | None, reason: str) -> None:
        self.template, self.line, self.reason = template, line, reason
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None
    segments: int | None  # SMS only


class NamedDictLoader(BaseLoader):
    """Templates from a mapping (a plan's frozen sources) that reports each template's
    name as its file name, so an error names the template and line it came from."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = dict(mapping)

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template not in self.mapping:
            raise TemplateNotFound(template)
        source = self.mapping[template]
        return source, template, lambda: self.mapping.get(template) == source

    def list_templates(self) -> list[str]:
        return sorted(self.mapping)


class CompiledTemplates(BytecodeCache):
    """Compiled template code shared by the environments of one Renderer, by template
    name and source checksum: a plan with one clinic text replaced compiles only that
    text, not the forty others it shares with the plan (compiling is most of the cost
    of linting a clinic's version, and of a plan's first message)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._codes: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            bucket.code = self._codes.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            if len(self._codes) >= self.LIMIT:  # a bound, not a policy
                self._codes.clear()
            self._codes[(bucket.key, bucket.checksum)] = bucket.code


def make_environment(
    loader: BaseLoader | None, compiled: CompiledTemplates | None = None
) -> SandboxedEnvironment:
    """Every environment a message renders in: sandboxed, strict, autoescaped for HTML
    only. Those sharing `compiled` must all be made here (the code depends on these
    settings)."""
    return SandboxedEnvironment(
        loader=loader,
        bytecode_cache=compiled,
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


PLAN_ENVIRONMENTS_MAX = 64  # the plans in use, and clinics' versions being edited


class Renderer:
    """Renders plan steps and system messages; environments are cached per plan sha (the
    least recently used dropped past `PLAN_ENVIRONMENTS_MAX`: every preview of a clinic's
    text being typed is a plan of its own)."""

    def __init__(self, templates_dir: Path) -> None:
        self.messages_dir = templates_dir / "messages"
        self._system = make_environment(FileSystemLoader(self.messages_dir))
        self._plans: OrderedDict[str, SandboxedEnvironment] = OrderedDict()
        self._plans_lock = threading.Lock()
        self._compiled = CompiledTemplates()
        # Rendered SMS warning-sign sentences: they depend only on the plan, language,
        # step and the clinic's two numbers, and rendering them per message tripled the
        # cost of a plan SMS on the dispatch path.
        self._summaries: dict[tuple[object, ...], str] = {}

    def render_step(
        self,
        *,
        plan: Plan,
        step_key: str,
        channel: Channel,
        language: str,
        context: Mapping[str, object],
    ) -> Rendered:
        step = plan.step(step_key)
        env = self._plan_env(plan)
        lang, name = self._step_template(plan, step.key, channel, language)
        if channel is Channel.EMAIL and name not in plan.templates:
            return self._sms_step_by_email(plan, step.key, language, context)
        values = self._step_values(plan, step.key, lang, context)
        return self._render(env, name, channel, lang, values)

    def _step_template(
        self, plan: Plan, step_key: str, channel: Channel, language: str
    ) -> tuple[str, str]:
        lang = language if language in plan.languages else DEFAULT_LANGUAGE
        name = template_name(plan.key, step_key, channel, lang)
        if name not in plan.templates:
            lang = DEFAULT_LANGUAGE
            name = template_name(plan.key, step_key, channel, lang)
        return lang, name

    def _step_values(
        self, plan: Plan, step_key: str, lang: str, context: Mapping[str, object]
    ) -> dict[str, Any]:
        step = plan.step(step_key)
        flags = plan.red_flags.get(lang) or plan.red_flags.get(DEFAULT_LANGUAGE)
        values: dict[str, Any] = {"plan_title": plan.title, "step_key": step.key}
        values.update(step.vars)
        values.update(context)
        if flags is not None:
            values.update(self._flag_values(plan, flags, step, values))
        return values

    def _sms_step_by_email(
        self, plan: Plan, step_key: str, language: str, context: Mapping[str, object]
    ) -> Rendered:
        """A text-only step that must go by email (the patient stopped texts, or the text
        could not be delivered): its SMS words inside the `step_by_email` system email."""
        lang, name = self._step_template(plan, step_key, Channel.SMS, language)
        values = self._step_values(plan, step_key, lang, context)
        env = self._plan_env(plan)
        text = _guarded(name, lambda: env.get_template(name).render(values))
        return self.render_system(name="step_by_email", channel=Channel.EMAIL, language=lang,
                                  context={**values, "sms_text": text.strip()})  # fmt: skip

    def red_flags_summary(self, *, plan: Plan, language: str, context: Mapping[str, object]) -> str:
        """The plan's SMS sentences for the signs that need a call now (emergency and
        clinic-now routes) in `language`, for system messages such as the catch-up, which
        name the plan's signs outside any step and must stay short."""
        flags = plan.red_flags.get(language) or plan.red_flags.get(DEFAULT_LANGUAGE)
        if flags is None:
            return ""
        urgent = [item.key for item in plan.red_flag_items if item.route != Route.TELL_US]
        flags = flags.only(urgent) if urgent else flags
        values = self._flag_values(plan, flags, None, dict(context))
        return str(values["red_flags_summary"])

    def _flag_values(
        self,
        plan: Plan,
        flags: RedFlags,
        step: Step | None,
        values: Mapping[str, Any],
    ) -> dict[str, Any]:
        """`red_flags` (every full line), `red_flag_routes` (the lines grouped by route) and
        `red_flags_summary`: the SMS sentences, each sign with its route, rendered from
        `_partials/red_flags.sms.<lang>.j2` over the signs the step carries."""
        result: dict[str, Any] = {"red_flags": list(flags.items), "red_flag_routes": flags.groups}
        if flags.legacy_summary is not None:
            return {**result, "red_flags_summary": flags.legacy_summary}
        step_key = step.key if step is not None else None
        phones = (values.get("clinic_phone"), values.get("emergency_phone"))
        key = (plan.sha256, flags.language, step_key, *phones)
        summary = self._summaries.get(key)
        if summary is None:
            carried = flags.only(step.red_flags if step is not None else None)
            env = self._plan_env(plan)
            partial = f"_partials/red_flags.sms.{flags.language}.j2"
            summary_values = {**values, **result, "red_flag_routes": carried.groups}
            text = _guarded(partial, lambda: env.get_template(partial).render(summary_values))
            summary = " ".join(text.split())
            if len(self._summaries) > 10_000:  # a bound, not a policy: refill as needed
                self._summaries.clear()
            self._summaries[key] = summary
        return {**result, "red_flags_summary": summary}

    def render_system(
        self, *, name: str, channel: Channel, language: str, context: Mapping[str, object]
    ) -> Rendered:
        template = f"_system/{name}.{channel.value}.{language}.j2"
        lang = language
        if not (self.messages_dir / template).is_file():
            lang = DEFAULT_LANGUAGE
            template = f"_system/{name}.{channel.value}.{lang}.j2"
        return self._render(self._system, template, channel, lang, dict(context))

    def _plan_env(self, plan: Plan) -> SandboxedEnvironment:
        with self._plans_lock:
            env = self._plans.get(plan.sha256)
            if env is not None:
                self._plans.move_to_end(plan.sha256)
                return env
        env = make_environment(NamedDictLoader(dict(plan.templates)), self._compiled)
        with self._plans_lock:
            self._plans[plan.sha256] = env
            while len(self._plans) > PLAN_ENVIRONMENTS_MAX:
                self._plans.popitem(last=False)
        return env

    def _render(
        self,
        env: SandboxedEnvironment,
        name: str,
        channel: Channel,
        language: str,
        values: dict[str, Any],
    ) -> Rendered:
        if channel is Channel.SMS:
            text = normalise_sms(_guarded(name, lambda: env.get_template(name).render(values)))
            return Rendered(
                subject=None, text=text, html=None, segments=count_segments(text).segments
            )
        return self._render_email(env, name, language, values)

    def _render_email(
        self, env: SandboxedEnvironment, name: str, language: str, values: dict[str, Any]
    ) -> Rendered:
        def parts() -> tuple[str, str]:
            template = env.get_template(name)
            missing = {"subject", "text"} - set(template.blocks)
            if missing:
                raise RenderError(name, None, f"email needs block(s): {', '.join(sorted(missing))}")
            ctx = template.new_context(values)
            try:
                subject = "".join(template.blocks["subject"](ctx))
                text = "".join(template.blocks["text"](ctx))
            except Exception:
                # Blocks called directly skip Jinja's traceback rewriting; this restores
                # template names and lines in the error.
                env.handle_exception()
            return " ".join(subject.split()), _tidy(text)

        subject, text = _guarded(name, parts)
        layout = f"_partials/email.{language}.html.j2"
        html_values = {**values, "subject": subject, "paragraphs": paragraphs(text)}
        html = _guarded(layout, lambda: env.get_template(layout).render(html_values))
        return Rendered(subject=subject, text=text, html=html, segments=None)


def _guarded(name: str, render: Callable[[], Any]) -> Any:
    """Run a render, turning any template failure into a RenderError with its line."""
    try:
        return render()
    except RenderError:
        raise
    except TemplateSyntaxError as exc:
        where = _relative(exc.filename or exc.name or name)
        raise RenderError(where, exc.lineno, exc.message or "syntax error") from exc
    except (TemplateError, TypeError, ValueError, KeyError) as exc:
        where, line = _error_location(exc, name)
        reason = str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
        raise RenderError(where, line, reason) from exc


def _error_location(exc: BaseException, name: str) -> tuple[str, int | None]:
    """The innermost template frame of a runtime error (Jinja rewrites the traceback
    so template code appears with the template's file name and line)."""
    where, line = name, None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "top-level template code" or code.co_name.startswith("block "):
            where, line = _relative(code.co_filename), tb.tb_lineno
        tb = tb.tb_next
    return where, line


def _relative(filename: str) -> str:
    """`.../templates/messages/_system/x.sms.en.j2` -> `_system/x.sms.en.j2`."""
    marker = "/messages/"
    return filename.rsplit(marker, 1)[1] if marker in filename else filename


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def paragraphs(text: str) -> list[dict[str, Any]]:
    """Plain text to HTML-ready blocks: paragraphs, and runs of '- ' lines as lists."""
    blocks: list[dict[str, Any]] = []
    for chunk in text.split("\n\n"):
        for line in (line.strip() for line in chunk.splitlines()):
            kind, value = ("bullets", line[2:]) if line.startswith("- ") else ("lines", line)
            if not line:
                continue
            if blocks and kind in blocks[-1] and not blocks[-1].get("closed"):
                blocks[-1][kind].append(value)
            else:
                if blocks:
                    blocks[-1]["closed"] = True
                blocks.append({kind: [value]})
        if blocks:
            blocks[-1]["closed"] = True
    for block in blocks:
        block.pop("closed", None)
    return blocks


def format_date(value: datetime.date, language: str) -> str:
    month = MONTHS.get(language, MONTHS["en"]).split()[value.month - 1]
    if language == "es":
        return f"{value.day} de {month}"
    return f"{month} {value.day}"


def message_context(
    *,
    patient_first_name: str,
    clinic_name: str,
    clinic_phone: str,
    emergency_phone: str,
    procedure_at_local: datetime.datetime,
    language: str,
    extra: Mapping[str, object] | None = None,
    patient_phone: str | None = None,
    clinic_24h: bool = False,
) -> dict[str, object]:
    """The variables every template may use (plus step vars and `extra`).

    The clinic's number is shown as the patient dials it (`service.phones`);
    `clinic_24h` says whether the clinic answers that number day and night, the only
    case in which a message may say "day or night".
    """
    context: dict[str, object] = {
        "patient_first_name": patient_first_name,
        "clinic_name": clinic_name,
        "clinic_phone": display_phone(clinic_phone, patient_phone=patient_phone),
        "clinic_24h": clinic_24h,
        "emergency_phone": emergency_phone,
        "procedure_date": format_date(procedure_at_local.date(), language),
        "procedure_time": procedure_at_local.strftime("%H:%M"),
        "language": language,
    }
    context.update(extra or {})
    return context
