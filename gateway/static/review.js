// One pathway's review for the case conference: alerts (acknowledge / dismiss), the actions of
// the last conference, what changed since it, the cross-agency timeline, the pathway as known
// on a chosen date, and the form that records the conference.

import { command, gql } from "./api.js";
import { day, h, moment, replace, time, today } from "./dom.js";
import {
  ALERT_STATUS, APPOINTMENT_STATUS, CATEGORY, DISMISSAL, KIND, OPEN_ALERT, PARTICIPANT_ROLE, PHONE, REFERRAL_STATUS, ROLE,
  SEVERITY, STATE, label,
} from "./labels.js";

const REDACTIONS = "redactions { field category reason message }";
const PATHWAY = `query($id: UUID!, $asOf: DateTime, $v: Int) { pathway(id: $id, asOf: $asOf, atLeastVersion: $v) {
  id kind territory leadAgency state version openedAt lastActivityAt asOf personRef interpreterLanguage
  exitDate exitedOn closureOutcome closureReason
  access { membership visibleCategories hiddenCategories }
  participants { agency role inCareTeam }
  openNeeds { needId infoCategory category description recordedAt recordedBy }
  referrals { referralId infoCategory toAgency service status outcome madeAt }
  appointments { appointmentId infoCategory withAgency service scheduledAt status }
  contact { phone failedAttempts lastAttemptAt lastReachedAt }
  facts { name label infoCategory value }
  alerts { alertId infoCategory ruleId ruleLabel severity status ownerAgency raisedAt subject suggestedAction
    escalatedTo escalationReason resolutionReason statusChangedAt ${REDACTIONS} }
  caseConferences { conferenceId heldAt agencies decisions }
  actions { actionId conferenceId ownerAgency description dueOn done doneAt }
  ${REDACTIONS}
  timeline(first: 50) { totalCount pageInfo { hasNextPage endCursor }
    entries { position infoCategory type label occurredAt recordedAt agency role ${REDACTIONS} } } } }`;

const TIMELINE_PAGE = `query($id: UUID!, $asOf: DateTime, $after: Int) { pathway(id: $id, asOf: $asOf) {
  timeline(first: 50, after: $after) { pageInfo { hasNextPage endCursor }
    entries { position infoCategory type label occurredAt recordedAt agency role ${REDACTIONS} } } } }`;

function hidden(redactions, prefix) {
  const found = (redactions || []).find((r) => r.field === prefix || r.field.startsWith(`${prefix}.`));
  return found ? h("span", { class: "redacted" }, `Masqué : ${found.message}`) : null;
}

function masked(value, redaction) {
  if (value !== null && value !== undefined && value !== "") return String(value);
  return redaction ? h("span", { class: "redacted" }, `Masqué (${label(CATEGORY, redaction.category)}) : ${redaction.message}`) : "—";
}

function section(id, heading, ...content) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, heading), ...content);
}

async function allTimeline(pathway, asOf) {
  const entries = [...pathway.timeline.entries];
  let info = pathway.timeline.pageInfo;
  let guard = 0;
  while (info.hasNextPage && guard < 20) {
    const data = await gql(TIMELINE_PAGE, { id: pathway.id, asOf, after: Number(info.endCursor) });
    entries.push(...data.pathway.timeline.entries);
    info = data.pathway.timeline.pageInfo;
    guard += 1;
  }
  return entries;
}

