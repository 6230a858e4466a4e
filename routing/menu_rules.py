"""The IVR menus of the routing rules (routing.yaml `menus:`): one level of 2-4 digits, exactly one
of them the operator, each leading to a queue and optionally a skill and level.
routing/ivr_dialplan.py turns them into Asterisk dialplan; routing/rules.py holds them in `Rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from core.config.loader import ConfigModel, schema_pattern, text_check
from core.config.vocabulary import Seconds
from routing.rule_fields import Did, Extension, Level, Name, Sound

MAX_MENU_OPTIONS = 4  # seed 004: one level of three or four options, one of them the operator


class MenuOption(ConfigModel):
    """One digit of an IVR menu: the queue it leads to, and optionally the skill and level it needs."""

    label: str = Field(min_length=1, description="what the caller chose, shown to the agent")
    queue: Name
    skill: Name | None = Field(None, description="the call needs this skill instead of the queue's")
    level: Level | None = Field(None, description="at this level (with skill)")
    operator: bool = Field(False, description="the 'operator' option: a person, no further questions")

    @model_validator(mode="before")
    @classmethod
    def _one_level(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            nested = [key for key in ("options", "menu", "submenu") if key in data]
            if nested:
                raise ValueError(
                    f"opens another menu ({nested[0]}): an IVR has one level only; "
                    "route the digit to a queue (and a skill) instead"
                )
        return data

    @model_validator(mode="after")
    def _skill_with_level(self) -> Self:
        if (self.skill is None) != (self.level is None):
            raise ValueError("needs both skill and level, or neither (then the queue's skill and level)")
        return self


class MenuFallback(ConfigModel):
    """What happens to a caller who chose nothing valid: the operator option, or a dialplan exit."""

    action: Literal["operator", "exit"] = "operator"
    exit_to: Extension = Field("voicemail", description="extension in switchboard-exit, for action: exit")


Digit = Annotated[str, text_check(r"^[0-9]$", "one digit 0-9"), schema_pattern(r"^[0-9]$")]


class Menu(ConfigModel):
    """A one-level IVR played on the lines listed: 2-4 digits, exactly one of them the operator."""

    name: Name
    description: str = ""
    lines: tuple[Did, ...] = Field(
        min_length=1, description="the dialled numbers (DIDs, as Asterisk's ${EXTEN}) that play this menu"
    )
    prompt: Sound = Field(description="the recording that reads the options out")
    invalid_prompt: Sound = Field("switchboard-invalid", description="played after a digit with no option")
    timeout: Seconds = Field(5, gt=0, le=30, description="how long to wait for a digit after the prompt")
    attempts: int = Field(2, ge=1, le=3, description="the prompt is played at most this many times")
    on_timeout: MenuFallback = Field(MenuFallback(), description="no digit after the last attempt")
    on_invalid: MenuFallback = Field(MenuFallback(), description="a wrong digit on the last attempt")
    options: dict[Digit, MenuOption] = Field(description="digit -> option (2-4, one operator)")

    @field_validator("options")
    @classmethod
    def _few_options_and_an_operator(cls, options: dict[str, MenuOption]) -> dict[str, MenuOption]:
        if len(options) > MAX_MENU_OPTIONS:
            raise ValueError(
                f"has {len(options)} options; a menu has at most {MAX_MENU_OPTIONS} "
                "(one level of three or four, one of them the operator)"
            )
        if len(options) < 2:
            raise ValueError("needs at least 2 options: the operator and one choice (else skip the menu)")
        operators = [digit for digit, option in options.items() if option.operator]
        if not operators:
            raise ValueError("has no operator option: mark one option `operator: true` (a person to talk to)")
        if len(operators) > 1:
            raise ValueError(f"has {len(operators)} operator options ({', '.join(operators)}); keep one")
        return options

    @property
    def operator_digit(self) -> str:
        return next(digit for digit, option in self.options.items() if option.operator)
