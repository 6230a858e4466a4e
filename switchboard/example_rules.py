"""The example rule files shipped inside the package, for `switchboard demo` and tests.

Owns where they are: `switchboard/examples/` (links to config/ in a checkout, real
files in an installed wheel), found through importlib.resources so an installed
package finds them in site-packages. `switchboard run` never falls back to them:
its rule files are settings (rules.routing, ...).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

RULE_KINDS = ("routing", "campaigns", "dispositions", "tasks")


def example_rules(kind: str) -> Path:
    """The shipped example of a rule file (`routing`, `campaigns`, `dispositions`, `tasks`)."""
    if kind not in RULE_KINDS:
        raise ValueError(f"no example rule file {kind!r} (known: {', '.join(RULE_KINDS)})")
    found = resources.files("switchboard").joinpath("examples", f"{kind}.yaml")
    return Path(str(found))  # the package is installed as files (wheel or checkout), never zipped
