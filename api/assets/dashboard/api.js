// Talking to Sangam's GraphQL API, and signing in: a pasted token, or the authorisation-code
// flow with PKCE (RFC 7636) at the external OpenID provider, as a public client (no secret).

const TOKEN = "sangam.dashboard.token";
const PENDING = "sangam.dashboard.pkce";

/// Raised when the server refuses the token (401): the page asks to sign in again.
export class AuthRequired extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN, t);
  else sessionStorage.removeItem(TOKEN);
}

/// Runs one GraphQL operation; resolves to `{ data, errors }` (errors may be partial).
export async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/graphql-response+json, application/json" };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  const res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  if (res.status === 401) throw new AuthRequired("unauthorised");
  const body = await res.json().catch(() => null);
  if (!body) throw new Error(`HTTP ${res.status}`);
  return { data: body.data ?? null, errors: body.errors ?? [] };
}

/// Whether every error is a FORBIDDEN one (a panel this sign-in may not see).
export function forbidden(errors) {
  return errors.length > 0 && errors.every((e) => e.extensions?.code === "FORBIDDEN");
}

function base64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

function redirectUri() {
  return `${location.origin}/dashboard/`;
}

/// The provider's endpoints, from its OpenID discovery document.
async function discover(issuer) {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const res = await fetch(url, { credentials: "omit" });
  if (!res.ok) throw new Error(`discovery failed: HTTP ${res.status}`);
  const meta = await res.json();
  if (!meta.authorization_endpoint || !meta.token_endpoint) throw new Error("discovery document lacks endpoints");
  return meta;
}

/// Sends the browser to the provider's sign-in page.
export async function signIn(oidc) {
  const meta = await discover(oidc.issuer);
  const verifier = random(48);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, tokenEndpoint: meta.token_endpoint, back: location.hash }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: "openid",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${meta.authorization_endpoint}?${q}`);
}

/// Completes a sign-in when the provider has sent the browser back with a code; returns
/// an error message when it sent an error, nothing when there was no sign-in under way.
export async function finishSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, "", `/dashboard/${pending?.back || ""}`);
  if (params.has("error")) return params.get("error_description") || params.get("error");
  if (!pending || !oidc || params.get("state") !== pending.state) return "sign-in state mismatch";
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: redirectUri(),
    client_id: oidc.clientId,
    code_verifier: pending.verifier,
  });
  const res = await fetch(pending.tokenEndpoint, { method: "POST", body, credentials: "omit" });
  const tok = await res.json().catch(() => ({}));
  if (!res.ok || !tok.access_token) return tok.error_description || tok.error || `HTTP ${res.status}`;
  setToken(tok.access_token);
  return null;
}
