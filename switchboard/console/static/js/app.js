// The console's shell: sign-in, language, navigation by #hash, one live stream per session.
import { api, get, post, setCsrf, ApiError } from "./api.js";
import { h, clear, toast, add } from "./dom.js";
import { loadLanguage, preferredLanguage, setZone, t } from "./i18n.js";
import * as stream from "./stream.js";
import * as advisor from "./advisor.js";
import * as outages from "./outages.js";
import * as supervisor from "./supervisor.js";
import * as wallboard from "./wallboard.js";

const PAGES = {
  advisor: { roles: ["advisor"], label: "nav.home", render: advisor.render },
  wallboard: { roles: ["supervisor", "admin"], label: "nav.wallboard", render: wallboard.render },
  agents: { roles: ["supervisor", "admin"], label: "nav.agents", render: supervisor.agents },
  robinson: { roles: ["supervisor"], label: "nav.robinson", render: supervisor.robinson },
  tasks: { roles: ["supervisor"], label: "nav.tasks", render: supervisor.tasks },
  campaigns: { roles: ["supervisor", "admin"], label: "nav.campaigns", render: supervisor.campaigns },
  lists: { roles: ["supervisor"], label: "nav.lists", render: supervisor.lists },
  outages: { roles: ["supervisor", "admin"], label: "nav.outages", render: outages.render },
  rules: { roles: ["supervisor", "admin"], label: "nav.rules", render: supervisor.rules },
};

let session = null;
let cleanup = null;

function go(hash) {
  if ((location.hash || "") === hash) route();
  else location.hash = hash;  // hashchange routes
}

function pagesFor(role) {
  return Object.entries(PAGES).filter(([, page]) => page.roles.includes(role));
}

function applyStaticTexts() {
  document.getElementById("lang-label").textContent = t("lang.label");
  document.getElementById("skip-link").textContent = t("skip");
  document.getElementById("logout").textContent = t("logout");
  document.title = `Switchboard – ${t("app.title")}`;
  stream.refreshLiveLabel();
}

function renderNav(current) {
  const nav = clear(document.getElementById("nav"));
  if (!session) return;
  for (const [name, page] of pagesFor(session.role)) {
    add(nav, h("a", { href: `#/${name}`, "aria-current": name === current ? "page" : null, text: t(page.label) }));
  }
  document.getElementById("who").textContent = `${session.name} (${t(`role.${session.role}`)})`;
  document.getElementById("logout").hidden = false;
}

function loginPage(main) {
  document.getElementById("nav").replaceChildren();
  document.getElementById("who").textContent = "";
  document.getElementById("logout").hidden = true;
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", required: true,
    "aria-describedby": "token-help login-error" });
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", text: t("login.title") }),
    h("label", { for: "token", text: t("login.token") }), input,
    h("p", { class: "muted", id: "token-help", text: t("login.help") }),
    error,
    h("button", { type: "submit", id: "login-button", text: t("login.submit") }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      session = await post("/console/api/login", { token: input.value });
      setCsrf(session.csrf);
      setZone(session.timezone);
      go(`#/${pagesFor(session.role)[0]?.[0] || "advisor"}`);
    } catch (exc) {
      error.textContent = exc instanceof ApiError && exc.status === 401 ? t("login.refused") : exc.message;
    }
  });
  add(main, form);
  input.focus();
}

let generation = 0;

// Each route renders into a fresh container: a slower, older render lands in a detached one.
async function route() {
  const mine = ++generation;
  if (cleanup) { cleanup(); cleanup = null; }
  const main = h("div", { class: "view" });
  clear(document.getElementById("main")).append(main);
  if (!session) { loginPage(main); return; }
  const allowed = pagesFor(session.role);
  if (!allowed.length) { add(main, h("p", { class: "notice", text: t("role.none") })); renderNav(""); return; }
  let name = (location.hash || "").replace(/^#\//, "");
  if (!PAGES[name] || !PAGES[name].roles.includes(session.role)) name = allowed[0][0];
  renderNav(name);
  stream.connect();
  try {
    const done = (await PAGES[name].render(main, { session, rerender: route })) || null;
    if (mine === generation) cleanup = done;
    else if (done) done();
  } catch (exc) {
    add(main, h("p", { class: "error", role: "alert", text: exc.message }));
  }
}

async function start() {
  const select = document.getElementById("lang");
  select.value = await loadLanguage(preferredLanguage());
  applyStaticTexts();
  select.addEventListener("change", async () => {
    await loadLanguage(select.value);
    applyStaticTexts();
    route();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try { await post("/console/api/logout"); } catch (exc) { toast(exc.message); }
    stream.disconnect();
    session = null;
    go("");
  });
  window.addEventListener("hashchange", route);
  try {
    session = await get("/console/api/session");
    setCsrf(session.csrf);
    setZone(session.timezone);
  } catch { session = null; }
  route();
}

start();
export { api };