export async function renderReview(main, id, params, ctx) {
  // A local date and time (datetime-local) of the past: the pathway as the journal knew it then.
  const asOf = params.get("asOf") ? new Date(params.get("asOf")).toISOString() : null;
  const view = params.get("vue") || "";
  const started = performance.now();
  let data;
  try {
    data = await gql(PATHWAY, { id, asOf, v: params.get("v") ? Number(params.get("v")) : null });
  } catch (error) {
    replace(main, h("h1", {}, "Parcours"));
    ctx.failed(error);
    return;
  }
  const p = data.pathway;
  if (!p) {
    replace(main, h("h1", {}, "Parcours introuvable"),
      h("p", {}, asOf ? `Ce parcours n'était pas connu le ${moment(asOf)}, ou votre structure n'y participe pas.`
        : "Ce parcours n'existe pas, ou votre structure n'y participe pas."),
      h("p", {}, h("a", { href: `#/parcours/${id}` }, "Revenir au parcours aujourd'hui")));
    ctx.focus();
    return;
  }
  const timeline = await allTimeline(p, asOf);
  const me = ctx.me();
  const readOnly = Boolean(asOf);
  const conferences = [...p.caseConferences].sort((a, b) => a.heldAt.localeCompare(b.heldAt));
  const last = conferences.at(-1) ?? null;
  const name = p.personRef ?? "Personne (identité masquée)";
  document.title = `${name} — revue du parcours — Relais`;

  const reload = (version) => ctx.go(`#/parcours/${id}?v=${version}${view ? `&vue=${view}` : ""}`);
  const base = `#/parcours/${id}`;

  const header = h("div", { class: "review-head" },
    h("p", { class: "crumbs" }, h("a", { href: "#/file" }, "File active"), " › revue du parcours"),
    h("h1", {}, name, " ", h("span", { class: "kind" }, label(KIND, p.kind))),
    h("dl", { class: "meta" },
      h("dt", {}, "Structure pilote"), h("dd", {}, ctx.agencyName(p.leadAgency)),
      h("dt", {}, "Territoire"), h("dd", {}, p.territory),
      h("dt", {}, "État"), h("dd", {}, label(STATE, p.state)),
      h("dt", {}, "Ouvert le"), h("dd", {}, time(p.openedAt)),
      h("dt", {}, "Sortie prévue"), h("dd", {}, p.exitDate ? time(p.exitDate, false) : masked(null, p.redactions.find((r) => r.field === "exitDate"))),
      h("dt", {}, "Dernière synthèse"), h("dd", {}, last ? time(last.heldAt) : "aucune")),
    asOf ? h("p", { class: "notice", role: "note" }, `Parcours tel que connu le ${moment(asOf)} (reconstruit depuis le journal) : lecture seule. `,
      h("a", { href: base }, "Revenir à aujourd'hui")) : null);

  const tools = h("nav", { class: "tools no-print", "aria-label": "Vues de la revue" },
    h("a", { href: base, "aria-current": !view && !asOf ? "page" : null }, "Revue complète"),
    last ? h("a", { href: `${base}?vue=depuis`, "aria-current": view === "depuis" ? "page" : null }, "Depuis la dernière synthèse") : null,
    asOfForm(id, params.get("asOf"), ctx),
    h("button", { type: "button", class: "secondary", onclick: () => window.print() }, "Imprimer la revue"));

  // --- alerts
  const open = p.alerts.filter((a) => OPEN_ALERT.has(a.status));
  const alerts = section("s-alerts", `Alertes ouvertes (${open.length})`,
    open.length ? h("ul", { class: "alerts plain" }, open.map((a) => alertCard(a, p, me, readOnly, reload, ctx))) : h("p", {}, "Aucune alerte ouverte."));

  // --- actions of the last conference
  const actions = section("s-actions", last ? `Actions décidées en synthèse du ${day(last.heldAt)}` : "Actions décidées en synthèse",
    actionsTable(p.actions.filter((a) => last && a.conferenceId === last.conferenceId), readOnly, p, reload, ctx));
  const otherActions = p.actions.filter((a) => !last || a.conferenceId !== last.conferenceId);

  // --- since the last conference
  // Since the last conference: what happened, or was recorded, after it, except the
  // conference itself and the actions it decided (recorded with the conference's date).
  const cut = last ? Date.parse(last.heldAt) : 0;
  const since = last ? timeline.filter((e) => Date.parse(e.occurredAt) !== cut
    && (Date.parse(e.occurredAt) > cut || Date.parse(e.recordedAt) > cut)) : [];
  const changed = last
    ? section("s-since", `Ce qui a changé depuis la synthèse du ${day(last.heldAt)} (${since.length})`,
      since.length ? timelineTable(since, ctx, "Événements enregistrés depuis la dernière synthèse") : h("p", {}, "Rien de nouveau depuis la dernière synthèse."))
    : section("s-since", "Ce qui a changé depuis la dernière synthèse", h("p", {}, "Aucune synthèse enregistrée pour ce parcours : toute la chronologie est nouvelle."));

  const situation = section("s-situation", "Situation", situationOf(p, ctx));
  const history = section("s-timeline", `Chronologie inter-structures (${timeline.length} événements)`,
    h("p", { class: "hint" }, "Qui a fait quoi, quand cela s'est passé sur le terrain, et quand ce fut enregistré."),
    timelineTable(timeline, ctx, "Chronologie du parcours"));
  const conferencesSection = section("s-conferences", `Synthèses (${conferences.length})`,
    conferences.length ? h("ol", {}, conferences.map((c) => h("li", {}, time(c.heldAt), " — présents : ",
      c.agencies.map(ctx.agencyName).join(", "),
      c.decisions ? h("ul", {}, c.decisions.map((d) => h("li", {}, d))) : h("p", {}, hidden(p.redactions, "caseConferences") ?? "Décisions masquées.")))) : h("p", {}, "Aucune synthèse enregistrée."),
    otherActions.length ? [h("h3", {}, "Actions des synthèses précédentes"), actionsTable(otherActions, true, p, reload, ctx)] : null);
  const hiddenSection = redactionsSection(p, timeline);
  const record = readOnly || p.state === "CLOSED" ? null : conferenceForm(p, me, reload, ctx);

  const body = view === "depuis"
    ? [changed, alerts, actions]
    : [alerts, actions, changed, situation, history, conferencesSection, hiddenSection, record];
  replace(main, header, tools, ...body);
  ctx.focus();
  performance.mark("relais:review-painted");
  requestAnimationFrame(() => {
    performance.measure("relais:review", { start: started, end: performance.now() });
    document.body.dataset.reviewReady = p.id;
  });
  ctx.onAlert((change) => {
    if (change.alert.pathwayId !== p.id || asOf) return;
    const here = `${base}${view ? `?vue=${view}` : ""}`;
    const typing = [...main.querySelectorAll("#s-record textarea, select[id^=reason-]")].some((x) => x.value && x.offsetParent);
    if (typing) { // never wipe a conference being typed: offer the refresh instead
      ctx.announce("Une alerte de ce parcours a changé.", h("button", { type: "button", class: "secondary", onclick: () => ctx.go(here) }, "Actualiser la revue"));
    } else {
      ctx.go(here);
    }
  });
}

