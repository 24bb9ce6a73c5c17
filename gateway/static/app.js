// The case-conference review screen: routes (#/connexion, #/file, #/parcours/<id>,
// #/ordre-du-jour), each drawn from the public GraphQL API only. What the signed-in role may
// not see never reaches the page: the gateway returns it null and says why in `redactions`.

import { ApiError, gql, providerReturn, session, signInWithProvider, subscribe } from "./api.js";
import { day, h, replace, time, today } from "./dom.js";
import { KIND, ROLE, SEVERITY, SEVERITY_RANK, label } from "./labels.js";
import { renderReview } from "./review.js";

const main = document.getElementById("contenu");
const live = document.getElementById("live");
let agencies = {}; // code -> name (development registry; codes shown otherwise)
let stopLive = null;

export const ctx = { agencyName, announce, go, failed, me: () => session.me, focus: () => focusMain() };

export function agencyName(code) {
  if (code === "relais") return "Relais (règles automatiques)";
  return code ? agencies[code] ?? code : "—";
}

export function announce(text, link) {
  const item = h("p", { class: "toast" }, text, link ? [" ", link] : null);
  live.append(item);
  setTimeout(() => item.remove(), 20000);
}

export function failed(error, where = main) {
  const message = error instanceof ApiError ? error.message : `Erreur inattendue : ${error.message}`;
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
    signOut();
    return;
  }
  where.append(h("div", { class: "error", role: "alert" }, message));
}

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

function title(text) {
  document.title = `${text} — Relais`;
}

// After a navigation inside the page the focus moves to the new content; on the first load it
// stays at the top (the skip link comes first), and a redraw (a live alert) leaves it alone.
let moveFocus = false;
function focusMain() {
  if (moveFocus) main.focus();
  moveFocus = false;
}

// --------------------------------------------------------------------------- sign-in
async function signIn(problem) {
  title("Connexion");
  const heading = h("h1", {}, "Connexion");
  const status = h("div");
  if (problem) status.append(h("div", { class: "error", role: "alert" }, problem));
  const config = await fetch("/screen/config").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  const provider = config.oidc ? h("div", { class: "card narrow" },
    h("p", {}, "Connectez-vous auprès du fournisseur d'identité de votre structure : vous reviendrez ici une fois authentifié."),
    h("button", { type: "button", id: "oidc" }, "Connexion par le fournisseur d'identité")) : null;
  provider?.querySelector("button").addEventListener("click", () => signInWithProvider(config.oidc));
  const response = await fetch("/screen/identities").catch(() => null);
  if (response && response.ok) {
    const known = await response.json();
    const form = h("form", { class: "card narrow", novalidate: true },
      h("p", { class: "notice" }, "Environnement de développement : choisissez une identité de test (jeton signé par la clé locale, comme `relais token`)."),
      field("Structure", h("select", { id: "agency", name: "agency", required: true, autocomplete: "organization" },
        known.agencies.map((a) => h("option", { value: a.code }, `${a.name} (${a.code})`)))),
      field("Rôle", h("select", { id: "role", name: "role", required: true },
        known.roles.map((r) => h("option", { value: r, selected: r === "coordinateur" }, label(ROLE, r))))),
      field("Identifiant du professionnel", h("input", { id: "professional", name: "professional", required: true,
        autocomplete: "username", value: "pro-test" })),
      h("button", { type: "submit" }, "Se connecter"), status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.replaceChildren();
      const body = Object.fromEntries(new FormData(form));
      const answer = await fetch("/screen/dev-token", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await answer.json();
      if (!answer.ok) { status.append(h("div", { class: "error", role: "alert" }, String(data.errors?.[0]?.message || "Connexion refusée."))); return; }
      await start(data.token, status);
    });
    replace(main, heading, form, ...(provider ? [provider] : []));
  } else if (provider) {
    replace(main, heading, provider, status);
  } else {
    const form = h("form", { class: "card narrow" },
      h("p", {}, "Connectez-vous auprès du fournisseur d'identité de votre structure, puis collez ici le jeton d'accès qu'il vous a remis."),
      field("Jeton d'accès", h("textarea", { id: "token", name: "token", required: true, rows: 4, autocomplete: "off" })),
      h("button", { type: "submit" }, "Se connecter"), status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.replaceChildren();
      await start(String(new FormData(form).get("token")).trim(), status);
    });
    replace(main, heading, form);
  }
  focusMain();
}

