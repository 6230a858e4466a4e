// The supervisor's wallboard, pushed live on the stream (`wallboard` frames); large-screen mode.
import { get } from "./api.js";
import { h, clear, add } from "./dom.js";
import { t, duration, percent } from "./i18n.js";
import * as stream from "./stream.js";

const STATES = ["ready", "reserved", "ringing", "busy", "wrap_up", "paused", "logged_out"];

function kpi(label, value, cls = "", id = null) {
  return h("div", { class: "kpi" }, h("span", { class: `v ${cls}`, id, text: value }), h("span", { class: "k", text: label }));
}

function queueCard(q) {
  const below = q.service_level_now !== null && q.service_level_now < q.service_level_target;
  return h("section", { class: "card", "data-queue": q.name, "aria-label": t("wb.queue", { name: q.name }) },
    h("h2", { text: t("wb.queue", { name: q.name }) }),
    h("div", { class: "kpis" },
      kpi(t("wb.waiting"), String(q.waiting), q.waiting ? "bad" : "", `wb-waiting-${q.name}`),
      kpi(t("wb.oldest"), duration(q.oldest_wait)),
      kpi(t("wb.sl", { within: q.service_level_within }), `${percent(q.service_level_now)} / ${percent(q.service_level_target)}`, q.service_level_now === null ? "" : below ? "bad" : "ok"),
      kpi(t("wb.answered"), String(q.answered_today)), kpi(t("wb.abandoned"), String(q.abandoned_today)),
      kpi(t("wb.talking"), String(q.talking_or_ringing))),
    h("p", { class: "muted" }, STATES.filter((s) => q.agents[s]).map((s) => `${t(`state.${s}`)}: ${q.agents[s]}`).join(" · ") || t("wb.no_agents")),
    q.callers.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", { text: t("wb.caller_call") }), h("th", { text: t("call.tier") }), h("th", { text: t("wb.waited") }))),
      h("tbody", {}, q.callers.map((c) => h("tr", { "data-call": c.call_id }, h("td", { text: c.caller || c.call_id }), h("td", { text: c.tier }), h("td", { text: duration(c.waited) }))))) : null);
}

function campaignRow(c) {
  const rate = (v) => (v === null || v === undefined ? "–" : percent(v));
  const over = (v) => v !== null && v !== undefined && v > (c.abandon_target ?? 0.03);
  const leads = c.leads ? Object.entries(c.leads).map(([k, v]) => `${k}: ${v}`).join(", ") : "–";
  return h("tr", { "data-campaign": c.campaign_id },
    h("td", { text: c.name || c.campaign_id }), h("td", { text: t(`campaign.${c.state}`) }),
    h("td", { text: c.dial_level ?? "–" }),
    h("td", { class: over(c.abandon_rate_24h) ? "bad" : "", text: rate(c.abandon_rate_24h) }),
    h("td", { class: over(c.abandon_rate_30d) ? "bad" : "", text: rate(c.abandon_rate_30d) }),
    h("td", { text: percent(c.abandon_target ?? 0.03) }),
    h("td", { text: String(c.calls_in_flight ?? 0) }), h("td", { text: leads }));
}

export function draw(box, data) {
  add(clear(box), 
    h("div", { class: "grid" }, data.queues.map(queueCard)),
    h("div", { class: "grid", style: "margin-top:1rem" },
      h("section", { class: "card" }, h("h2", { text: t("wb.tiers") }), h("table", {},
        h("thead", {}, h("tr", {}, h("th", { text: t("call.tier") }), h("th", { text: t("wb.waiting") }), h("th", { text: t("wb.oldest") }))),
        h("tbody", {}, data.tiers.map((tier) => h("tr", { "data-tier": tier.name }, h("td", { text: tier.name }),
          h("td", { text: String(tier.waiting) }), h("td", { text: duration(tier.oldest_wait) })))))),
      h("section", { class: "card" }, h("h2", { text: t("wb.agents") }), h("div", { class: "kpis" },
        STATES.map((s) => kpi(t(`state.${s}`), String(data.agents[s] || 0)))))),
    h("section", { class: "card", style: "margin-top:1rem" }, h("h2", { text: t("wb.campaigns") }),
      data.campaigns.length ? h("table", {}, h("thead", {}, h("tr", {}, ["name", "state", "dial_level", "abandon_24h", "abandon_30d", "cap", "in_flight", "leads"].map((k) => h("th", { text: t(`wb.c.${k}`) })))),
        h("tbody", {}, data.campaigns.map(campaignRow))) : h("p", { class: "muted", text: t("wb.no_campaigns") })),
    data.today_complete ? null : h("p", { class: "notice", text: t("wb.partial") }));
}

export async function render(main) {
  const box = h("div", { id: "wallboard", "aria-live": "off" });
  const large = h("button", { type: "button", class: "secondary", id: "large-screen", text: t("wb.large"),
    onclick: () => {
      document.body.classList.toggle("large");
      large.textContent = document.body.classList.contains("large") ? t("wb.normal") : t("wb.large");
    } });
  const exit = (event) => { if (event.key === "Escape") { document.body.classList.remove("large"); large.textContent = t("wb.large"); } };
  document.addEventListener("keydown", exit);
  add(main, h("div", { class: "row", style: "justify-content:space-between" }, h("h1", { text: t("nav.wallboard") }), large), box);
  draw(box, await get("/api/v1/wallboard"));
  const off = stream.on("wallboard", (data) => draw(box, data));
  return () => { off(); document.removeEventListener("keydown", exit); document.body.classList.remove("large"); };
}
