"""Every fault and what its options mean, read from the fault classes themselves.

``chaos-harness list`` prints this and the README's fault table is generated from it
(``python -m faults.catalog`` prints the table; a test keeps the README in step), so an option's
unit and meaning are written once, next to the option (``faults.base.option``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from faults.base import Fault, fault_class, fault_names

#: Options every fault takes (``faults.base.Fault``), described once rather than in every row.
COMMON = tuple(f.name for f in dataclasses.fields(Fault) if f.init)


@dataclass(frozen=True)
class OptionDoc:
    name: str
    default: Any
    unit: str
    help: str

    @property
    def label(self) -> str:
        """``latency (ms)``: the name with its unit, as in the README table."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


def options_of(cls: type[Fault], *, common: bool = True) -> list[OptionDoc]:
    """The fault's options in declaration order (without the shared ones unless ``common``)."""
    return [OptionDoc(f.name, _default(f), f.metadata.get("unit", ""), f.metadata.get("help", ""))
            for f in dataclasses.fields(cls) if f.init and (common or f.name not in COMMON)]


def _default(f: dataclasses.Field) -> Any:
    value = f.default
    return list(value) if isinstance(value, tuple) else value


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def describe_faults() -> list[str]:
    """Lines for ``chaos-harness list``: each fault, its summary, then each option with unit and meaning."""
    lines = ["every fault also takes: " + "; ".join(f"{o.label}: {o.help}" for o in options_of(Fault))]
    for name in fault_names():
        cls = fault_class(name)
        lines.append(f"{name:28} {cls.summary}")
        for opt in options_of(cls, common=False):
            lines.append(f"    {opt.label:26} {opt.help} [default {_shown(opt.default)}]")
    return lines


def markdown_table() -> str:
    """The README's fault table: one row per fault, options with their units."""
    rows = ["| fault | what it does | options (unit) |", "|---|---|---|"]
    for name in fault_names():
        cls = fault_class(name)
        options = ", ".join(opt.label for opt in options_of(cls, common=False))
        rows.append(f"| `{name}` | {cls.summary} | {options} |")
    common = "; ".join(f"`{o.label}`: {o.help}" for o in options_of(Fault))
    return "\n".join(rows) + f"\n\nEvery fault also takes {common}. `chaos-harness list` shows each option's meaning.\n"


if __name__ == "__main__":
    import faults  # noqa: F401  (registers every family)

    print(markdown_table(), end="")
