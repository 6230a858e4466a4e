"""The Asterisk dialplan that plays routing.yaml's IVR menus (`switchboard asterisk-dialplan`). Pure.

Owned here: the exact text an admin includes next to extensions_switchboard.conf. Rules it keeps:
- `[switchboard-ivr]` is where the trunk sends every DID: a line with a menu goes to the menu's
  context, any other line straight to `[switchboard-inbound]` (the queue, as before menus).
- A menu context keeps ${EXTEN} = the dialled line, reads one digit with `Read()` (the prompt
  played `attempts` times at most, `timeout` seconds for the digit each time), and leaves to
  `[switchboard-inbound]` with SWITCHBOARD_IVR = the digit and SWITCHBOARD_QUEUE = the option's
  queue: the engine classifies the digit exactly as it does a digit set by any IVR
  (`IvrChoice` of the SwitchboardInbound UserEvent).
- No digit after the last attempt sets SWITCHBOARD_IVR=t, a wrong digit on the last attempt
  SWITCHBOARD_IVR=i; each then goes to the operator option or to an exit, as the menu says,
  so the agent sees the caller chose nothing.
- Only Answer, Set, Read, GotoIf with `$[...]`, Goto and Playback: applications every Asterisk
  20/22 has, and the ones pbx/sim runs, so the tests play the very text printed here.
"""

from __future__ import annotations

from routing.rules import Menu, MenuFallback, Rules

IVR_CONTEXT = "switchboard-ivr"
INBOUND_CONTEXT = "switchboard-inbound"
EXIT_CONTEXT = "switchboard-exit"
TRY = "SWITCHBOARD_IVR_TRY"
CHOICE = "SWITCHBOARD_IVR"


def menu_context(menu: Menu) -> str:
    return f"switchboard-menu-{menu.name}"


def render(rules: Rules, *, rules_hash: str = "", exit_context: str = EXIT_CONTEXT) -> str:
    """The whole include file for `rules` (a header and `[switchboard-ivr]` even without menus)."""
    lines = [*_header(rules_hash), f"[{IVR_CONTEXT}]"]
    for menu in rules.menus:
        lines += [f"exten => {line},1,Goto({menu_context(menu)},${{EXTEN}},1)" for line in menu.lines]
    lines.append(f"exten => _[+0-9].,1,Goto({INBOUND_CONTEXT},${{EXTEN}},1)")
    for menu in rules.menus:
        lines += ["", *_menu(menu, exit_context)]
    return "\n".join(lines) + "\n"


def _header(rules_hash: str) -> list[str]:
    made_from = f"routing.yaml (rules {rules_hash[:12]})" if rules_hash else "routing.yaml"
    return [
        "; " + "=" * 77,
        f"; Switchboard IVR menus, written by `switchboard asterisk-dialplan` from {made_from}.",
        "; Do not edit: change `menus` in routing.yaml and write this file again.",
        "; Include it after the shipped snippet, in extensions.conf:",
        ";     #include extensions_switchboard.conf",
        ";     #include extensions_switchboard_ivr.conf",
        "; and send your DIDs here instead of to [switchboard-inbound], e.g. from the trunk's context:",
        ";     exten => _X.,1,Goto(switchboard-ivr,${EXTEN},1)",
        "; A line with a menu plays it; every other line goes straight to the queue. Record each",
        "; menu's prompt (and switchboard-invalid) as Asterisk sound files.",
        "; " + "=" * 77,
    ]


def _menu(menu: Menu, exit_context: str) -> list[str]:
    digits = list(menu.options)
    last_try = menu.attempts
    steps: list[tuple[str, str]] = [
        ("", f"NoOp(Switchboard: menu {menu.name} on ${{EXTEN}} for ${{CALLERID(num)}})"),
        ("", "Answer()"),
        ("", f"Set({TRY}=0)"),
        ("ask", f"Set({TRY}=$[${{{TRY}}} + 1])"),
        ("", f"Read({CHOICE},{menu.prompt},1,,1,{menu.timeout:g})"),
    ]
    steps += [("", f'GotoIf($["${{{CHOICE}}}" = "{digit}"]?option{digit})') for digit in digits]
    steps += [
        ("", f'GotoIf($["${{{CHOICE}}}" = ""]?nodigit)'),
        ("", f"Playback({menu.invalid_prompt})"),
        ("", f"GotoIf($[${{{TRY}}} < {last_try}]?ask)"),
        ("", f"Set({CHOICE}=i)"),
        ("", _fallback(menu, menu.on_invalid, exit_context)),
        ("nodigit", f"GotoIf($[${{{TRY}}} < {last_try}]?ask)"),
        ("", f"Set({CHOICE}=t)"),
        ("", _fallback(menu, menu.on_timeout, exit_context)),
    ]
    for digit, option in menu.options.items():
        steps += [
            (f"option{digit}", f"Set(SWITCHBOARD_QUEUE={option.queue})"),
            ("", f"Goto({INBOUND_CONTEXT},${{EXTEN}},1)"),
        ]
    title = f"; menu {menu.name}" + (f": {menu.description}" if menu.description else "")
    options = [f";   {digit}: {o.label} -> queue {o.queue}" for digit, o in menu.options.items()]
    body = [title, *options, f"[{menu_context(menu)}]"]
    for number, (label, step) in enumerate(steps):
        priority = "1" if number == 0 else (f"n({label})" if label else "n")
        body.append(f"exten => _[+0-9].,1,{step}" if number == 0 else f" same => {priority},{step}")
    return body


def _fallback(menu: Menu, fallback: MenuFallback, exit_context: str) -> str:
    if fallback.action == "operator":
        return f"Goto(option{menu.operator_digit})"
    return f"Goto({exit_context},{fallback.exit_to},1)"