function asOfForm(id, chosen, ctx) {
  const input = h("input", { type: "datetime-local", id: "as-of", name: "asOf", step: 1, max: localNow(), value: chosen ?? "", required: true });
  const form = h("form", { class: "inline" }, h("label", { for: "as-of" }, "Tel que connu le"), input,
    h("button", { type: "submit", class: "secondary" }, "Afficher"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value) ctx.go(`#/parcours/${id}?asOf=${input.value}`);
  });
  return form;
}

function alertCard(a, p, me, readOnly, reload, ctx) {
  const status = h("div");
  const mayAct = !readOnly && (a.ownerAgency === me.agency || a.escalatedTo === me.agency);
  const act = async (name, input) => {
    status.replaceChildren();
    try {
      const outcome = await command(name, { pathwayId: p.id, alertId: a.alertId, ...input });
      reload(outcome.version);
    } catch (error) { status.append(h("div", { class: "error", role: "alert" }, error.message)); }
  };
  const reasonId = `reason-${a.alertId}`;
  const dismiss = h("form", { class: "inline", hidden: true },
    h("label", { for: reasonId }, "Motif"),
    h("select", { id: reasonId, name: "reason", required: true }, Object.entries(DISMISSAL).map(([k, v]) => h("option", { value: k }, v))),
    h("button", { type: "submit" }, "Confirmer l'écart"));
  dismiss.addEventListener("submit", (event) => {
    event.preventDefault();
    act("DismissAlert", { reason: new FormData(dismiss).get("reason") });
  });
  const dismissToggle = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, "Écarter…");
  dismissToggle.addEventListener("click", () => {
    dismiss.hidden = !dismiss.hidden;
    dismissToggle.setAttribute("aria-expanded", String(!dismiss.hidden));
    if (!dismiss.hidden) dismiss.querySelector("select").focus();
  });
  return h("li", { class: `alert sev-border-${a.severity.toLowerCase()}`, "data-alert": a.alertId },
    h("h3", {}, h("span", { class: `badge sev-${a.severity.toLowerCase()}` }, label(SEVERITY, a.severity)), " ", a.ruleLabel),
    h("dl", { class: "meta" },
      h("dt", {}, "Élément concerné"), h("dd", {}, masked(a.subject, a.redactions.find((r) => r.field === "subject"))),
      h("dt", {}, "Portée par"), h("dd", {}, ctx.agencyName(a.ownerAgency), a.escalatedTo ? ` — escaladée à ${ctx.agencyName(a.escalatedTo)}` : ""),
      h("dt", {}, "Action suggérée"), h("dd", {}, masked(a.suggestedAction, a.redactions.find((r) => r.field === "suggestedAction"))),
      h("dt", {}, "Statut"), h("dd", { class: "alert-status" }, label(ALERT_STATUS, a.status), a.statusChangedAt ? [" le ", time(a.statusChangedAt)] : ""),
      h("dt", {}, "Déclenchée le"), h("dd", {}, time(a.raisedAt))),
    mayAct ? h("div", { class: "actions no-print" },
      a.status === "RAISED" ? h("button", { type: "button", onclick: () => act("AcknowledgeAlert", {}) }, "Prendre en compte") : null,
      dismissToggle, dismiss) : (readOnly ? null : h("p", { class: "hint" }, `Seule la structure qui porte l'alerte (${ctx.agencyName(a.ownerAgency)}) peut la prendre en compte ou l'écarter.`)),
    status);
}

