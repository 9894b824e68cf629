// graphql-http's server audits (the GraphQL over HTTP specification), against the real binary,
// anonymously (the demo's schema is public, so the audits' `{ __typename }` may run) and with a
// token: no MUST may fail and no SHOULD may warn.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { startSangam } from './server.mjs';

const sangam = await startSangam();
after(() => sangam.stop());

async function audit(fetchFn) {
  const problems = [];
  const notices = [];
  for (const a of serverAudits({ url: sangam.url, fetchFn })) {
    const result = await a.fn();
    if (result.status === 'ok') continue;
    const line = `${result.status.toUpperCase()} ${result.id} ${result.name}: ${result.reason}`;
    if (result.status === 'notice') notices.push(line);
    else problems.push(line);
  }
  if (notices.length) console.log(`MAY audits not followed (allowed):\n${notices.join('\n')}`);
  return problems;
}

test('graphql-http server audits pass without a token', async () => {
  const problems = await audit(fetch);
  assert.deepEqual(problems, [], `MUST failures or SHOULD warnings:\n${problems.join('\n')}`);
});

test('graphql-http server audits pass with a token', async () => {
  const token = await sangam.token('demo-state-admin');
  const withToken = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const problems = await audit(withToken);
  assert.deepEqual(problems, [], `MUST failures or SHOULD warnings:\n${problems.join('\n')}`);
});
