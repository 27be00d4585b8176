"""A version as a YAML document in the shape of example-sla.yaml, and such documents read back.

Export adds identification keys (agreement, version, modification_number, state,
content_hash) to the example's shape; import (`workflow.commands.import_version`) reads terms
and metrics from a document and tolerates those keys, so an export imports unchanged.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any, cast

import yaml
from sqlmodel import Session, select

from states import Role, Side
from workflow.errors import InvalidInput
from workflow.models import Agreement, AgreementVersion, Organization, StakeholderAssignment, User

MEDIA_TYPE = "application/yaml"

# Stored as ISO strings; written as YAML dates so an export reads like the hand-written example.
_DATE_TERMS = ("period_start", "period_end")


def export_version(
    session: Session, agreement: Agreement, version: AgreementVersion
) -> dict[str, Any]:
    """YAML-ready data: identification keys, then the example's shape (plain types only)."""
    return {
        "agreement": agreement.key,
        "version": version.number,
        "modification_number": version.modification_number,
        "state": version.state,
        "content_hash": version.content_hash,
        "title": agreement.title,
        "customer": _org_name(session, agreement.customer_org_id),
        "provider": _org_name(session, agreement.provider_org_id),
        "remedy_policy": agreement.remedy_policy,
        "terms": _terms_for_yaml(version.terms),
        # A copy: callers may reshape the document without touching the row's JSON.
        "metrics": copy.deepcopy(version.metrics),
        "stakeholders": stakeholders_by_side(session, agreement),
    }


def _org_name(session: Session, organization_id: int) -> str:
    org = session.get(Organization, organization_id)
    assert org is not None  # a foreign key guarantees it
    return org.name


def _terms_for_yaml(terms: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(terms)
    for name in _DATE_TERMS:
        if isinstance(out.get(name), str):
            out[name] = date.fromisoformat(out[name])
    return out


def stakeholders_by_side(session: Session, agreement: Agreement) -> dict[str, Any]:
    """`{side: {role: {name, email}}}` in the roles' canonical order; unfilled roles omitted."""
    rows = session.exec(
        select(StakeholderAssignment, User)
        .join(User, StakeholderAssignment.user_id == User.id)  # type: ignore[arg-type]
        .where(StakeholderAssignment.agreement_id == agreement.id)
    ).all()
    holders = {(a.side, a.role): user for a, user in rows}
    return {
        side.value: {
            role.value: {"name": user.name, "email": user.email}
            for role in Role
            if (user := holders.get((side.value, role.value))) is not None
        }
        for side in Side
    }


class _ExportDumper(yaml.SafeDumper):
    """Never writes anchors and aliases (the import refuses them); indents lists like the
    example does."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(
        document,
        Dumper=_ExportDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


class _ImportLoader(yaml.SafeLoader):
    """Safe YAML that refuses what would be misread silently or expand without bound."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Nested aliases expand exponentially once the document is validated and hashed.
        if self.check_event(yaml.AliasEvent):
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
            mark = cast("yaml.Mark | None", event.start_mark)
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not supported", mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of duplicate keys; a second `target:` must not win unnoticed.
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if (key_node.tag, key_node.value) in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add((key_node.tag, key_node.value))
        return super().construct_mapping(node, deep=deep)


def parse_document(text: str | bytes) -> dict[str, Any]:
    """The mapping a YAML document holds, or InvalidInput saying where it went wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("the document is not UTF-8 text") from None
    try:
        document = yaml.load(text, Loader=_ImportLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _invalid(f"not valid YAML: {_describe(exc)}") from None
    if not isinstance(document, dict):
        raise _invalid("the document must be a YAML mapping with terms and metrics")
    odd = [k for k in document if not isinstance(k, str)]
    if odd:
        raise _invalid(f"top-level keys must be text, found {odd[0]!r}")
    return document


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, [{"field": "body", "message": message}])


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or "syntax error"
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
        return problem
    return str(exc).splitlines()[0]
