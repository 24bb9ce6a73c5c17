// Runs graphql-http's auditServer against a served GraphQL endpoint and prints one JSON line
// per audit ({id, name, status, reason}). Usage: node graphql_http_audit.cjs <url> <bearer token>
// with NODE_PATH pointing at the node_modules infra/scripts/browser.sh installed.
const { auditServer } = require("graphql-http");

async function main() {
  const [url, token] = process.argv.slice(2);
  const fetchFn = (input, init = {}) =>
    fetch(input, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });
  const results = await auditServer({ url, fetchFn });
  for (const result of results) {
    process.stdout.write(JSON.stringify({ id: result.id, name: result.name, status: result.status,
                                          reason: result.reason || null }) + "\n");
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
