"""Settings of the simulated Asterisk: logins, endpoints, timings and inbound traffic.

One frozen pydantic model, `SimConfig`, whose defaults give a working PBX: a
`switchboard` AMI login, a trunk called `trunk`, customers who mostly answer,
agent phones that answer after a second. Every duration is in *simulated*
seconds; `time_scale` says how many simulated seconds pass per real second.
Ranges `(low, high)` are drawn uniformly with the simulator's seeded RNG.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CustomerOutcome = Literal["answer", "busy", "noanswer", "congestion", "machine", "reject"]
CUSTOMER_OUTCOMES: tuple[CustomerOutcome, ...] = (
    "answer",
    "busy",
    "noanswer",
    "congestion",
    "machine",
    "reject",
)

Range = tuple[float, float]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_range(name: str, value: Range | None) -> None:
    if value is not None and not 0 <= value[0] <= value[1]:
        raise ValueError(f"{name} must be (low, high) with 0 <= low <= high, got {value}")


class EventOrder(_Frozen):
    """How often a call's events come in each order a real Asterisk 22 delivers them besides the
    usual one (pbx/sim/ordering.py, docs/sim.md); probabilities per call, seeded.

    `EventOrder()` is the usual order only; `EventOrder.realistic()` (SimConfig's default) the
    frequencies measured on Asterisk 22.10.1; `EventOrder.every_order(p)` each with probability p."""

    originate_response_first: float = Field(0.0, ge=0, le=1)
    """The OriginateResponse before its channel's Newchannel (and the events after it)."""
    originate_response_after_answer: float = Field(0.0, ge=0, le=1)
    """An answered Local `;1`: the OriginateResponse after its Newstate Up and DialEnd ANSWER."""
    far_half_up_first: float = Field(0.0, ge=0, le=1)
    """An answered Local channel: the `;2` Newstate Up before the `;1` Newstate Up."""
    partner_hangup_first: float = Field(0.0, ge=0, le=1)
    """A Local channel hung up at one half: the other half's Hangup comes first."""
    hangup_before_bridge_leave: float = Field(0.0, ge=0, le=1)
    """A hung-up channel's Hangup before the BridgeLeave / BridgeDestroy of its bridge."""
    hangup_before_attended_transfer: float = Field(0.0, ge=0, le=1)
    """A transferer who completes an attended transfer by hanging up: its Hangup before the
    AttendedTransfer (seen on Asterisk 22.10.1 with a Local agent leg, whose ;2 half hangs up in its
    own thread while the bridges merge; the usual order is the AttendedTransfer first)."""

    @classmethod
    def every_order(cls, probability: float = 0.5) -> EventOrder:
        return cls(**{name: probability for name in cls.model_fields})

    @classmethod
    def realistic(cls) -> EventOrder:
        """The frequencies seen on a real Asterisk 22.10.1 (docs/sim.md, "Event orders")."""
        return cls(**REALISTIC_ORDER)


REALISTIC_ORDER: dict[str, float] = {
    # 7 of 326 agent originates in the real-Asterisk chaos runs (docs/reliability.md)
    "originate_response_first": 0.021,
    # OriginateResponse after the ;1 Newstate Up in 44 % of those 326; 2 of 7 in the recording
    "originate_response_after_answer": 0.44,
    # ;2 Up before ;1 Up in 5 of 8 answered Local originates of the recording
    "far_half_up_first": 0.6,
    # the half that did not start the hang-up ends first in 1 of 9 recorded ends of an answered
    # Local channel (the caller of the recording's second queue call; the regex Hangup of both
    # halves left out)
    "partner_hangup_first": 0.11,
    # not in the recording for a bridged channel's own Hangup; seen in issue 10's real runs
    # (frequency not measured): a small share so that every long run goes through it
    "hangup_before_bridge_leave": 0.05,
    # an advisor completing an attended transfer by hanging up: their Local ;2 Hangup came before
    # the AttendedTransfer in 2 of 6 runs on Asterisk 22.10.1 (docs/transfers.md)
    "hangup_before_attended_transfer": 0.33,
}


class CustomerProfile(_Frozen):
    """How dialled customers behave, as weights (normalised) and time ranges."""

    answer: float = Field(0.6, ge=0)
    busy: float = Field(0.1, ge=0)
    noanswer: float = Field(0.15, ge=0)
    congestion: float = Field(0.05, ge=0)
    machine: float = Field(0.08, ge=0)
    reject: float = Field(0.02, ge=0)
    ring_s: Range = (2.0, 8.0)
    """Ringing before a human or a machine answers."""
    signal_s: Range = (0.5, 2.0)
    """Delay before busy / congestion / reject is signalled."""
    talk_s: Range = (60.0, 180.0)
    """Conversation length once bridged to an agent."""
    patience_s: Range = (20.0, 60.0)
    """How long an answered customer listens to hold music before hanging up."""
    machine_s: Range = (15.0, 30.0)
    """How long an answering machine stays on the line."""
    reject_cause: int = 21

    @model_validator(mode="after")
    def _ranges(self) -> CustomerProfile:
        for name in ("ring_s", "signal_s", "talk_s", "patience_s", "machine_s"):
            _check_range(name, getattr(self, name))
        if sum(self.weights().values()) <= 0:
            raise ValueError("at least one customer outcome needs a positive weight")
        return self

    def weights(self) -> dict[CustomerOutcome, float]:
        return {outcome: float(getattr(self, outcome)) for outcome in CUSTOMER_OUTCOMES}


class CustomerScript(_Frozen):
    """A forced behaviour for one number (tests); unset times come from the profile."""

    outcome: CustomerOutcome = "answer"
    ring_s: float | None = Field(None, ge=0)
    talk_s: float | None = Field(None, ge=0)
    patience_s: float | None = Field(None, ge=0)
    cause: int | None = None
    """Q.850 cause of a `reject` (default: the profile's reject_cause)."""
    order: EventOrder | None = None
    """This number's calls come in these orders instead of the PBX's (SimConfig.order)."""


class AgentPhone(_Frozen):
    """An agent's phone: answers after `answer_after_s`, or never when None."""

    answer_after_s: float | None = Field(1.0, ge=0)
    talk_s: float | None = Field(None, ge=0)
    """The agent hangs up this long after being bridged; None: when the far side does."""
    busy_when_in_call: bool = True
    """A phone already in a call answers a second call with busy (no call waiting)."""
    hangup_unbridged_after_s: float | None = Field(None, ge=0)
    """The agent hangs up an answered leg not bridged within this long (as a real agent does who
    hears nobody); None: the leg waits for ever."""


class TierPool(_Frozen):
    """Callers of one tier: explicit numbers, or `count` numbers `prefix` + index."""

    tier: str
    weight: float = Field(1.0, gt=0)
    numbers: tuple[str, ...] = ()
    prefix: str = "+3630"
    count: int = Field(1000, ge=1)

    def number(self, index: int) -> str:
        if self.numbers:
            return self.numbers[index % len(self.numbers)]
        width = max(7, len(str(self.count - 1)))
        return f"{self.prefix}{index % self.count:0{width}d}"

    @property
    def size(self) -> int:
        return len(self.numbers) or self.count


class TrafficConfig(_Frozen):
    """The inbound generator: Poisson arrivals over caller tiers and dialled numbers."""

    arrivals_per_minute: float = Field(6.0, gt=0)
    tiers: tuple[TierPool, ...] = (
        TierPool(tier="key", weight=0.1, prefix="+3620", count=100),
        TierPool(tier="important", weight=0.2, prefix="+3630", count=1000),
        TierPool(tier="active", weight=0.5, prefix="+3670", count=10000),
        TierPool(tier="inactive", weight=0.2, prefix="+3650", count=10000),
    )
    dialled: dict[str, float] = Field(default_factory=lambda: {"+3612345678": 0.8, "+3612345600": 0.2})
    """Dialled number -> weight (e.g. a VIP line)."""
    ivr_choices: dict[str, float] = Field(default_factory=dict)
    """IVR choice -> weight; empty: no IVR (IvrChoice is empty)."""
    patience_s: Range = (30.0, 240.0)
    talk_s: Range = (60.0, 240.0)
    max_calls: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ranges(self) -> TrafficConfig:
        _check_range("patience_s", self.patience_s)
        _check_range("talk_s", self.talk_s)
        if not self.tiers:
            raise ValueError("traffic needs at least one caller tier")
        if not self.dialled or min(self.dialled.values()) < 0 or sum(self.dialled.values()) <= 0:
            raise ValueError("dialled needs at least one number with a positive weight")
        return self


SHIPPED_READ: dict[str, tuple[str, ...]] = {"switchboard": ("system", "call", "dialplan", "user")}
"""config/asterisk/manager_switchboard.conf's `read=` for the engine's login."""


class SimConfig(_Frozen):
    """Everything the simulated Asterisk needs; the defaults work out of the box."""

    banner_version: str = "11.0.0"
    asterisk_version: str = "22.10.1"
    users: dict[str, str] = Field(default_factory=lambda: {"switchboard": "switchboard-secret"})
    """AMI logins: username -> secret (manager.conf)."""
    read: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(SHIPPED_READ))
    """manager.conf `read=` per login: the event classes it receives (as Asterisk 22 checked: the
    default, config/asterisk/manager_switchboard.conf's, gets no DTMFBegin/DTMFEnd). A login not
    listed reads everything (`read = all`)."""
    channelvars: tuple[str, ...] = (
        "SWITCHBOARD_CALL_ID", "SWITCHBOARD_CASE_ID", "SWITCHBOARD_TIER", "SWITCHBOARD_AGENT_ID",
        "SWITCHBOARD_DIALLED", "SWITCHBOARD_IVR", "SWITCHBOARD_QUEUE", "SWITCHBOARD_ARRIVED",
        "SWITCHBOARD_SHARD",
    )  # fmt: skip
    """Variables shown as ChanVariable on every channel event and CoreShowChannel (manager.conf
    channelvars=; the default is config/asterisk/manager_switchboard.conf's list)."""
    timestamp_events: bool = True
    """manager.conf timestampevents=yes: a Timestamp header on events."""
    time_scale: float = Field(1.0, gt=0)
    """Simulated seconds per real second (60: one simulated minute per second)."""
    start_time: float | None = None
    """Simulated epoch at start; None: the real time when the simulator is built."""
    trunks: tuple[str, ...] = ("trunk",)
    """PJSIP endpoints that reach customers: PJSIP/{number}@trunk."""
    inbound_trunk: str = "trunk"
    trunk_context: str = "from-trunk"
    agent_context: str = "agents"
    """Local/{ext}@agents rings agent phone {ext}."""
    agent_endpoint_context: str = "from-agents"
    customer_contexts: tuple[str, ...] = ("customers", "outbound")
    """Local/{number}@<one of these> dials customer {number}."""
    customers: CustomerProfile = CustomerProfile()
    customer_overrides: dict[str, CustomerOutcome | CustomerScript] = Field(default_factory=dict)
    """Number -> forced outcome or script, e.g. {"+36301234567": "busy"}."""
    agents: dict[str, AgentPhone] = Field(default_factory=dict)
    """Agent extension -> phone behaviour; unknown extensions use default_agent."""
    default_agent: AgentPhone = AgentPhone()
    traffic: TrafficConfig = TrafficConfig()
    extra_dialplan: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """More contexts: name -> steps such as "Answer()", "Playback(closed)", "Hangup()" (any exten)."""
    dialplan_conf: str = ""
    """extensions.conf text whose contexts are added (e.g. `switchboard asterisk-dialplan`'s IVR)."""
    atxfer_feature: str = "*2"
    """features.conf's `atxfer` code. Empty: none configured, and the AMI Atxfer action is refused with
    "No attended transfer feature code found", as Asterisk 22 does (it queues this code as DTMF)."""
    dtmf_s: float = Field(0.5, ge=0)
    """How long after a Read() starts a caller who presses a key presses it (interrupting the prompt)."""
    local_answer_lag_s: float = Field(0.0, ge=0)
    """A Local agent channel with Dial behind its `;2` half: the phone's answer reaches `;2` first and
    the Originate's `;1` this much later (0: both at once, as recorded with an answering `;2`)."""
    amd_s: Range = (1.0, 3.5)
    """How long AMD() listens before deciding."""
    playback_s: float = Field(3.0, ge=0)
    missing_applications: tuple[str, ...] = ()
    """Dialplan applications this Asterisk lacks, e.g. ("Festival",) where app_festival declined to
    load (no festival.conf): a step running one ends the call, as Asterisk 22 does (no Newexten;
    SoftHangupRequest, Hangup cause 0); `TryExec` of one sets TRYSTATUS=NOAPP and goes on."""
    failing_applications: tuple[str, ...] = ()
    """Applications that fail at once when run under `TryExec` (TRYSTATUS=FAILED), e.g.
    ("Festival",) where app_festival loaded but no Festival server answers."""
    order: EventOrder = EventOrder.realistic()
    """How often each of Asterisk 22's other event orders comes (the measured frequencies by
    default; `EventOrder()` for the usual order only, `every_order(1.0)` to force them all)."""
    event_history: int = Field(10000, ge=0)
    """Emitted events kept for `SimulatedPbx.events` / `wait_for_event`."""

    @model_validator(mode="after")
    def _ranges(self) -> SimConfig:
        _check_range("amd_s", self.amd_s)
        if not self.users:
            raise ValueError("users needs at least one AMI login")
        return self

    def customer_script(self, number: str) -> CustomerScript | None:
        forced = self.customer_overrides.get(number)
        if forced is None or isinstance(forced, CustomerScript):
            return forced
        return CustomerScript(outcome=forced)

    def order_for(self, number: str) -> EventOrder:
        """The event orders of a call to `number` (its script's, else the PBX's)."""
        script = self.customer_script(number)
        return script.order if script is not None and script.order is not None else self.order

    def agent_phone(self, extension: str) -> AgentPhone:
        return self.agents.get(extension, self.default_agent)
