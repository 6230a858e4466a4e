// Outage notices: the declared outages with what their notice did, a form to declare one, end now.
import { get, post } from "./api.js";
import { h, clear, toast, add, tickets } from "./dom.js";
import { t, dateTime, fromZonedInput, toZonedInput } from "./i18n.js";

const enc = encodeURIComponent;
const th = (...keys) => h("thead", {}, h("tr", {}, keys.map((k) => h("th", { text: k ? t(k) : "" }))));
const list = (text) => text.split(/[\n,;]+/).map((p) => p.trim()).filter(Boolean);

// "region=north, north-east; service=internet" -> [{field, values}], one criterion per `;` or line
function crmOf(text) {
  return text.split(/[\n;]+/).map((p) => p.trim()).filter(Boolean).map((part) => {
    const [field, values = ""] = part.split("=");
    return { field: field.trim(), values: values.split(",").map((v) => v.trim()).filter(Boolean) };
  });
}

function segmentText(segment) {
  const parts = [];
  for (const kind of ["prefixes", "callers", "dialled", "tiers"]) {
    if (segment[kind] && segment[kind].length) parts.push(`${t(`outages.${kind}`)}: ${segment[kind].join(", ")}`);
  }
  for (const c of segment.crm || []) parts.push(`${c.field} = ${c.values.join(" / ")}`);
  return parts.join("; ");
}

export async function render(main) {
  const box = h("div");
  const field = (id, key, attrs = {}) => {
    const input = h(attrs.rows ? "textarea" : "input", { id: `outage-${id}`, ...attrs });
    return [input, h("label", { for: `outage-${id}`, text: t(key) }), input];
  };
  const [id, ...idRow] = field("id", "outages.id", { maxlength: 64, placeholder: "debrecen-fibre" });
  const [title, ...titleRow] = field("title", "outages.title_field", { maxlength: 200 });
  const [prefixes, ...prefixRow] = field("prefixes", "outages.prefixes", { placeholder: "+3652, +3646" });
  const [callers, ...callerRow] = field("callers", "outages.callers");
  const [dialled, ...dialledRow] = field("dialled", "outages.dialled");
  const [tiers, ...tierRow] = field("tiers", "outages.tiers", { placeholder: "key" });
  const [crm, ...crmRow] = field("crm", "outages.crm", { placeholder: "region=north; service=internet" });
  const [recording, ...recordingRow] = field("recording", "outages.recording", { placeholder: "outage-debrecen" });
  const [text, ...textRow] = field("text", "outages.text", { rows: 3, maxlength: 2000 });
  const [from, ...fromRow] = field("from", "outages.from", { type: "datetime-local" });
  const [until, ...untilRow] = field("until", "outages.until", { type: "datetime-local" });
  const status = h("p", { role: "status", id: "outage-status" });
  const now = new Date();
  from.value = toZonedInput(now);
  until.value = toZonedInput(new Date(now.getTime() + 4 * 3600 * 1000));

  async function declare(event) {
    event.preventDefault();
    status.className = "";
    const start = fromZonedInput(from.value);
    const end = fromZonedInput(until.value);
    if (!start || !end) { status.className = "error"; status.textContent = t("outages.window_required"); return; }
    const body = {
      id: id.value.trim(), title: title.value.trim(),
      segment: { prefixes: list(prefixes.value), callers: list(callers.value), dialled: list(dialled.value), tiers: list(tiers.value), crm: crmOf(crm.value) },
      starts_at: start.toISOString(), ends_at: end.toISOString(),
    };
    if (recording.value.trim()) body.recording = recording.value.trim();
    if (text.value.trim()) body.text = text.value.trim();
    try {
      const out = await post("/api/v1/acd/outages", body);
      status.textContent = t("outages.declared", { id: out.id });
      await draw();
    } catch (exc) { status.className = "error"; status.textContent = exc.message; }
  }

  const ticket = tickets();
  async function draw() {
    const ok = ticket();
    const found = await get("/api/v1/acd/outages");
    if (!ok()) return;
    add(clear(box), h("table", {}, th("outages.id", "outages.title_field", "outages.segment", "outages.window", "outages.in_force", "outages.played", "outages.left", "outages.unheard", ""),
      h("tbody", {}, found.items.length ? found.items.map((o) => h("tr", { "data-outage": o.id },
        h("td", { text: o.id }), h("td", { text: o.title }), h("td", { text: segmentText(o.segment) }),
        h("td", { text: `${dateTime(o.starts_at)} – ${dateTime(o.ends_at)}` }),
        h("td", { class: o.in_force ? "bad" : "muted", text: t(o.in_force ? "lists.yes" : "lists.no") }),
        h("td", { text: String(o.played) }), h("td", { text: String(o.left) }), h("td", { text: String(o.unheard) }),
        h("td", {}, o.ended_at || new Date(o.ends_at) <= new Date() ? null : h("button", { type: "button", class: "danger", text: t("outages.end"),
          onclick: async () => { try { await post(`/api/v1/acd/outages/${enc(o.id)}/end`); await draw(); } catch (exc) { toast(exc.message); } } }))))
        : h("tr", {}, h("td", { colspan: 9, class: "muted", text: t("outages.none") })))));
  }

  add(main, h("h1", { text: t("nav.outages") }), h("p", { class: "muted", text: t("outages.intro") }), box,
    h("form", { class: "card wide", id: "outage-form", novalidate: true, onsubmit: declare },
      h("h2", { text: t("outages.declare") }), h("div", { class: "grid" },
        h("div", {}, ...idRow, ...titleRow, ...recordingRow, ...textRow, ...fromRow, ...untilRow),
        h("div", {}, h("p", { class: "muted", text: t("outages.segment_hint") }), ...prefixRow, ...callerRow, ...dialledRow, ...tierRow, ...crmRow)),
      h("div", { class: "row" }, h("button", { type: "submit", id: "outage-submit", text: t("outages.declare") })), status));
  await draw();
}
