// Robinson-list requests: the advisor's form (five mandatory fields, checked as the API does) and list.
import { getAll, post } from "./api.js";
import { h, clear, add } from "./dom.js";
import { t, dateTime } from "./i18n.js";

export const FIELDS = ["customer_name", "phone", "email", "customer_id", "justification"];
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s.]+$/;  // as dialer/leads/robinson.py
const LIMITS = { customer_name: 200, phone: 40, email: 254, customer_id: 128, justification: 2000 };

export function problems(values) {
  const found = {};
  for (const name of FIELDS) {
    const value = (values[name] || "").trim();
    if (!value) found[name] = t("robinson.required");
    else if (value.length > LIMITS[name]) found[name] = t("robinson.too_long", { max: LIMITS[name] });
  }
  if (!found.email && values.email && !EMAIL.test(values.email.trim())) found.email = t("robinson.bad_email");
  if (!found.phone && values.phone && !/\d{6,}/.test(values.phone.replace(/[\s()./-]/g, ""))) found.phone = t("robinson.bad_phone");
  return found;
}

export function statusText(request) {
  return t(`robinson.status.${request.status}`);
}

export async function robinsonCard() {
  const card = h("section", { class: "card wide", "aria-labelledby": "robinson-title", id: "robinson" });
  const list = h("div");
  const inputs = {};
  const errors = {};
  const form = h("form", { novalidate: true, id: "robinson-form" }, h("h2", { id: "robinson-title", text: t("robinson.title") }),
    FIELDS.map((name) => {
      const id = `rb-${name}`;
      inputs[name] = name === "justification" ? h("textarea", { id, required: true, "aria-describedby": `${id}-error` })
        : h("input", { id, required: true, type: name === "email" ? "email" : "text", "aria-describedby": `${id}-error` });
      errors[name] = h("p", { class: "error", id: `${id}-error` });
      return [h("label", { for: id, text: t(`robinson.${name}`) }), inputs[name], errors[name]];
    }),
    h("div", { class: "row" }, h("button", { type: "submit", id: "robinson-submit", text: t("robinson.submit") })));
  const status = h("p", { role: "status", id: "robinson-status" });
  add(form, status);
  async function drawList() {
    let mine = [];
    try { mine = await getAll("/api/v1/robinson-requests?limit=200"); } catch { mine = []; }
    add(clear(list), h("h2", { text: t("robinson.mine") }), h("table", {},
      h("thead", {}, h("tr", {}, ["customer_name", "phone", "requested_at", "status", "note"].map((k) => h("th", { text: t(`robinson.${k}`) })))),
      h("tbody", {}, mine.length ? mine.slice().reverse().map((r) => h("tr", { "data-request": r.request_id },
        h("td", { text: r.customer_name }), h("td", { text: r.phone }), h("td", { text: dateTime(r.requested_at) }),
        h("td", { class: r.status === "rejected" ? "bad" : r.status === "approved" ? "ok" : "", text: statusText(r) }),
        h("td", { text: r.note || "–" }))) : h("tr", {}, h("td", { colspan: 5, class: "muted", text: t("robinson.none") })))));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(FIELDS.map((name) => [name, inputs[name].value]));
    const found = problems(values);
    for (const name of FIELDS) {
      errors[name].textContent = found[name] || "";
      inputs[name].setAttribute("aria-invalid", found[name] ? "true" : "false");
    }
    status.textContent = "";
    const first = FIELDS.find((name) => found[name]);
    if (first) { inputs[first].focus(); return; }
    try {
      await post("/api/v1/robinson-requests", values);
      FIELDS.forEach((name) => { inputs[name].value = ""; });
      status.textContent = t("robinson.filed");
      drawList();
    } catch (exc) { status.textContent = exc.message; }
  });
  add(card, form, list);
  await drawList();
  return card;
}
