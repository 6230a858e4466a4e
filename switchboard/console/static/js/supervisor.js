// Supervisor pages: agents, Robinson review, tasks, campaigns, lists, rules.
import { get, getAll, post, put, del } from "./api.js";
import { h, clear, toast, add, tickets } from "./dom.js";
import { t, dateTime, duration, percent } from "./i18n.js";
import * as stream from "./stream.js";
import { taskTable } from "./tasks.js";
import { statusText } from "./robinson.js";

const enc = encodeURIComponent;
const th = (...keys) => h("thead", {}, h("tr", {}, keys.map((k) => h("th", { text: k ? t(k) : "" }))));

function skillsText(skills) { return Object.entries(skills).map(([k, v]) => `${k}:${v}`).join(", "); }
function parseSkills(text) {
  const out = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [name, level] = part.split(":").map((p) => p.trim());
    out[name] = Number(level);
  }
  return out;
}

export async function agents(main) {
  const box = h("div");
  add(main, h("h1", { text: t("nav.agents") }), box);
  const ticket = tickets();
  async function draw(live = false) {
    const ok = ticket();
    const list = await getAll("/api/v1/acd/agents?limit=500");
    if (!ok()) return;
    if (live && box.contains(document.activeElement)) return;  // never wipe what is being typed
    const reasons = new Map([...box.querySelectorAll("input.reason")].map((e) => [e.dataset.agent, e.value]));
    add(clear(box), h("table", {}, th("agents.id", "agents.name", "agents.state", "agents.skills", "agents.missed", "agents.occupancy", ""),
      h("tbody", {}, list.map((a) => {
        const skills = h("input", { "aria-label": t("agents.skills_of", { id: a.id }), value: skillsText(a.skills), size: 24 });
        const reason = h("input", { class: "reason", "data-agent": a.id, "aria-label": t("agents.reason_of", { id: a.id }), placeholder: t("advisor.pause_reason"), size: 10 });
        reason.value = reasons.get(a.id) || "";  // a redraw keeps a reason being typed
        const run = (fn) => async () => { try { await fn(); await draw(); } catch (exc) { toast(exc.message); } };
        return h("tr", { "data-agent": a.id },
          h("td", { text: a.id }), h("td", { text: a.name }),
          h("td", {}, h("span", { class: `state state-${a.state}`, text: t(`state.${a.state}`) }), " ", duration(Date.now() / 1000 - a.since),
            a.pause_reason ? h("span", { class: "muted" }, ` – ${a.pause_reason}`) : null),
          h("td", {}, h("div", { class: "row" }, skills, h("button", { type: "button", class: "secondary", text: t("agents.save_skills"),
            onclick: run(() => put(`/api/v1/acd/agents/${enc(a.id)}/skills`, { skills: parseSkills(skills.value) })) }))),
          h("td", { class: a.missed_rings ? "bad" : "", text: String(a.missed_rings) }), h("td", { text: percent(a.occupancy) }),
          h("td", {}, h("div", { class: "row" }, reason,
            h("button", { type: "button", class: "secondary", disabled: a.state === "logged_out", text: t("advisor.pause"),
              onclick: run(async () => { await post(`/api/v1/acd/agents/${enc(a.id)}/pause`, { reason: reason.value }); reason.value = ""; }) }),
            h("button", { type: "button", class: "danger", disabled: a.state === "logged_out", text: t("advisor.logout"),
              onclick: run(() => post(`/api/v1/acd/agents/${enc(a.id)}/logout`)) }))));
      }))));
  }
  await draw();
  const off = stream.on("wallboard", () => { if (!box.contains(document.activeElement)) draw(true); });
  return off;
}

export async function robinson(main) {
  let status = "pending";
  const box = h("div");
  add(main, h("h1", { text: t("nav.robinson") }), box);
  const ticket = tickets();
  async function draw() {
    const ok = ticket();
    const found = await getAll(`/api/v1/robinson-requests?status=${status}&limit=500`);
    if (!ok()) return;
    add(clear(box), h("div", { class: "tabs", role: "group" }, ["pending", "approved", "rejected"].map((s) =>
      h("button", { type: "button", "aria-pressed": String(s === status), text: t(`robinson.status.${s}`), onclick: () => { status = s; draw(); } }))),
    h("table", {}, th("robinson.customer_name", "robinson.phone", "robinson.email", "robinson.customer_id", "robinson.justification", "robinson.requested_by", "robinson.status", "robinson.note", ""),
      h("tbody", {}, found.length ? found.map((r) => {
        const note = h("input", { "aria-label": t("robinson.note_for", { name: r.customer_name }), size: 16 });
        const decide = (what) => async () => {
          try { await post(`/api/v1/robinson-requests/${enc(r.request_id)}/${what}`, { note: note.value }); await draw(); }
          catch (exc) { toast(exc.message); }
        };
        return h("tr", { "data-request": r.request_id },
          h("td", { text: r.customer_name }), h("td", { text: r.phone }), h("td", { text: r.email }), h("td", { text: r.customer_id }),
          h("td", { text: r.justification }), h("td", {}, r.requested_by, h("br"), h("span", { class: "muted", text: dateTime(r.requested_at) })),
          h("td", { text: statusText(r) }), h("td", { text: r.note || "" }),
          r.status === "pending" ? h("td", {}, note, h("div", { class: "row" },
            h("button", { type: "button", class: "approve", onclick: decide("approve"), text: t("robinson.approve") }),
            h("button", { type: "button", class: "danger", onclick: decide("reject"), text: t("robinson.reject") })))
            : h("td", { class: "muted", text: r.decided_by ? `${r.decided_by}, ${dateTime(r.decided_at)}` : "" }));
      }) : h("tr", {}, h("td", { colspan: 9, class: "muted", text: t("robinson.none") })))));
  }
  await draw();
}

