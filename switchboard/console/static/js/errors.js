// An API error in the user's language. Every error body carries a stable id (`error`), details
// and an English `message`. The sentence is the catalogue's `error.<id>.<reason>` (when the
// details carry a `reason`) or `error.<id>`, its {placeholders} filled from the details:
// {name} as sent, {name:date} a calendar date, {name:time} an instant in the contact center's
// zone, {name:list} a list, {name:field} a field's label, {name:number} a number, {name:state}
// an agent state, {name:robinson} a request status. `error.<id>.detailed`, when the catalogue has
// one, is tried before `error.<id>` and used when all its (extra) details came. An id the
// catalogue lacks, or a sentence whose details did not come, shows the English message instead:
// never a wrong sentence, never nothing. Request validation lists each field with its problem.
import { t, entry, list, dateOnly, dateTime, number } from "./i18n.js";

const FORMATS = {
  date: dateOnly,
  time: dateTime,
  list: (v) => list(Array.isArray(v) ? v.map(fieldLabel) : [v]),
  field: (v) => fieldLabel(v),
  number: (v) => number(v),
  state: (v) => entry(`state.${v}`) ?? String(v),
  robinson: (v) => entry(`robinson.status.${v}`) ?? String(v),
};

// "body.note" / "skills['x']" / "note" -> the label the page shows for that field.
export function fieldLabel(path) {
  const name = String(path).replace(/^(body|query|path)\./, "").replace(/\[.*$/, "").split(".").pop();
  return entry(`field.${name}`) ?? name;
}

function fill(key, vars) {
  const text = entry(key);
  if (text === undefined) return null;
  let complete = true;
  const out = text.replace(/\{(\w+)(?::(\w+))?\}/g, (_, name, kind) => {
    const value = vars[name];
    if (value === undefined || value === null || value === "") { complete = false; return ""; }
    return kind && FORMATS[kind] ? FORMATS[kind](value) : String(value);
  });
  return complete ? out : null;
}

// One problem of a request validation: "<field>: <problem>", the problem by pydantic's type.
function fieldProblem(item) {
  const vars = { ...(item.ctx || {}) };
  const problem = fill(`validation.${item.type}`, vars) ?? item.message;
  return t("validation.item", { field: fieldLabel(item.field), problem });
}

export function describeError(status, body) {
  const english = body && typeof body.message === "string" ? body.message : "";
  const id = body && typeof body.error === "string" ? body.error : "";
  const details = (body && body.details) || {};
  if (id === "validation-failed" && Array.isArray(details.errors) && details.errors.length) {
    return t("validation.title", { problems: details.errors.slice(0, 5).map(fieldProblem).join("; ") });
  }
  const vars = { ...details, status, message: english };
  const keys = [];
  if (id && typeof details.reason === "string") keys.push(`error.${id}.${details.reason}`);
  if (id && Array.isArray(details.missing) && details.missing.length) keys.push(`error.${id}.missing`);
  if (id && details.invalid && Object.keys(details.invalid).length) {
    vars.invalid_fields = Array.isArray(details.invalid)
      ? details.invalid.map((i) => (i && i.index !== undefined ? `#${i.index + 1}` : String(i)))
      : Object.keys(details.invalid);
    keys.push(`error.${id}.invalid`);
  }
  if (id) keys.push(`error.${id}.detailed`, `error.${id}`);
  for (const key of keys) {
    const text = fill(key, vars);
    if (text !== null) return text;
  }
  return english || t("error.http", { status });
}
