// My tasks: status filters, the central deadline (red once passed), my own time with a picker that
// refuses times after the deadline or in the past, and a day/week calendar.
import { get, getAll, put } from "./api.js";
import { h, clear, toast, add, tickets } from "./dom.js";
import { t, dateTime, timeOnly, dayLabel, zonedParts, fromZonedInput, toZonedInput } from "./i18n.js";

const FILTERS = ["all", "open", "due", "overdue", "at_risk", "expired"];
const me = encodeURIComponent;
const REMIND_BEFORE = [900, 3600, 10800, 86400];

// The central deadline's last moment (23:59:59 of its day), in the zone and the user's locale.
export function deadlineText(task) {
  return dateTime(new Date(new Date(task.expires_at).getTime() - 1000));
}

export function deadlinePassed(task, now = Date.now()) {
  return task.status === "expired" || new Date(task.expires_at).getTime() <= now;
}

// Why a chosen own time is refused, or "" when it is fine.
export function ownTimeProblem(task, chosen, now = Date.now()) {
  if (!chosen) return t("tasks.pick_time");
  if (chosen.getTime() >= new Date(task.expires_at).getTime()) return t("tasks.after_deadline", { deadline: deadlineText(task) });
  if (chosen.getTime() < now) return t("tasks.in_past");
  return "";
}

function picker(task, onDone) {
  const id = `own-${task.task_id}`;
  const input = h("input", { type: "datetime-local", id, "aria-describedby": `${id}-hint ${id}-error` });
  const last = new Date(new Date(task.expires_at).getTime() - 60000);
  input.min = toZonedInput(new Date());
  input.max = toZonedInput(last);
  input.value = task.own_time ? toZonedInput(new Date(task.own_time)) : "";
  const error = h("p", { class: "error", id: `${id}-error`, role: "alert" });
  // Every task has an e-mail reminder (seed 002); the advisor picks how long before which time.
  const current = task.reminder || { before_seconds: 3600, of: "own_time" };
  const before = h("select", { id: `${id}-remind` }, ...REMIND_BEFORE.map((seconds) =>
    h("option", { value: String(seconds), text: t(`tasks.remind_${seconds}`) })));
  const of = h("select", { id: `${id}-remind-of` }, ...["own_time", "deadline"].map((anchor) =>
    h("option", { value: anchor, text: t(`tasks.remind_of_${anchor}`) })));
  if (!REMIND_BEFORE.includes(current.before_seconds)) {
    before.prepend(h("option", { value: String(current.before_seconds), text: `${Math.round(current.before_seconds / 60)} min` }));
  }
  before.value = String(current.before_seconds);
  of.value = current.of;
  const form = h("form", { class: "picker", novalidate: true },
    h("label", { for: id, text: t("tasks.own_time") }), input,
    h("p", { class: "muted", id: `${id}-hint`, text: t("tasks.deadline_hint", { deadline: deadlineText(task) }) }),
    h("label", { for: `${id}-remind`, text: t("tasks.remind_me") }), before,
    h("label", { for: `${id}-remind-of`, text: t("tasks.remind_of") }), of,
    error, h("button", { type: "submit", text: t("tasks.save_time") }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = fromZonedInput(input.value);
    const problem = ownTimeProblem(task, chosen);
    if (problem) { error.textContent = problem; return; }
    try {
      const reminder = { before: Number(before.value), of: of.value };
      await put(`/api/v1/tasks/${me(task.task_id)}/own-time`, { own_time: chosen.toISOString(), reminder });
      onDone();
    } catch (exc) { error.textContent = exc.message; }
  });
  return form;
}