function actionsTable(actions, readOnly, p, reload, ctx) {
  if (!actions.length) return h("p", {}, "Aucune action.");
  const now = today();
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Action", "Responsable", "Échéance", "Statut", ""].map((c, i) => h("th", { scope: "col", class: i === 4 ? "no-print" : null }, c || h("span", { class: "sr-only" }, "Geste")))))
    , h("tbody", {}, actions.map((a) => {
      const status = a.done ? ["Faite le ", time(a.doneAt)] : a.dueOn < now ? h("strong", { class: "late" }, "En retard") : "À faire";
      const cell = h("td", { class: "no-print" });
      if (!readOnly && !a.done && a.ownerAgency === ctx.me().agency) {
        cell.append(h("button", { type: "button", class: "secondary", onclick: async () => {
          try { reload((await command("CompleteAction", { pathwayId: p.id, actionId: a.actionId })).version); } catch (error) { ctx.failed(error, cell); }
        } }, "Marquer comme faite"));
      }
      return h("tr", {}, h("td", {}, a.description ?? hidden(p.redactions, "actions") ?? "Masqué"), h("td", {}, ctx.agencyName(a.ownerAgency)),
        h("td", {}, time(a.dueOn, false)), h("td", {}, status), cell);
    }))));
}

function timelineTable(entries, ctx, caption) {
  return h("div", { class: "scroll" }, h("table", { class: "timeline" },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, ["Quand", "Enregistré le", "Structure", "Événement"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, entries.map((e) => {
      const redaction = e.redactions.find((r) => r.field === "label" || r.field === "type");
      const late = new Date(e.recordedAt) - new Date(e.occurredAt) > 86400000;
      return h("tr", { "data-position": e.position },
        h("td", {}, time(e.occurredAt)),
        h("td", {}, time(e.recordedAt), late ? h("span", { class: "tag" }, "saisie tardive") : null),
        h("td", {}, ctx.agencyName(e.agency), e.role && e.agency !== "relais" ? h("span", { class: "hint" }, ` (${label(ROLE, e.role)})`) : null),
        h("td", {}, e.label ?? (redaction ? h("span", { class: "redacted" }, `Événement masqué (${label(CATEGORY, redaction.category)}) : ${redaction.message}`) : "—")));
    }))));
}

