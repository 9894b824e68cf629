// S6: N subscribers on taskEvents (graphql-transport-ws), one writer commenting on random tasks
// at RATE writes/s for SECONDS; reports delivery latency (write sent → event received)
// and how many subscribers were dropped for lagging.
// Usage: node fanout.js URL TOKEN TASKS [N=1000] [RATE=100] [SECONDS=10]
const WebSocket = require("ws");
const [url, token, tasks, n = 1000, rate = 100, seconds = 10] = process.argv.slice(2);
// TASKS is N (tasks 1..N) or @FILE (task ids, one per line), as in write.lua.
const taskIds = tasks.startsWith("@")
  ? require("fs").readFileSync(tasks.slice(1), "utf8").split("\n").filter(Boolean)
  : null;
const ws_url = url.replace(/^http/, "ws") + "/graphql/ws";
const sent = new Map(); // "taskId:version" -> send time (ms)
// Receive times by "taskId:version". Matched to writes at the end: an event often arrives
// before its write's HTTP response has been read, so matching on arrival would drop it.
const received = new Map();
let ready = 0, lagged = 0, closed = 0, errors = 0;

function b64(s) { return Buffer.from(s).toString("base64url"); }

function subscribe(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(ws_url, "graphql-transport-ws");
    ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Bearer " + token } })));
    ws.on("message", (raw) => {
      const m = JSON.parse(raw);
      if (m.type === "connection_ack") {
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: "subscription { taskEvents { version task { id } } }" } }));
        ready++; resolve(ws);
      } else if (m.type === "next") {
        if (m.payload.errors) { const c = m.payload.errors[0].extensions?.code; if (c === "SUBSCRIPTION_LAGGED") lagged++; else errors++; return; }
        const e = m.payload.data.taskEvents;
        const key = e.task.id + ":" + e.version;
        if (!received.has(key)) received.set(key, []);
        received.get(key).push(Date.now());
      }
    });
    ws.on("close", () => { closed++; resolve(ws); });
    ws.on("error", () => { errors++; resolve(ws); });
  });
}

async function write() {
  const n = taskIds ? taskIds[Math.floor(Math.random() * taskIds.length)] : 1 + Math.floor(Math.random() * Number(tasks));
  const id = b64("Task:" + n);
  const body = JSON.stringify({ query: "mutation($id: ID!) { commentOnTask(id: $id, text: \"fan-out\") { task { id version } } }", variables: { id } });
  const t0 = Date.now();
  const res = await fetch(url + "/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + token }, body });
  const json = await res.json();
  const t = json.data?.commentOnTask?.task;
  if (t) sent.set(t.id + ":" + t.version, t0);
}

(async () => {
  const sockets = [];
  for (let i = 0; i < Number(n); i += 50) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, Number(n) - i) }, (_, k) => subscribe(i + k)))));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const total = Number(rate) * Number(seconds);
  const started = Date.now();
  const writes = [];
  for (let k = 0; k < total; k++) {
    const due = started + (k * 1000) / Number(rate);
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    writes.push(write());
  }
  await Promise.all(writes);
  await new Promise((r) => setTimeout(r, 3000));
  const latencies = [];
  for (const [key, t0] of sent) for (const t of received.get(key) || []) latencies.push(t - t0);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN;
  const expected = sent.size * ready;
  console.log(JSON.stringify({ subscribers: Number(n), connected: ready, writes: sent.size, deliveries: latencies.length, expected,
    p50_ms: pct(0.5), p99_ms: pct(0.99), lagged, closed, errors }));
  sockets.forEach((s) => s.terminate?.());
  process.exit(0);
})();
