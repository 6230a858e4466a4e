"""Inbound ACD: routing rules, caller classification, agent lifecycle, waiting queue, selection.

Pure cores (no I/O; time is passed in as epoch seconds):
- yamlconf / yamlmarks / messages: generic YAML + pydantic loading with file:line:col issues
- rules (models) / checks (cross-references) / plan (compiled lookup tables) / hours
- numbers: E.164 normalisation (shared with the dialer)
- classify: caller -> tier, priority, needs
- queue: waiting calls and their order (priority, aging)
- snapshot: immutable indexed view of agents and waiting calls
- selection: decide(call) -> agent / wait / overflow / exit, pick_call(agent) -> call
- dispatch: route a whole queue without double-booking (restart, reload)
- agents / agent_events: the agent lifecycle table and occupancy
- explain: the text of `switchboard explain`
- keys / records: Redis key names and stored JSON, for the shell
- synth: seeded synthetic workloads for tests and benchmarks
"""