export function field(text, control, hint) {
  const id = control.id;
  const hintId = hint ? `${id}-aide` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, text), hint ? h("p", { class: "hint", id: hintId }, hint) : null, control);
}

async function start(token, status) {
  try {
    const { me } = await gql("{ me { agency professional roleCode categoriesNeeded } }", {}, token);
    session.set(token);
    session.setMe(me);
    go("#/file");
  } catch (error) {
    status.append(h("div", { class: "error", role: "alert" }, error.message));
  }
}

function signOut() {
  session.clear();
  stopLive?.();
  stopLive = null;
  go("#/connexion");
}

// --------------------------------------------------------------------------- live alerts
const ALERT_SUB = `subscription($after: String) { alertChanges(after: $after) { cursor change
  alert { alertId pathwayId ruleLabel severity ownerAgency status } } }`;

function startLive() {
  if (stopLive) return;
  stopLive = subscribe(ALERT_SUB, {}, (change) => {
    if (!change) return;
    const alert = change.alert;
    if (change.change === "RAISED") {
      const link = h("a", { href: `#/parcours/${alert.pathwayId}` }, "Ouvrir le parcours");
      announce(`Nouvelle alerte ${label(SEVERITY, alert.severity).toLowerCase()} : ${alert.ruleLabel} (portée par ${agencyName(alert.ownerAgency)}).`, link);
    }
    document.dispatchEvent(new CustomEvent("relais:alert", { detail: change }));
  }, (state, reason) => {
    document.body.dataset.live = state;
    if (state === "error" && reason) announce(reason);
  });
}

// --------------------------------------------------------------------------- caseload
const CASELOAD = `query($first: Int!, $after: String) { caseload(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { id kind territory leadAgency state personRef exitDate lastActivityAt
    participants { agency }
    openAlerts { alertId severity ruleLabel ownerAgency status }
    actions { dueOn done }
    caseConferences { heldAt } } } }`;

export async function loadCaseload(pages = 1) {
  const nodes = [];
  let after = null;
  let total = 0;
  let more = false;
  for (let i = 0; i < pages; i += 1) {
    const { caseload } = await gql(CASELOAD, { first: 50, after });
    nodes.push(...caseload.nodes);
    total = caseload.totalCount;
    more = caseload.pageInfo.hasNextPage;
    after = caseload.pageInfo.endCursor;
    if (!more) break;
  }
  return { nodes, total, more, after };
}

export function topSeverity(pathway) {
  return pathway.openAlerts.reduce((best, a) => (SEVERITY_RANK[a.severity] > (SEVERITY_RANK[best] ?? 0) ? a.severity : best), null);
}

export function severityBadge(severity) {
  return severity ? h("span", { class: `badge sev-${severity.toLowerCase()}` }, label(SEVERITY, severity)) : h("span", { class: "badge sev-none" }, "Aucune");
}

export function pathwayName(p) {
  return p.personRef ?? `Parcours ${p.id.slice(0, 8)}`;
}

