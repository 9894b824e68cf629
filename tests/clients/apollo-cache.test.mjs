// Apollo Client's normalised cache, as a dashboard uses it: a query one of whose nullable
// fields errors (a dashboard may not read a contact's name: FORBIDDEN) must still be complete
// in the cache, with that field null, so that `readQuery` gives it back instead of null
// (GraphQL spec, "Handling Field Errors": the field is null and its error is listed).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { startSangam } from './server.mjs';

const sangam = await startSangam();
after(() => sangam.stop());

const QUERY = gql`
  query Organisations {
    organisations(first: 2) {
      edges { node { id name contactName } }
    }
  }
`;

test('a query with an errored nullable field round-trips through the Apollo cache', async () => {
  const token = await sangam.token('demo-dashboard');
  const client = new ApolloClient({
    link: new HttpLink({ uri: sangam.url, headers: { authorization: `Bearer ${token}` } }),
    cache: new InMemoryCache(),
  });
  const result = await client.query({ query: QUERY, errorPolicy: 'all' });
  const edges = result.data?.organisations?.edges;
  assert.ok(Array.isArray(edges) && edges.length === 2, `two organisations: ${JSON.stringify(result)}`);
  for (const { node } of edges) {
    assert.ok('contactName' in node, `contactName is present (null), not left out: ${JSON.stringify(node)}`);
    assert.equal(node.contactName, null);
    assert.equal(typeof node.name, 'string');
  }
  assert.ok(result.error, 'the FORBIDDEN error is reported beside the data');

  const cached = client.cache.readQuery({ query: QUERY });
  assert.notEqual(cached, null, 'the cache holds the whole query');
  assert.deepEqual(cached, result.data, 'the cache gives back what the server answered');
});
