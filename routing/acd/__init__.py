"""The inbound ACD's execution shell: the routing core's decisions carried out over AMI, state in Redis.

- service: AcdService, the PbxService the engine drives (events, resync, tick), plus
  the operations the API calls (api_operations) and the rule swap
- lifecycle: one inbound call as a pure table (call_events: its events and effects; its
  transitions by phase: offer_transitions, end_transitions, transfer_transitions; case_payloads)
- callflow: reactions to call events (arrival, agent answered or not, hangups, resync), fed to
  the table; inbound_effects: the table's effects performed; transfer_flow: a phone's transfers
- dispatcher: routing decisions and agent lifecycle effects, carried out
- state_writes: memory mirrors Redis (every write, the compare-and-sets, the write-back after a failure)
- ownership: whether this engine owns the ACD (its lease), and taking it over
- executor: AMI actions (Originate the agent, Bridge, Hangup, Redirect)
- store / store_records / routing_keys / acd_keys: Redis persistence (atomic multi-key updates,
  Lua compare-and-set), the stored JSON and the key names
- state / views: working memory and what the API shows of it
- events: the case-handover stream (XADD) the API reads
- acd_metrics: AcdMetrics(registry)
- timers: ring safety nets, wrap-up ends, re-decisions
See docs/acd.md.
"""

from routing.acd.acd_keys import AcdKeys
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.context import AcdOptions
from routing.acd.events import AcdEvent, AcdEvents
from routing.acd.service import AcdService
from routing.acd.store import AcdStore

__all__ = ["AcdEvent", "AcdEvents", "AcdKeys", "AcdMetrics", "AcdOptions", "AcdService", "AcdStore"]