function situationOf(p, ctx) {
  const list = (title, items, render) => (items.length ? [h("h3", {}, title), h("ul", {}, items.map((x) => h("li", {}, render(x))))] : null);
  return [
    h("h3", {}, "Structures du parcours"),
    h("ul", {}, p.participants.map((x) => h("li", {}, `${ctx.agencyName(x.agency)} — ${label(PARTICIPANT_ROLE, x.role)}${x.inCareTeam ? " (équipe de soins)" : ""}`))),
    list("Faits du parcours", p.facts, (f) => [h("strong", {}, f.label), " : ", f.value ?? h("span", { class: "redacted" }, "masqué")]),
    list("Besoins ouverts", p.openNeeds, (n) => [n.description ?? h("span", { class: "redacted" }, `besoin masqué (${label(CATEGORY, n.infoCategory)})`), " — ", time(n.recordedAt, false)]),
    list("Orientations", p.referrals, (r) => [r.service ?? r.toAgency ?? h("span", { class: "redacted" }, `orientation masquée (${label(CATEGORY, r.infoCategory)})`), ` — ${label(REFERRAL_STATUS, r.status)}`]),
    list("Rendez-vous", p.appointments, (a) => [a.service ?? h("span", { class: "redacted" }, `rendez-vous masqué (${label(CATEGORY, a.infoCategory)})`), a.scheduledAt ? [" — ", time(a.scheduledAt)] : "", a.status ? ` — ${label(APPOINTMENT_STATUS, a.status)}` : ""]),
    h("h3", {}, "Joignabilité"),
    h("p", {}, p.contact.phone ? `Téléphone : ${label(PHONE, p.contact.phone)} ; échecs de contact : ${p.contact.failedAttempts ?? 0}` : hidden(p.redactions, "contact") ?? "—"),
  ];
}

function redactionsSection(p, timeline) {
  const all = [...p.redactions, ...p.alerts.flatMap((a) => a.redactions), ...timeline.flatMap((e) => e.redactions)];
  const byReason = new Map();
  for (const r of all) {
    const key = `${r.category}|${r.message}`;
    byReason.set(key, { ...r, count: (byReason.get(key)?.count ?? 0) + 1 });
  }
  return section("s-hidden", "Informations masquées pour votre rôle",
    p.access.hiddenCategories.length ? h("p", {}, `Catégories non visibles : ${p.access.hiddenCategories.map((c) => label(CATEGORY, c)).join(", ")}.`) : h("p", {}, "Vous voyez toutes les catégories de ce parcours."),
    byReason.size ? h("ul", {}, [...byReason.values()].map((r) => h("li", {}, `${r.count} information(s) ${label(CATEGORY, r.category)} : ${r.message}`))) : null,
    h("p", { class: "hint" }, "Le serveur ne transmet pas ces informations à cette page : elles ne sont ni affichées ni présentes dans le document."));
}

