"""The chaos suite (scripts/chaos): the engine under traffic while faults are injected, and what was
lost, dialed twice or dropped, counted from the simulated PBX's ground truth. See docs/chaos.md."""
