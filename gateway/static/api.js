// The public GraphQL API, and nothing else: queries and mutations over HTTP, alert changes
// over graphql-transport-ws. The token lives in sessionStorage (closed with the tab), never localStorage.

const TOKEN_KEY = "relais.token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem("relais.me"); },
  get me() { const v = sessionStorage.getItem("relais.me"); return v ? JSON.parse(v) : null; },
  setMe(me) { sessionStorage.setItem("relais.me", JSON.stringify(me)); },
};

// --------------------------------------------------------------------------- identity provider
// OpenID Connect, authorization code with PKCE (S256): the verifier and the state wait in
// sessionStorage during the round trip; the gateway exchanges the code (docs/screen.md).

const OIDC_KEY = "relais.oidc";

function randomText(bytes) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...values)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri() { return `${location.origin}/`; }

/** Send the professional to the provider's sign-in page. */
export async function signInWithProvider(oidc) {
  const verifier = randomText(48);
  const state = randomText(24);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  sessionStorage.setItem(OIDC_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(oidc.authorizationUrl, location.origin);
  url.search = new URLSearchParams({ response_type: "code", client_id: oidc.clientId, redirect_uri: redirectUri(),
    scope: "openid", state, code_challenge: challenge, code_challenge_method: "S256" }).toString();
  location.assign(url.toString());
}

/** Back from the provider (`/?code=…&state=…`): the access token, or null when not a return. */
export async function providerReturn() {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(OIDC_KEY) || "null");
  sessionStorage.removeItem(OIDC_KEY);
  history.replaceState(null, "", `/${location.hash}`);  // the code leaves the address bar
  if (query.has("error")) throw new ApiError(`Connexion refusée par le fournisseur d'identité (${query.get("error")}).`, "OIDC");
  if (!pending || pending.state !== query.get("state")) {
    throw new ApiError("Retour du fournisseur d'identité inattendu (state) : recommencez la connexion.", "OIDC");
  }
  const answer = await fetch("/screen/oidc/token", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: query.get("code"), codeVerifier: pending.verifier, redirectUri: redirectUri() }) });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new ApiError(String(body.errors?.[0]?.message || "Connexion refusée."), "OIDC");
  return body.token;
}

export class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

export async function gql(query, variables = {}, token = session.token) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("Le serveur Relais ne répond pas : vérifiez la connexion puis réessayez.", "NETWORK");
  }
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(body.errors?.[0]?.message || "Session expirée : reconnectez-vous.", "UNAUTHENTICATED");
  }
  const body = await response.json().catch(() => null);
  if (!body) throw new ApiError(`Réponse illisible du serveur (HTTP ${response.status}).`, "HTTP");
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join(" ; "), body.errors[0].extensions?.code);
  }
  return body.data;
}

/** Send a command (a mutation named after it): resolves to {version} or throws the refusal. */
export async function command(name, input) {
  const field = name[0].toLowerCase() + name.slice(1);
  const query = `mutation($input: ${name}Input!) { ${field}(input: $input) { __typename
    ... on CommandAccepted { version duplicate } ... on CommandRefused { field reason code } } }`;
  const data = await gql(query, {
    input: { commandId: crypto.randomUUID(), occurredAt: new Date().toISOString(), ...input },
  });
  const outcome = data[field];
  if (outcome.__typename === "CommandRefused") {
    throw new ApiError(outcome.reason + (outcome.field ? ` (champ ${outcome.field})` : ""), outcome.code);
  }
  return outcome;
}

/**
 * Follow a subscription; reconnects (resuming after the last cursor seen) until stopped.
 * Returns a function that stops it.
 */
export function subscribe(query, variables, onNext, onState) {
  let stopped = false;
  let socket = null;
  let after = variables.after ?? null;
  let retry = 1000;
  const open = () => {
    if (stopped || !session.token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${session.token}` } }));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        retry = 1000;
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables: { ...variables, after } } }));
        onState?.("connected");
      } else if (message.type === "next" && message.payload?.data) {
        const change = Object.values(message.payload.data)[0];
        if (change?.cursor) after = change.cursor;
        onNext(change);
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "error") {
        onState?.("error", message.payload?.[0]?.message);
      }
    });
    socket.addEventListener("close", (event) => {
      onState?.("closed", event.reason);
      if (!stopped && event.code !== 4401 && event.code !== 4403) {
        setTimeout(open, retry);
        retry = Math.min(retry * 2, 30000);
      }
    });
  };
  open();
  return () => { stopped = true; socket?.close(1000); };
}
