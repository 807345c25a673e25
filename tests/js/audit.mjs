// Runs graphql-http's GraphQL-over-HTTP server audits against a URL and prints the results as JSON.
//
//   node tests/js/audit.mjs http://127.0.0.1:8000/graphql
//
// Prints {"results": [{id, name, status, reason}, ...]} on stdout; status is "ok", or "notice" (a MAY),
// "warn" (a SHOULD) or "error" (a MUST) for a failed audit. Exits 0 whatever the results: the caller
// (tests/frontends/graphql/test_conformance.py) decides what must pass.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}

const results = [];
// One at a time: the audits are quick, and a server's log reads better in order.
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.httpStatus = result.response?.status ?? null;
    try {
      entry.body = (await result.response.clone().text()).slice(0, 500);
    } catch {
      entry.body = null; // already read by the audit
    }
  }
  results.push(entry);
}
console.log(JSON.stringify({ results }, null, 2));