export function taskTable(tasks, { onChange, owner = false, select = null } = {}) {
  const now = Date.now();
  const rows = tasks.map((task) => {
    const passed = deadlinePassed(task, now);
    const cell = h("td");
    const change = h("button", { type: "button", class: "secondary", text: task.own_time ? t("tasks.change_time") : t("tasks.set_time"),
      onclick: () => { add(clear(cell), picker(task, onChange)); cell.querySelector("input").focus(); } });
    if (!["done"].includes(task.status) && !passed && onChange) add(cell, change);
    return h("tr", { class: passed ? "passed" : "", "data-task": task.task_id },
      select ? h("td", {}, h("input", { type: "checkbox", "aria-label": task.task_id, value: task.task_id, onchange: select })) : null,
      h("td", { text: task.customer_id || task.lead_id }), h("td", { text: task.kind }),
      owner ? h("td", { text: task.owner || "–" }) : null,
      h("td", { class: passed ? "passed deadline" : "deadline", title: task.deadline_label, text: deadlineText(task) + (passed ? ` – ${t("tasks.passed")}` : "") }),
      h("td", { class: task.overdue ? "bad" : "", text: task.own_time ? dateTime(task.own_time) : "–" }),
      h("td", {}, t(`task.${task.status}`), task.at_risk ? h("span", { class: "bad" }, ` (${t("task.at_risk")})`) : null),
      cell);
  });
  return h("table", { class: "tasks" },
    h("thead", {}, h("tr", {}, select ? h("th", { text: "" }) : null, h("th", { text: t("tasks.customer") }), h("th", { text: t("tasks.kind") }),
      owner ? h("th", { text: t("tasks.owner") }) : null, h("th", { text: t("tasks.deadline") }),
      h("th", { text: t("tasks.own_time") }), h("th", { text: t("tasks.status") }), h("th", { text: "" }))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "muted", text: t("tasks.none") }))));
}

function dayKey(d) { const p = zonedParts(d); return `${p.y}-${p.m}-${p.d}`; }

export function calendar(tasks, days) {
  const start = new Date();
  const columns = [];
  for (let i = 0; i < days; i++) columns.push(new Date(start.getTime() + i * 86400000));
  const grid = h("div", { class: "cal", style: `grid-template-columns: repeat(${days}, 1fr)`, role: "table", "aria-label": t("tasks.calendar") });
  for (const d of columns) add(grid, h("div", { class: "head", role: "columnheader", text: dayLabel(d) }));
  for (const d of columns) {
    const key = dayKey(d);
    const items = tasks.filter((task) => dayKey(new Date(task.own_time || task.expires_at)) === key)
      .sort((a, b) => new Date(a.own_time || a.expires_at) - new Date(b.own_time || b.expires_at));
    add(grid, h("div", { role: "cell" }, items.map((task) => h("span", { class: `item ${deadlinePassed(task) ? "passed" : ""}` },
      `${task.own_time ? timeOnly(task.own_time) : t("tasks.deadline")} ${task.customer_id || task.lead_id} (${task.kind})`))));
  }
  return grid;
}

export async function taskCard() {
  const card = h("section", { class: "card wide", "aria-labelledby": "tasks-title", id: "tasks" });
  let filter = "all";
  let span = 1;
  const ticket = tickets();
  async function draw() {
    const ok = ticket();
    let tasks = [];
    try { tasks = await getAll(`/api/v1/tasks?limit=500${filter === "all" ? "" : `&status=${filter}`}`); }
    catch (exc) { toast(exc.message); }
    if (!ok()) return;
    add(clear(card), h("h2", { id: "tasks-title", text: t("tasks.title") }),
      h("div", { class: "tabs", role: "group", "aria-label": t("tasks.filter") }, FILTERS.map((name) =>
        h("button", { type: "button", "aria-pressed": String(name === filter), "data-filter": name, text: t(`task.${name}`),
          onclick: () => { filter = name; draw(); } }))),
      taskTable(tasks, { onChange: draw }),
      h("div", { class: "tabs", role: "group", "aria-label": t("tasks.calendar"), style: "margin-top:1rem" },
        h("button", { type: "button", id: "cal-day", "aria-pressed": String(span === 1), text: t("tasks.day"), onclick: () => { span = 1; draw(); } }),
        h("button", { type: "button", id: "cal-week", "aria-pressed": String(span === 7), text: t("tasks.week"), onclick: () => { span = 7; draw(); } })),
      calendar(tasks, span));
  }
  await draw();
  return card;
}