export async function tasks(main) {
  let view = "expired";
  const box = h("div");
  add(main, h("h1", { text: t("nav.tasks") }), box);
  const ticket = tickets();
  async function draw() {
    const ok = ticket();
    const list = view === "stale" ? await getAll("/api/v1/tasks/stale?limit=500") : await getAll(`/api/v1/tasks?status=${view}&limit=500`);
    if (!ok()) return;
    const chosen = new Set();
    const select = (event) => { event.target.checked ? chosen.add(event.target.value) : chosen.delete(event.target.value); };
    const actions = h("div", { class: "row" });
    if (view === "stale") {
      add(actions, h("button", { type: "button", text: t("tasks.reactivate"), onclick: async () => {
        if (!chosen.size) { toast(t("tasks.choose")); return; }
        try { await post("/api/v1/tasks:reactivate", { task_ids: [...chosen] }); toast(t("tasks.reactivated", { n: chosen.size })); draw(); }
        catch (exc) { toast(exc.message); }
      } }));
    }
    if (view === "expired") {
      add(actions, h("button", { type: "button", class: "secondary", text: t("tasks.archive"), onclick: async () => {
        if (!chosen.size) { toast(t("tasks.choose")); return; }
        for (const id of chosen) { try { await post(`/api/v1/tasks/${enc(id)}/archive`); } catch (exc) { toast(exc.message); } }
        draw();
      } }));
    }
    add(clear(box), h("div", { class: "tabs", role: "group" }, ["expired", "at_risk", "stale", "archived"].map((s) =>
      h("button", { type: "button", "aria-pressed": String(s === view), text: t(`task.${s}`), onclick: () => { view = s; draw(); } }))),
    taskTable(list, { owner: true, select: view === "stale" || view === "expired" ? select : null }), actions);
  }
  await draw();
}

export async function campaigns(main) {
  const box = h("div");
  add(main, h("h1", { text: t("nav.campaigns") }), box);
  const ticket = tickets();
  async function draw() {
    const ok = ticket();
    const list = await getAll("/api/v1/campaigns?limit=500");
    const stats = await Promise.all(list.map((c) => get(`/api/v1/campaigns/${enc(c.campaign_id)}/stats`).catch(() => null)));
    if (!ok()) return;
    add(clear(box), list.length ? h("table", {}, th("wb.c.name", "wb.c.state", "wb.c.dial_level", "wb.c.abandon_24h", "wb.c.abandon_30d", "wb.c.in_flight", "wb.c.leads", "campaigns.dials", ""),
      h("tbody", {}, list.map((c, i) => {
        const s = stats[i] || {};
        const act = (what) => async () => { try { await post(`/api/v1/campaigns/${enc(c.campaign_id)}/${what}`, {}); await draw(); } catch (exc) { toast(exc.message); } };
        return h("tr", { "data-campaign": c.campaign_id },
          h("td", { text: `${c.name} (${c.mode})` }), h("td", { text: t(`campaign.${c.state}`) }), h("td", { text: s.dial_level ?? "–" }),
          h("td", { text: s.abandon_rate_24h == null ? "–" : percent(s.abandon_rate_24h) }),
          h("td", { text: s.abandon_rate_30d == null ? "–" : percent(s.abandon_rate_30d) }),
          h("td", { text: String(s.calls_in_flight ?? 0) }),
          h("td", { text: s.leads ? Object.entries(s.leads).map(([k, v]) => `${k}: ${v}`).join(", ") : "–" }),
          h("td", { text: String(s.dials_24h ?? 0) }),
          h("td", {}, h("div", { class: "row" },
            h("button", { type: "button", disabled: c.state === "running", onclick: act("start"), text: t("campaigns.start") }),
            h("button", { type: "button", class: "secondary", disabled: c.state !== "running", onclick: act("pause"), text: t("campaigns.pause") }),
            h("button", { type: "button", class: "danger", disabled: c.state === "stopped", onclick: act("stop"), text: t("campaigns.stop") }))));
      }))) : h("p", { class: "muted", text: t("wb.no_campaigns") }));
  }
  await draw();
}

