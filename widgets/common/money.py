"""Money as the portal formats it: crm.currency.list's FORMAT_STRING, DEC_POINT, THOUSANDS_SEP, DECIMALS.

bitrix24-protocol.md §7.3: FORMAT_STRING is a template with "#" for the number ("# €", "$#");
THOUSANDS_SEP may be the literal HTML entity "&nbsp;" (or null), so entities are decoded here and
the template escapes the result like any other text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from widgets.common import pricing

NBSP = "\u00a0"


@dataclass(frozen=True)
class CurrencyFormat:
    code: str
    name: str = ""
    format_string: str = "#"
    dec_point: str = "."
    thousands_sep: str = NBSP
    decimals: int = 2

    @classmethod
    def fallback(cls, code: str) -> CurrencyFormat:
        """A currency the portal did not describe: the number and the code."""
        return cls(code=code, name=code, format_string=f"# {code}" if code else "#")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CurrencyFormat:
        code = str(data.get("CURRENCY") or "")
        decimals = str(data.get("DECIMALS") or "2")
        return cls(
            code=code,
            name=html.unescape(str(data.get("FULL_NAME") or code)),
            format_string=html.unescape(str(data.get("FORMAT_STRING") or "")) or f"# {code}",
            dec_point=html.unescape(str(data.get("DEC_POINT") or ".")),
            # "&nbsp;" arrives as the entity; a plain space would wrap "1 200" at the end of a line.
            thousands_sep=html.unescape(str(data.get("THOUSANDS_SEP") or "")).replace(" ", NBSP),
            decimals=int(decimals) if decimals.isdigit() and int(decimals) <= 6 else 2,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "format_string": self.format_string,
            "dec_point": self.dec_point,
            "thousands_sep": self.thousands_sep,
            "decimals": self.decimals,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CurrencyFormat:
        return cls(
            code=str(data.get("code", "")),
            name=str(data.get("name", "")),
            format_string=str(data.get("format_string", "#")),
            dec_point=str(data.get("dec_point", ".")),
            thousands_sep=str(data.get("thousands_sep", NBSP)),
            decimals=int(data.get("decimals", 2)),
        )

    def number(self, amount: Decimal) -> str:
        """The number part: grouped thousands, the currency's decimals and decimal point."""
        step = Decimal(1).scaleb(-self.decimals)
        rounded = amount.quantize(step, rounding=ROUND_HALF_UP)
        sign = "-" if rounded < 0 else ""
        whole, _, fraction = f"{abs(rounded):f}".partition(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        text = self.thousands_sep.join(groups)
        return sign + (text + self.dec_point + fraction if fraction else text)

    def money(self, amount: Decimal) -> str:
        """ "$1,200.00", "1 200,00 €"; a negative amount gets its sign in front: "-$5.00"."""
        template = self.format_string if "#" in self.format_string else f"# {self.format_string}"
        text = template.replace("#", self.number(abs(amount)), 1)
        negative = amount.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP) < 0
        return "-" + text if negative else text


def plain(value: Decimal, *, places: int, dec_point: str = ".") -> str:
    """A number for an input: fixed places for money, no trailing zeros for quantities and rates."""
    if places >= 0:
        text = f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    else:
        text = f"{value.normalize():f}" if value != value.to_integral_value() else f"{value.to_integral_value():f}"
    return text.replace(".", dec_point) if dec_point != "." else text


def decimal_of(value: Any, default: Decimal = pricing.ZERO) -> Decimal:
    if value is None or isinstance(value, bool) or value == "":
        return default
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return default
    return number if number.is_finite() else default


def int_of(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None
