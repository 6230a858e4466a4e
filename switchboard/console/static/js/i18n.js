// Texts from one JSON catalogue per language; dates in the contact center's zone, user's locale.
const LOCALES = { en: "en-GB", hu: "hu-HU", pl: "pl-PL" };
let texts = {};
let lang = "en";
let zone = "UTC";

export async function loadLanguage(code) {
  lang = LOCALES[code] ? code : "en";
  const reply = await fetch(`/console/static/i18n/${lang}.json`, { credentials: "same-origin" });
  texts = await reply.json();
  document.documentElement.lang = lang;
  localStorage.setItem("sb-lang", lang);
  return lang;
}
export function preferredLanguage() {
  const saved = localStorage.getItem("sb-lang");
  if (saved && LOCALES[saved]) return saved;
  const browser = (navigator.language || "en").slice(0, 2);
  return LOCALES[browser] ? browser : "en";
}
export function setZone(name) { zone = name || "UTC"; }
export function currentZone() { return zone; }
export function currentLanguage() { return lang; }

export function t(key, vars = {}) {
  let text = texts[key];
  if (text === undefined) text = key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}
// The catalogue's text for `key`, or undefined when this language has none.
export function entry(key) { return texts[key]; }
export function list(items) {
  return new Intl.ListFormat(LOCALES[lang], { style: "long", type: "conjunction" }).format(items.map(String));
}
// A calendar date ("2026-06-02") as the language writes it; the date itself, not an instant.
export function dateOnly(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value || ""));
  if (!m) return dateTime(value);
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 12));
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: "medium", timeZone: "UTC" }).format(d);
}
export function number(value) {
  return new Intl.NumberFormat(LOCALES[lang]).format(value);
}

function asDate(value) {
  if (value === null || value === undefined || value === "") return null;
  return typeof value === "number" ? new Date(value * 1000) : new Date(value);
}
export function dateTime(value) {
  const d = asDate(value);
  if (!d || isNaN(d)) return "";
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: "short", timeStyle: "short", timeZone: zone }).format(d);
}
export function timeOnly(value) {
  const d = asDate(value);
  if (!d || isNaN(d)) return "";
  return new Intl.DateTimeFormat(LOCALES[lang], { timeStyle: "short", timeZone: zone }).format(d);
}
export function dayLabel(d) {
  return new Intl.DateTimeFormat(LOCALES[lang], { weekday: "short", day: "numeric", month: "short", timeZone: zone }).format(d);
}
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds > 86400 * 365) return "–";  // never changed state
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}
export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  return new Intl.NumberFormat(LOCALES[lang], { style: "percent", maximumFractionDigits: 1 }).format(ratio);
}

// Wall-clock parts of an instant in the contact center's zone.
export function zonedParts(d) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(d);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { y: get("year"), m: get("month"), d: get("day"), h: get("hour"), mi: get("minute") };
}
// "2026-06-02T10:00" typed in the picker = wall time in the contact center's zone -> Date.
export function fromZonedInput(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text || "");
  if (!m) return null;
  const want = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let guess = want;
  for (let i = 0; i < 3; i++) {
    const p = zonedParts(new Date(guess));
    const seen = Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi);
    guess += want - seen;
  }
  return new Date(guess);
}
export function toZonedInput(d) {
  const p = zonedParts(d);
  const two = (n) => String(n).padStart(2, "0");
  return `${p.y}-${two(p.m)}-${two(p.d)}T${two(p.h)}:${two(p.mi)}`;
}
