// A small DOM builder: text always goes through text nodes (never innerHTML), so nothing the
// API returns is ever parsed as markup.

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(container, ...children) {
  container.replaceChildren();
  append(container, children);
}

const DAY = new Intl.DateTimeFormat("fr-FR", { dateStyle: "medium" });
const MOMENT = new Intl.DateTimeFormat("fr-FR", { dateStyle: "medium", timeStyle: "short" });

export function day(value) {
  if (!value) return "—";
  const date = value.length === 10 ? new Date(`${value}T12:00:00Z`) : new Date(value);
  return DAY.format(date);
}

export function moment(value) { return value ? MOMENT.format(new Date(value)) : "—"; }

/** A <time> element with the machine-readable value. */
export function time(value, withTime = true) {
  return value ? h("time", { datetime: value }, withTime ? moment(value) : day(value)) : "—";
}

export function today() { return new Date().toISOString().slice(0, 10); }