export async function lists(main) {
  const numbers = h("textarea", { id: "check-numbers" });
  const results = h("div", { role: "status" });
  const number = h("input", { id: "internal-number", maxlength: 40 });
  const reason = h("input", { id: "internal-reason", maxlength: 500 });
  const changeStatus = h("p", { role: "status", id: "internal-status" });
  const imports = h("div");
  async function check() {
    const items = numbers.value.split(/[\n,;]+/).map((n) => n.trim()).filter(Boolean);
    if (!items.length) return;
    try {
      const out = await post("/api/v1/blacklist/check", { numbers: items });
      add(clear(results), h("table", {}, th("lists.number", "lists.e164", "lists.blocked", "lists.sources"),
        h("tbody", {}, out.results.map((r) => h("tr", {}, h("td", { text: r.input }), h("td", { text: r.e164 || r.error }),
          h("td", { class: r.blocked ? "bad" : "ok", text: r.blocked === null ? "–" : r.blocked ? t("lists.yes") : t("lists.no") }),
          h("td", { text: r.sources.join(", ") }))))));
    } catch (exc) { toast(exc.message); }
  }
  async function change(add) {
    changeStatus.className = "";
    if (!number.value.trim() || !reason.value.trim()) { changeStatus.className = "error"; changeStatus.textContent = t("lists.reason_required"); return; }
    try {
      const out = add ? await post("/api/v1/blacklist/internal", { number: number.value, reason: reason.value })
        : await del(`/api/v1/blacklist/internal/${enc(number.value)}`, { reason: reason.value });
      changeStatus.textContent = t(add ? "lists.added" : "lists.removed", { number: out.number });
      drawImports();
    } catch (exc) { changeStatus.className = "error"; changeStatus.textContent = exc.message; }
  }
  async function drawImports() {
    try {
      const out = await get("/api/v1/blacklist/lists");
      add(clear(imports), h("p", { text: t("lists.internal_count", { n: out.internal }) }),
        h("table", {}, th("lists.name", "lists.count", "lists.imported"), h("tbody", {}, out.lists.map((l) => h("tr", {},
          h("td", { text: l.name }), h("td", { text: String(l.count) }),
          h("td", { text: Object.entries(l.meta).filter(([k]) => k !== "count").map(([k, v]) => `${k}: ${v}`).join(", ") }))))));
    } catch (exc) { toast(exc.message); }
  }
  add(main, h("h1", { text: t("nav.lists") }), h("div", { class: "grid" },
    h("section", { class: "card" }, h("h2", { text: t("lists.check") }), h("label", { for: "check-numbers", text: t("lists.numbers") }), numbers,
      h("div", { class: "row" }, h("button", { type: "button", id: "check", onclick: check, text: t("lists.check") })), results),
    h("section", { class: "card" }, h("h2", { text: t("lists.internal") }),
      h("label", { for: "internal-number", text: t("lists.number") }), number,
      h("label", { for: "internal-reason", text: t("lists.reason") }), reason,
      h("div", { class: "row" }, h("button", { type: "button", id: "internal-add", onclick: () => change(true), text: t("lists.add") }),
        h("button", { type: "button", class: "danger", id: "internal-remove", onclick: () => change(false), text: t("lists.remove") })), changeStatus),
    h("section", { class: "card wide" }, h("h2", { text: t("lists.imports") }), imports)));
  await drawImports();
}

export async function rules(main) {
  const files = await getAll("/api/v1/rules/status");
  add(main, h("h1", { text: t("nav.rules") }), h("div", { class: "grid" }, files.map((f) => h("section", { class: "card", "data-rules": f.kind },
    h("h2", { text: t("rules.kind", { kind: f.kind }) }),
    h("dl", { class: "facts" }, h("dt", { text: t("rules.file") }), h("dd", { text: f.file }),
      h("dt", { text: t("rules.hash") }), h("dd", {}, h("code", { text: f.hash.slice(0, 12) })),
      h("dt", { text: t("rules.applied") }), h("dd", { text: dateTime(f.applied_at) })),
    f.refused_at ? h("div", {}, h("h3", { class: "bad", text: t("rules.refused", { when: dateTime(f.refused_at) }) }),
      h("ul", {}, f.refused_issues.map((i) => h("li", {}, h("code", { text: `${i.line ?? "?"}:${i.column ?? "?"} ${i.path || ""}` }), " ", i.message || i.text))))
      : h("p", { class: "muted", text: t("rules.no_refusal") })))));
}
