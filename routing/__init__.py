"""Inbound ACD: routing rules, caller classification, agent lifecycle, waiting queue, selection.

Pure cores (no I/O; time is passed in as epoch seconds):
- rules (models) / rule_checks (cross-references) / plan (compiled lookup tables) / opening_hours
- classify: caller -> tier, priority, needs
- queue: waiting calls and their order (priority, aging)
- snapshot: immutable indexed view of agents and waiting calls
- persistent_map: the snapshot's agents and calls (an update copies one small leaf, not the map)
- selection: decide(call) -> agent / wait / overflow / exit, pick_call(agent) -> call
- batch_dispatch: route a whole queue without double-booking (restart, reload)
- agents / agent_events: the agent lifecycle table and occupancy
- explain: the text of `switchboard explain`
acd/ is the shell: Redis keys and records, AMI, the call lifecycle (routing/acd/__init__.py).
Config loading and phone numbers are shared with the dialer from core/.
"""
