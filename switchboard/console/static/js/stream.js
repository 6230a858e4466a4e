// One EventSource to /api/v1/stream per page. The browser reconnects by itself and sends
// Last-Event-ID, so no event is lost across a short disconnect; listeners get parsed JSON.
import { t } from "./i18n.js";

const listeners = new Map();
let source = null;

function setLive(on) {
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.className = `live ${on ? "on" : "off"}`;
  badge.textContent = on ? t("live.on") : t("live.off");
  badge.dataset.state = on ? "on" : "off";
}

export function on(kind, fn) {
  if (!listeners.has(kind)) listeners.set(kind, new Set());
  listeners.get(kind).add(fn);
  return () => listeners.get(kind).delete(fn);
}

function dispatch(kind, message) {
  let data = null;
  try { data = JSON.parse(message.data); } catch { return; }
  for (const fn of listeners.get(kind) || []) fn(data, message.lastEventId);
}

const KINDS = [
  "hello", "handover", "ended", "abandoned", "routed_out", "transferred", "transfer_cancelled", "me", "wallboard",
  "problem",
];

export function connect() {
  if (source) return;
  source = new EventSource("/api/v1/stream", { withCredentials: true });
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false);
  for (const kind of KINDS) source.addEventListener(kind, (m) => dispatch(kind, m));
}

export function disconnect() {
  if (source) source.close();
  source = null;
  listeners.clear();
}

export function refreshLiveLabel() {
  const badge = document.getElementById("live");
  if (badge && badge.dataset.state) setLive(badge.dataset.state === "on");
}