function conferenceForm(p, me, reload, ctx) {
  const status = h("div", { "aria-live": "polite" });
  const agencies = [...new Set([p.leadAgency, ...p.participants.map((x) => x.agency), me.agency])];
  const rows = h("ol", { class: "decisions plain" });
  let n = 0;
  const addDecision = () => {
    n += 1;
    const i = n;
    const row = h("li", { class: "decision" },
      h("fieldset", {}, h("legend", {}, `Décision ${i}`),
        h("div", { class: "field" }, h("label", { for: `d-text-${i}` }, "Décision (devient une action suivie)"),
          h("textarea", { id: `d-text-${i}`, name: "text", rows: 2, required: true })),
        h("div", { class: "field" }, h("label", { for: `d-owner-${i}` }, "Structure responsable"),
          h("select", { id: `d-owner-${i}`, name: "owner" }, agencies.map((a) => h("option", { value: a, selected: a === me.agency }, ctx.agencyName(a))))),
        h("div", { class: "field" }, h("label", { for: `d-due-${i}` }, "Échéance"),
          h("input", { type: "date", id: `d-due-${i}`, name: "due", min: today(), required: true })),
        h("button", { type: "button", class: "secondary", onclick: () => row.remove() }, `Retirer la décision ${i}`)));
    rows.append(row);
    return row;
  };
  addDecision();
  const opened = localNow();
  const heldAt = h("input", { type: "datetime-local", id: "c-held", name: "heldAt", step: 1, required: true, value: opened });
  const next = h("input", { type: "date", id: "c-next", name: "next", min: today() });
  const form = h("form", { class: "no-print", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Structures présentes"),
      agencies.map((a, i) => h("div", { class: "field check" }, h("input", { type: "checkbox", id: `c-ag-${i}`, name: "agency", value: a, checked: true }),
        h("label", { for: `c-ag-${i}` }, ctx.agencyName(a))))),
    h("div", { class: "field" }, h("label", { for: "c-held" }, "Date et heure de la synthèse"), heldAt),
    rows,
    h("button", { type: "button", class: "secondary", onclick: () => addDecision().querySelector("textarea").focus() }, "Ajouter une décision"),
    h("div", { class: "field" }, h("label", { for: "c-next" }, "Date de la prochaine synthèse"),
      h("p", { class: "hint", id: "c-next-aide" }, "Enregistrée comme une action de la structure pilote, suivie par les règles comme les autres."), next),
    h("button", { type: "submit" }, "Enregistrer la synthèse"), status);
  next.setAttribute("aria-describedby", "c-next-aide");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    const present = [...form.querySelectorAll("input[name=agency]:checked")].map((x) => x.value);
    const decisions = [...rows.querySelectorAll(".decision")].map((row) => ({
      text: row.querySelector("textarea").value.trim(), owner: row.querySelector("select").value, due: row.querySelector("input[type=date]").value,
    }));
    const problems = [];
    if (!present.length) problems.push("Cochez au moins une structure présente.");
    if (!heldAt.value) problems.push("Indiquez la date de la synthèse.");
    decisions.forEach((d, i) => { if (!d.text || !d.due) problems.push(`Décision ${i + 1} : texte et échéance requis.`); });
    if (problems.length) {
      status.append(h("div", { class: "error", role: "alert" }, h("ul", {}, problems.map((x) => h("li", {}, x)))));
      return;
    }
    const conferenceId = crypto.randomUUID();
    // Left as proposed: the conference is the moment it is recorded (to the millisecond).
    const occurredAt = (heldAt.value === opened ? new Date() : new Date(heldAt.value)).toISOString();
    try {
      let outcome = await command("HoldCaseConference", { pathwayId: p.id, conferenceId, agencies: present, decisions: decisions.map((d) => d.text), occurredAt });
      const actions = decisions.map((d) => ({ ownerAgency: d.owner, description: d.text, dueOn: d.due }));
      if (next.value) actions.push({ ownerAgency: p.leadAgency, description: `Prochaine synthèse le ${day(next.value)}`, dueOn: next.value });
      for (const a of actions) {
        outcome = await command("AssignAction", { pathwayId: p.id, conferenceId, actionId: crypto.randomUUID(), occurredAt, ...a });
      }
      ctx.announce("Synthèse enregistrée.");
      reload(outcome.version);
    } catch (error) { status.append(h("div", { class: "error", role: "alert" }, error.message)); }
  });
  return section("s-record", "Enregistrer la synthèse", form);
}

function localNow() {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 19);
}