async function caseload() {
  title("File active");
  const me = session.me;
  const filters = h("form", { class: "filters", "aria-label": "Filtres de la file active" });
  const kind = h("select", { id: "f-kind", name: "kind" }, h("option", { value: "" }, "Tous"),
    Object.entries(KIND).map(([k, v]) => h("option", { value: k }, v)));
  const alert = h("select", { id: "f-alert", name: "alert" }, h("option", { value: "" }, "Toutes"),
    h("option", { value: "open" }, "Avec alerte ouverte"), h("option", { value: "high" }, "Alerte élevée ou critique"),
    h("option", { value: "none" }, "Sans alerte"));
  const mine = h("input", { type: "checkbox", id: "f-mine", name: "mine" });
  const territory = h("select", { id: "f-territory", name: "territory" }, h("option", { value: "" }, "Tous"));
  filters.append(field("Type de parcours", kind), field("Alertes", alert), field("Territoire", territory),
    h("div", { class: "field check" }, mine, h("label", { for: "f-mine" }, "Alertes portées par ma structure")));
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const table = h("div", { class: "scroll" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Charger 50 parcours de plus");
  replace(main, h("h1", {}, "File active — ", agencyName(me.agency)),
    h("p", { class: "lede" }, "Parcours ouverts de votre structure, les plus urgents d'abord (gravité des alertes, puis échéance la plus proche)."),
    filters, summary, table, more);
  focusMain();

  let state = { nodes: [], total: 0, after: null, more: false };
  const draw = () => {
    const f = Object.fromEntries(new FormData(filters));
    const shown = state.nodes.filter((p) => (!f.kind || p.kind === f.kind)
      && (!f.territory || p.territory === f.territory)
      && (f.alert !== "open" || p.openAlerts.length > 0)
      && (f.alert !== "none" || p.openAlerts.length === 0)
      && (f.alert !== "high" || ["HIGH", "CRITICAL"].includes(topSeverity(p)))
      && (!f.mine || p.openAlerts.some((a) => a.ownerAgency === me.agency)));
    summary.textContent = `${shown.length} parcours affichés sur ${state.nodes.length} chargés (${state.total} dans la file active).`;
    replace(table, h("table", {},
      h("caption", { class: "sr-only" }, "File active, triée par urgence"),
      h("thead", {}, h("tr", {}, ["Urgence", "Parcours", "Type", "Territoire", "Structure pilote", "Alertes ouvertes", "Sortie prévue", "Dernière activité"]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, shown.map((p) => h("tr", {},
        h("td", {}, severityBadge(topSeverity(p))),
        h("th", { scope: "row" }, h("a", { href: `#/parcours/${p.id}` }, pathwayName(p))),
        h("td", {}, label(KIND, p.kind)),
        h("td", {}, p.territory),
        h("td", {}, agencyName(p.leadAgency)),
        h("td", {}, p.openAlerts.length ? h("ul", { class: "plain" }, p.openAlerts.map((a) => h("li", {}, a.ruleLabel))) : "—"),
        h("td", {}, time(p.exitDate, false)),
        h("td", {}, time(p.lastActivityAt)))))));
    more.hidden = !state.more;
  };
  const refreshTerritories = () => {
    const chosen = territory.value;
    const codes = [...new Set(state.nodes.map((p) => p.territory))].sort();
    replace(territory, h("option", { value: "" }, "Tous"), codes.map((c) => h("option", { value: c, selected: c === chosen }, c)));
  };
  filters.addEventListener("change", draw);
  filters.addEventListener("submit", (e) => e.preventDefault());
  const reload = async () => {
    try {
      state = await loadCaseload(1);
      refreshTerritories();
      draw();
    } catch (error) { failed(error); }
  };
  more.addEventListener("click", async () => {
    try {
      const { caseload: page } = await gql(CASELOAD, { first: 50, after: state.after });
      state = { nodes: [...state.nodes, ...page.nodes], total: page.totalCount, more: page.pageInfo.hasNextPage, after: page.pageInfo.endCursor };
      refreshTerritories();
      draw();
    } catch (error) { failed(error); }
  });
  onAlert(() => reload());
  await reload();
}

// --------------------------------------------------------------------------- agenda
async function agenda() {
  title("Ordre du jour");
  const weeks = h("input", { type: "number", id: "weeks", name: "weeks", min: 1, max: 52, value: 4, inputmode: "numeric" });
  const form = h("form", { class: "filters" }, field("Non discutés depuis (semaines)", weeks),
    h("button", { type: "submit" }, "Mettre à jour"));
  const list = h("div", { "aria-live": "polite" });
  replace(main, h("h1", {}, "Ordre du jour de la prochaine synthèse"),
    h("p", { class: "lede" }, "Parcours à revoir : alerte ouverte élevée ou critique, action en retard, ou pas de synthèse depuis N semaines."),
    form, list);
  focusMain();
  let loaded = null;
  const draw = () => {
    const limit = new Date(Date.now() - Number(weeks.value || 4) * 7 * 86400000);
    const now = today();
    const due = loaded.nodes.map((p) => {
      const reasons = [];
      const high = p.openAlerts.filter((a) => a.severity === "HIGH" || a.severity === "CRITICAL");
      if (high.length) reasons.push(`${high.length} alerte(s) élevée(s) ou critique(s) : ${high.map((a) => a.ruleLabel).join(", ")}`);
      const late = p.actions.filter((a) => !a.done && a.dueOn < now);
      if (late.length) reasons.push(`${late.length} action(s) en retard`);
      const last = p.caseConferences.map((c) => c.heldAt).sort().at(-1);
      if (!last) reasons.push("jamais discuté en synthèse");
      else if (new Date(last) < limit) reasons.push(`dernière synthèse le ${day(last)}`);
      return { p, reasons, rank: (high.length ? 4 : 0) + (late.length ? 2 : 0) + (last && new Date(last) >= limit ? 0 : 1) };
    }).filter((x) => x.reasons.length).sort((a, b) => b.rank - a.rank);
    replace(list, h("p", { class: "summary" }, `${due.length} parcours à inscrire (sur ${loaded.nodes.length} parcours ouverts examinés).`),
      h("ol", { class: "agenda" }, due.map(({ p, reasons }) => h("li", { class: "card" },
        h("h2", { class: "h3" }, h("a", { href: `#/parcours/${p.id}` }, pathwayName(p)), " ", severityBadge(topSeverity(p))),
        h("p", {}, `${label(KIND, p.kind)} — pilote : ${agencyName(p.leadAgency)} — territoire ${p.territory}`),
        h("ul", {}, reasons.map((r) => h("li", {}, r)))))));
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); draw(); });
  try {
    loaded = await loadCaseload(4);
    draw();
  } catch (error) { failed(error); }
}

// --------------------------------------------------------------------------- router
let alertListener = null;
function onAlert(callback) {
  alertListener = callback;
}
document.addEventListener("relais:alert", (event) => alertListener?.(event.detail));

async function route() {
  const hash = location.hash || "#/file";
  if (!hash.startsWith("#/")) return; // the skip link
  alertListener = null;
  const me = session.me;
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  const out = document.getElementById("signout");
  if (!session.token || !me) {
    nav.hidden = true; out.hidden = true; who.textContent = "";
    await signIn();
    return;
  }
  nav.hidden = false; out.hidden = false;
  who.textContent = `${me.professional} — ${label(ROLE, me.roleCode)}, ${agencyName(me.agency)}`;
  for (const link of nav.querySelectorAll("a")) {
    if (hash.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  startLive();
  const [path, query] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "parcours" && parts[1]) {
      await renderReview(main, parts[1], new URLSearchParams(query ?? ""), { ...ctx, onAlert });
    } else if (parts[0] === "ordre-du-jour") {
      await agenda();
    } else if (parts[0] === "connexion") {
      go("#/file");
    } else {
      await caseload();
    }
  } catch (error) { failed(error); }
}

async function boot() {
  document.getElementById("signout").addEventListener("click", signOut);
  document.getElementById("skip").addEventListener("click", (event) => { event.preventDefault(); main.focus(); });
  const response = await fetch("/screen/identities").catch(() => null);
  if (response && response.ok) {
    for (const a of (await response.json()).agencies) agencies[a.code] = a.name;
  }
  window.addEventListener("hashchange", () => { moveFocus = true; route(); });
  let token = null;
  try {
    token = await providerReturn();
  } catch (error) {
    await signIn(error.message);
    return;
  }
  if (token) {
    const status = h("div");
    await start(token, status);
    if (status.childNodes.length) await signIn(status.textContent);
    return;  // signed in: start() went to the caseload
  }
  await route();
}

boot();
