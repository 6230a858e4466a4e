// The advisor's home: my state, the call in hand (live), a preview offer, my tasks, Robinson requests.
import { get, getAll, post, put } from "./api.js";
import { h, clear, toast, add } from "./dom.js";
import { t, duration, dateTime } from "./i18n.js";
import * as stream from "./stream.js";
import { taskCard } from "./tasks.js";
import { robinsonCard } from "./robinson.js";

const me = encodeURIComponent;

export async function render(main, { session }) {
  // draft: what the advisor typed in the summary box and has not saved ({ callId, text }): a redraw
  // (the case read again, a colleague's event) shows it instead of the stored summary
  const view = { agent: null, offer: null, call: null, wrapUp: false, codes: [], queues: [], draft: null };
  const stateCard = h("section", { class: "card", "aria-labelledby": "state-title" });
  const callCard = h("section", { class: "card", "aria-labelledby": "call-title", "aria-live": "polite", id: "call" });
  const offerCard = h("section", { class: "card", "aria-labelledby": "offer-title", id: "offer" });
  add(main, h("h1", { text: t("advisor.title", { name: session.name }) }),
    h("div", { class: "grid" }, stateCard, callCard, offerCard), h("div", { style: "height:1rem" }),
    h("div", { class: "grid" }, await taskCard(session), await robinsonCard(session)));
  const agentPath = `/api/v1/acd/agents/${me(session.name)}`;

  async function act(action, body) {
    try {
      view.agent = await post(`${agentPath}/${action}`, body);
      drawState();
    } catch (exc) { toast(exc.message); }
  }

  function drawState() {
    add(clear(stateCard), h("h2", { id: "state-title", text: t("advisor.state") }));
    const agent = view.agent;
    if (!agent) { add(stateCard, h("p", { class: "notice", text: t("advisor.not_agent") })); return; }
    const since = h("span", { id: "state-time" });
    const tick = () => { since.textContent = duration(Date.now() / 1000 - agent.since); };
    tick();
    const reason = h("input", { id: "pause-reason", maxlength: 100, placeholder: t("advisor.pause_reason_hint") });
    add(stateCard, 
      h("p", {}, h("span", { class: `state state-${agent.state}`, id: "agent-state", "data-state": agent.state,
        text: t(`state.${agent.state}`) }), " ", t("advisor.for"), " ", since,
        agent.pause_reason ? h("span", { class: "muted" }, ` – ${agent.pause_reason}`) : null),
      h("div", { class: "row" },
        h("button", { type: "button", id: "btn-login", onclick: () => act("login"), disabled: agent.state !== "logged_out", text: t("advisor.login") }),
        h("button", { type: "button", id: "btn-ready", onclick: () => act("ready"), disabled: !["paused", "wrap_up"].includes(agent.state), text: t("advisor.ready") }),
        h("button", { type: "button", class: "secondary", id: "btn-logout", onclick: () => act("logout"), disabled: agent.state === "logged_out", text: t("advisor.logout") })),
      h("div", { class: "row" },
        h("div", {}, h("label", { for: "pause-reason", text: t("advisor.pause_reason") }), reason),
        h("button", { type: "button", class: "secondary", id: "btn-pause", disabled: agent.state === "logged_out",
          onclick: () => act("pause", { reason: reason.value }), text: t("advisor.pause") })));
    stateCard.dataset.tick = "1";
    stateCard._tick = tick;
  }

  function fact(label, value, id) {
    return [h("dt", { text: label }), h("dd", { id, text: value || "–" })];
  }

  function drawCall() {
    add(clear(callCard), h("h2", { id: "call-title", text: t("call.title") }));
    const call = view.call;
    if (!call) { add(callCard, h("p", { class: "muted", id: "no-call", text: t("call.none") })); return; }
    const summary = h("textarea", { id: "summary", maxlength: 2000,
      oninput: (event) => { view.draft = { callId: call.call_id, text: event.target.value }; } });
    const draft = view.draft && view.draft.callId === call.call_id ? view.draft : null;
    summary.value = draft ? draft.text : call.summary || "";
    const saved = h("span", { class: "muted", role: "status", id: "summary-status" });
    const customer = Object.entries(call.customer || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
    const from = (call.transfer && call.transfer.from) || call.transferred_from || "";
    add(callCard, 
      view.wrapUp ? h("p", { class: "notice", id: "wrap-up", text: t("call.wrap_up") }) : null,
      h("dl", { class: "facts" },
        fact(t("call.caller"), call.caller, "case-caller"), fact(t("call.tier"), call.tier, "case-tier"),
        fact(t("call.queue"), call.queue, "case-queue"),
        fact(t("call.ivr"), call.ivr_label ? `${call.ivr_label} (${call.ivr})` : call.ivr, "case-ivr"),
        fact(t("call.case"), call.case_id, "case-id"), fact(t("call.customer"), customer, "case-customer"),
        call.campaign ? fact(t("call.campaign"), call.campaign, "case-campaign") : null,
        from ? fact(t("call.transferred_from"), from, "case-transferred-from") : null),
      h("label", { for: "summary", text: t("call.summary") }), summary,
      h("div", { class: "row" }, h("button", { type: "button", id: "save-summary", text: t("call.save_summary"),
        onclick: async () => {
          const text = summary.value;
          const mine = ++reads;
          try {
            const out = await put(`/api/v1/acd/calls/${me(call.call_id)}/case`, { summary: text });
            newest(mine);  // a read sent before this save answers with the summary before it
            call.summary = out.summary;
            if (view.call && view.call.call_id === call.call_id) view.call.summary = out.summary;
            if (view.draft && view.draft.callId === call.call_id && view.draft.text === text) view.draft = null;
            saved.textContent = t("call.saved");
          } catch (exc) { saved.textContent = ""; toast(exc.message); }
        } }), saved),
      transferForm(call),
      dispositionForm(call));
  }

  // Transfer with the case (blind: the caller waits for the target; warm: consult them first).
  function transferForm(call) {
    const status = h("p", { role: "status", id: "transfer-status" });
    const failed = (exc) => { status.className = "error"; status.textContent = exc.message; };
    const shown = (out, wrapUp, mine) => {
      newest(mine);  // a read sent before this answer is older
      view.call = { ...call, ...out };
      view.wrapUp = wrapUp;
      drawCall();
    };
    if (call.state === "consulting" && call.transferer === session.name) {
      const finish = (what) => async () => {
        const mine = ++reads;
        try {
          const out = await post(`/api/v1/acd/calls/${me(call.call_id)}/transfer/${what}`);
          shown(out, what === "complete", mine);
        } catch (exc) { failed(exc); }
      };
      return h("div", { id: "transfer" }, h("h2", { text: t("transfer.title") }),
        h("p", { class: "notice", id: "transfer-consulting", text: t("transfer.consulting", { agent: call.agent_id || "…" }) }),
        h("div", { class: "row" },
          h("button", { type: "button", id: "transfer-complete", onclick: finish("complete"), text: t("transfer.complete") }),
          h("button", { type: "button", class: "secondary", id: "transfer-cancel", onclick: finish("cancel"), text: t("transfer.cancel") })),
        status);
    }
    if (view.wrapUp || (call.state && call.state !== "connected")) return null;
    const kind = h("select", { id: "transfer-kind" },
      ["queue", "skill", "agent"].map((k) => h("option", { value: k, text: t(`transfer.kind_${k}`) })));
    const target = h("input", { id: "transfer-to", maxlength: 100, list: "transfer-queues" });
    const mode = h("select", { id: "transfer-mode" },
      h("option", { value: "blind", text: t("transfer.blind") }), h("option", { value: "warm", text: t("transfer.warm") }));
    const form = h("form", { id: "transfer-form" }, h("h2", { text: t("transfer.title") }),
      h("label", { for: "transfer-kind", text: t("transfer.kind") }), kind,
      h("label", { for: "transfer-to", text: t("transfer.to") }), target,
      h("datalist", { id: "transfer-queues" }, view.queues.map((q) => h("option", { value: q }))),
      h("label", { for: "transfer-mode", text: t("transfer.mode") }), mode,
      h("div", { class: "row" }, h("button", { type: "submit", id: "transfer-go", text: t("transfer.go") })),
      status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!target.value.trim()) { status.className = "error"; status.textContent = t("transfer.missing"); return; }
      const mine = ++reads;
      try {
        const out = await post(`/api/v1/acd/calls/${me(call.call_id)}/transfer`,
          { to: `${kind.value}:${target.value.trim()}`, mode: mode.value });
        shown(out, out.state !== "consulting", mine);
      } catch (exc) { failed(exc); }
    });
    return form;
  }

  function dispositionForm(call) {
    const code = h("select", { id: "disposition-code", required: true },
      h("option", { value: "", text: t("call.choose_code") }),
      view.codes.map((c) => h("option", { value: c.code, text: c.label })));
    const lead = h("input", { id: "disposition-lead", maxlength: 128, "aria-describedby": "disposition-lead-help" });
    lead.value = call.lead_id || (call.customer || {}).lead_id || "";
    const note = h("input", { id: "disposition-note", maxlength: 2000 });
    const status = h("p", { role: "status", id: "disposition-status" });
    const form = h("form", {},
      h("h2", { text: t("call.disposition") }),
      h("label", { for: "disposition-code", text: t("call.code") }), code,
      h("label", { for: "disposition-lead", text: t("call.lead") }), lead,
      h("p", { class: "muted", id: "disposition-lead-help", text: t("call.lead_help") }),
      h("label", { for: "disposition-note", text: t("call.note") }), note,
      h("div", { class: "row" }, h("button", { type: "submit", id: "save-disposition", text: t("call.save_disposition") })),
      status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.className = "";
      if (!code.value) { status.className = "error"; status.textContent = t("call.disposition_missing"); return; }
      // Without a lead (an inbound call) the engine files it by the call id, with the call's case.
      const body = { code: code.value, note: note.value, call_id: call.call_id };
      if (lead.value.trim()) body.lead_id = lead.value.trim();
      try {
        const out = await post("/api/v1/dispositions", body);
        const label = out.label || out.code;
        status.textContent = out.case_id ? t("call.disposition_saved_case", { label, case: out.case_id }) : t("call.disposition_saved", { label });
      } catch (exc) { status.className = "error"; status.textContent = exc.message; }
    });
    return form;
  }

  function drawOffer() {
    add(clear(offerCard), h("h2", { id: "offer-title", text: t("offer.title") }));
    const lead = view.offer;
    if (!lead) { add(offerCard, h("p", { class: "muted", text: t("offer.none") })); return; }
    const decide = (what) => async () => {
      try { await post(`/api/v1/offer/${me(lead.lead_id)}/${what}`); view.offer = null; drawOffer(); }
      catch (exc) { toast(exc.message); }
    };
    add(offerCard, h("dl", { class: "facts" },
      fact(t("offer.name"), lead.name), fact(t("offer.phones"), (lead.phones || []).join(", ")),
      fact(t("offer.campaign"), lead.campaign_id), fact(t("offer.attempts"), String(lead.attempts ?? 0)),
      fact(t("offer.last"), lead.last_disposition)),
      h("div", { class: "row" },
        h("button", { type: "button", id: "offer-accept", onclick: decide("accept"), text: t("offer.accept") }),
        h("button", { type: "button", class: "secondary", id: "offer-decline", onclick: decide("decline"), text: t("offer.decline") })));
  }

  // Reads of the case (and saves of its summary) may answer out of order: an answer sent before the
  // last one taken is stale. The newest answer's summary is the stored one (a colleague may have
  // written it since the handover); what the advisor is typing is the draft's.
  let reads = 0, taken = 0;
  const newest = (mine) => {
    if (mine <= taken) return false;
    taken = mine;
    return true;
  };

  async function loadCase(callId) {
    const mine = ++reads;
    try {
      const found = await get(`/api/v1/acd/calls/${me(callId)}/case`);
      if ((!view.call || view.call.call_id === callId) && newest(mine)) {
        view.call = { ...(view.call || {}), ...found };
        // ended, or gone on to a colleague (a transfer completed): my part is the wrap-up
        view.wrapUp = found.state === "ended" || ![found.agent_id, found.transferer].includes(session.name);
        drawCall();
      }
    } catch { /* the call ended meanwhile: the stream says so */ }
  }

  const offs = [
    stream.on("handover", (event) => {
      view.call = { ...event.data, call_id: event.data.call_id };
      view.wrapUp = false;
      drawCall();
      loadCase(event.data.call_id);  // adds the IVR label and the stored case
    }),
    stream.on("ended", (event) => {
      if (view.call && view.call.call_id === event.data.call_id) { view.wrapUp = true; drawCall(); }
    }),
    stream.on("transferred", (event) => {  // made on the phone too: my part is over, the case goes on
      if (view.call && view.call.call_id === event.data.call_id && event.agent_id === session.name) {
        view.wrapUp = true; drawCall();
      }
    }),
    stream.on("transfer_cancelled", (event) => {
      if (view.call && view.call.call_id === event.data.call_id) loadCase(event.data.call_id);
    }),
    stream.on("me", (data) => {
      const before = view.agent?.state;
      view.agent = data.agent;
      if (before !== view.agent?.state || !stateCard.firstChild) drawState();
      if (JSON.stringify(view.offer) !== JSON.stringify(data.offer)) { view.offer = data.offer; drawOffer(); }
      if (data.agent && data.agent.call_id && (!view.call || view.call.call_id !== data.agent.call_id) && data.agent.state === "busy") {
        loadCase(data.agent.call_id);
      }
      if (data.agent && view.wrapUp && !["wrap_up", "paused"].includes(data.agent.state) && view.agent.state !== "busy") {
        view.call = null; view.wrapUp = false; drawCall();
      }
    }),
  ];
  try { view.codes = await getAll("/api/v1/disposition-codes?limit=1000"); } catch { view.codes = []; }
  try { view.queues = (await getAll("/api/v1/acd/queues?limit=1000")).map((q) => q.name); } catch { view.queues = []; }
  try { view.agent = await get(agentPath); } catch { view.agent = null; }
  try { view.offer = (await get("/api/v1/offer")).lead; } catch { view.offer = null; }
  drawState(); drawCall(); drawOffer();
  if (view.agent && view.agent.call_id) loadCase(view.agent.call_id);
  let ticks = 0;
  const timer = setInterval(() => {
    if (stateCard._tick) stateCard._tick();
    // during a consult the other side may complete or cancel it: look again every 2 s
    if (++ticks % 2 === 0 && view.call && view.call.state === "consulting") loadCase(view.call.call_id);
  }, 1000);
  return () => { clearInterval(timer); offs.forEach((off) => off()); };
}

export { dateTime };
