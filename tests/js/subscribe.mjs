// Subscribes to askStream over graphql-transport-ws with graphql-ws's client and prints what arrives.
//
//   node tests/js/subscribe.mjs ws://127.0.0.1:8000/graphql otv_... ["How do I connect Telegram?"]
//
// Prints {"events": [<each `next` payload>], "completed": true} on stdout and exits 0 when the
// subscription completes; on an error prints {"error": ...} and exits 1.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, key, question = 'How do I connect Telegram?'] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node subscribe.mjs <ws url> <api key> [question]');
  process.exit(2);
}

const query = `subscription Ask($input: AskInput!) {
  askStream(input: $input) {
    __typename
    ... on AnswerDelta { text }
    ... on Answer { text language grounded provider messageId conversationId sources { title name } usage { totalTokens } }
    ... on AnswerFailure { code message retryAfter }
  }
}`;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${key}` },
  retryAttempts: 0,
});

const events = [];
try {
  await new Promise((resolve, reject) => {
    client.subscribe(
      { query, variables: { input: { question } } },
      { next: (payload) => events.push(payload), error: reject, complete: resolve },
    );
  });
  console.log(JSON.stringify({ events, completed: true }, null, 2));
} catch (error) {
  // A CloseEvent (code, reason) or a list of GraphQL errors.
  const detail = error instanceof Error ? { message: error.message } : Array.isArray(error) ? error : { code: error?.code, reason: error?.reason };
  console.log(JSON.stringify({ events, error: detail }, null, 2));
  process.exitCode = 1;
} finally {
  await client.dispose();
}
