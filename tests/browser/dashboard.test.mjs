// The /dashboard progress page in a real browser (Debian's headless Chromium) against the real
// binary serving the demo on a free port over a temporary SQLite file.
//
//   cd tests/browser && npm ci && npm test
//
// SANGAM_BIN picks the binary (default: $CARGO_TARGET_DIR or ../../target, then debug/sangam).
// UPDATE_SCREENSHOTS=1 writes the screenshots of each level to docs/dashboard/.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const bin = process.env.SANGAM_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, "target"), "debug", "sangam");
const shots = process.env.UPDATE_SCREENSHOTS ? path.join(repo, "docs", "dashboard") : null;
const DEVANAGARI = /[\u0900-\u097F]/;
// Fields that carry people or free text: the public page must never receive them.
const PERSONAL = ["testedBy", "reportedBy", "certifiedBy", "contactName", "contactPhone", "title", "description", "comment", "note", "actorSub"];

let dir;
let server;
let log = "";
let base;
let browser;
let adminToken;
const offsite = [];
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, what, ms = 120_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- server log ---\n${log.slice(-4000)}`);
    await sleep(250);
  }
}

async function gql(query, variables = {}, token = adminToken) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  return body;
}

async function data(query, variables, token) {
  const body = await gql(query, variables, token);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const TOTALS = "areaId villages households tapConnections coveragePercent coverageDifference villagesReported villagesCertified schemes tasksOpen tasksOverdue";
const NAMES = "area { ... on State { name nameHi } ... on Division { name nameHi } ... on District { name nameHi } ... on Block { name nameHi } }";

async function progress(level, within, token) {
  const d = await data(`query($l: AreaLevel!, $w: ID) { progress(level: $l, within: $w) { rows { ${TOTALS} ${NAMES} } } }`, { l: level, w: within }, token);
  return d.progress.rows;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sangam-dashboard-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["serve", "--demo", "--public-progress", "--listen", `127.0.0.1:${port}`], {
    env: { ...process.env, DATABASE_URL: `sqlite://${path.join(dir, "sangam.db")}?mode=rwc`, SANGAM_LOG_FORMAT: "pretty", RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (b) => (log += b));
  server.stderr.on("data", (b) => (log += b));
  server.on("exit", (code) => (log += `\n[sangam exited with ${code}]`));
  await waitFor(async () => (await fetch(`${base}/readyz`)).ok, "the server to be ready");
  const secret = await waitFor(() => /-u demo-state-admin:(\S+)/.exec(log)?.[1], "the demo clients");
  const tok = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`demo-state-admin:${secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  }).then((r) => r.json());
  adminToken = tok.access_token;
  assert.ok(adminToken, `no token: ${JSON.stringify(tok)}`);

  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: path.join(dir, "profile"),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  if (shots) mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/// A page that refreshes every 2 s, records every request and refuses any that would leave
/// 127.0.0.1, and keeps the GraphQL answers it received.
async function openPage({ width = 1280, height = 900 } = {}) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  await page.setRequestInterception(true);
  const answers = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.protocol === "data:" || url.hostname === "127.0.0.1") return req.continue();
    offsite.push(req.url());
    return req.abort();
  });
  page.on("response", async (res) => {
    if (new URL(res.url()).pathname === "/graphql" && res.request().method() === "POST") {
      answers.push(await res.text().catch(() => ""));
    }
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
  await page.goto(`${base}/dashboard/?refresh=2`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.body.dataset.rendered !== undefined || document.querySelector(".lead"));
  return { page, answers };
}

async function rowsShown(page) {
  await page.waitForSelector("table.data tbody tr");
  return page.$$eval("table.data tbody tr", (trs) =>
    trs.map((tr) => {
      const cells = {};
      for (const c of tr.querySelectorAll("[data-col]")) cells[c.dataset.col] = c.textContent.trim();
      return { id: tr.dataset.id, ...cells };
    }),
  );
}

const number = (text) => Number(text.replace(/[,\s]/g, ""));

/// Every number in the table equals the API's answer, formatted the Indian way.
function sameNumbers(shown, rows) {
  assert.equal(shown.length, rows.length, "one table row per area");
  const byId = new Map(shown.map((s) => [s.id, s]));
  for (const r of rows) {
    const s = byId.get(r.areaId);
    assert.ok(s, `row for ${r.area.name}`);
    assert.equal(s.name, r.area.name);
    for (const k of ["villages", "households", "tapConnections", "villagesReported", "villagesCertified", "schemes", "tasksOpen", "tasksOverdue"]) {
      assert.equal(number(s[k]), r[k], `${r.area.name}: ${k}`);
    }
    assert.equal(s.coveragePercent, `${r.coveragePercent.toFixed(1)}%`, `${r.area.name}: coverage`);
    const d = Math.round(r.coverageDifference * 10) / 10;
    const sign = d > 0 ? "+" : d < 0 ? "−" : "±";
    assert.equal(s.coverageDifference, `${sign}${Math.abs(d).toFixed(1)} pts`, `${r.area.name}: difference`);
    if (r.households >= 1000) assert.match(s.households, /^\d{1,2}(,\d\d)*,\d{3}$/, "Indian digit grouping");
  }
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

async function clickRow(page, index = 0) {
  const before = await page.evaluate(() => location.hash);
  await page.$$eval("table.data tbody tr th a", (as, i) => as[i].click(), index);
  await page.waitForFunction((h) => location.hash !== h && document.body.dataset.rendered === location.hash, {}, before);
}

test("public mode: aggregates match the API, and no personal data reaches the page", async () => {
  const { page, answers } = await openPage();
  await page.waitForFunction(() => document.querySelector("#who").textContent.length > 0);
  assert.match(await page.$eval("#who", (e) => e.textContent), /Public view/);
  sameNumbers(await rowsShown(page), await progress("STATE", null, null));

  // Down to a village, as anyone could.
  for (let i = 0; i < 4; i++) await clickRow(page);
  const villages = await rowsShown(page);
  assert.ok(villages.length > 0);
  await clickRow(page);
  const text = await page.$eval("#content", (e) => e.innerText);
  assert.match(text, /shown after signing in/);

  // Names, phone numbers and free text known to the administrator never appear.
  const known = await data(`{ waterQualityTests(first: 100) { nodes { testedBy } }
    organisations(first: 100) { nodes { contactName contactPhone } }
    tasks(first: 100) { nodes { title } } }`);
  const secrets = [
    ...known.waterQualityTests.nodes.map((n) => n.testedBy),
    ...known.organisations.nodes.flatMap((n) => [n.contactName, n.contactPhone]),
    ...known.tasks.nodes.map((n) => n.title),
  ].filter((s) => s && s.length > 3);
  assert.ok(secrets.length > 10, "the demo has personal data to hide");
  const html = await page.content();
  for (const s of secrets) assert.ok(!html.includes(s), `the page shows ${s}`);
  for (const a of answers) {
    for (const f of PERSONAL) assert.ok(!a.includes(`"${f}"`), `a public answer carried ${f}: ${a.slice(0, 300)}`);
  }
  // Anything beyond aggregates is refused to the anonymous reader, whatever it asks.
  for (const q of ["{ tasks(first: 5) { nodes { id } } }", "{ schemes(first: 5) { nodes { id } } }", "{ organisations(first: 5) { nodes { id } } }", "{ waterQualityTests(first: 5) { nodes { id } } }"]) {
    const r = await gql(q, {}, null);
    assert.equal(r.errors?.[0]?.extensions?.code, "FORBIDDEN", `${q}: ${JSON.stringify(r)}`);
  }
  await page.close();
});

test("signed in with a pasted token: drill-down from state to village, numbers equal the API", async () => {
  const { page } = await openPage();
  await page.waitForSelector("#token-btn:not([hidden])");
  await page.click("#token-btn");
  await page.type("#token", adminToken);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#signout") && !document.querySelector("#signout").hidden);
  // Signed in, the page adds what the public view lacks: tasks by department.
  await page.waitForFunction(() => [...document.querySelectorAll(".panel h3")].some((h) => /by department/.test(h.textContent)));

  sameNumbers(await rowsShown(page), await progress("STATE", null));
  await shot(page, "1-states");

  // State → division → district → block, each against the API.
  const levels = [
    ["DIVISION", "2-state"],
    ["DISTRICT", "3-division"],
    ["BLOCK", "4-district"],
  ];
  for (const [level, name] of levels) {
    await clickRow(page);
    const within = decodeURIComponent((await page.evaluate(() => location.hash)).split("/")[2]);
    sameNumbers(await rowsShown(page), await progress(level, within));
    await shot(page, name);
  }
  await clickRow(page);
  const block = decodeURIComponent((await page.evaluate(() => location.hash)).split("/")[2]);
  const villages = (await data(`query($b: ID!) { villages(filter: { within: $b }, first: 100) { nodes { id name households tapConnections } } }`, { b: block })).villages.nodes;
  const shown = await rowsShown(page);
  assert.equal(shown.length, villages.length, "every village of the block");
  for (const v of villages) {
    const s = shown.find((x) => x.id === v.id);
    assert.equal(s?.name, v.name);
    assert.equal(number(s.households), v.households);
    assert.equal(number(s.tapConnections), v.tapConnections);
  }
  await shot(page, "5-block");

  // Sorting by any column: by households, largest first, then smallest first.
  await page.$eval('button[data-sort="households"]', (b) => b.click());
  let order = (await rowsShown(page)).map((r) => number(r.households));
  assert.deepEqual(order, [...order].sort((a, b) => b - a));
  await page.$eval('button[data-sort="households"]', (b) => b.click());
  order = (await rowsShown(page)).map((r) => number(r.households));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));

  await clickRow(page);
  await page.waitForSelector(".panel.wide");
  const detail = await page.$eval("#content", (e) => e.innerText);
  assert.match(detail, /Schemes/);
  assert.match(detail, /Latest water-quality test/);
  assert.match(detail, /Open tasks/);
  await shot(page, "6-village");
  await page.close();
});

test("the Hindi toggle shows Devanagari names", async () => {
  const { page } = await openPage({ width: 360, height: 780 });
  await rowsShown(page);
  await page.click("#lang");
  await page.waitForFunction(() => document.documentElement.lang === "hi");
  const rows = await rowsShown(page);
  const api = await progress("STATE", null, null);
  for (const r of api) {
    const s = rows.find((x) => x.id === r.areaId);
    assert.equal(s.name, r.area.nameHi);
    assert.match(s.name, DEVANAGARI);
  }
  assert.match(await page.$eval("h1", (e) => e.textContent), DEVANAGARI);
  // At 360 px nothing runs off the side of the page (wide tables scroll in their own box).
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no sideways scrolling at 360 px");
  await clickRow(page);
  await shot(page, "7-state-hindi-phone");
  // Back to English for the next page (the choice is remembered).
  await page.click("#lang");
  await page.close();
});

test("a coverage update made through the API appears without reload", async () => {
  const { page } = await openPage();
  // A district's blocks, signed in as the public reader sees them.
  for (let i = 0; i < 3; i++) await clickRow(page);
  const district = decodeURIComponent((await page.evaluate(() => location.hash)).split("/")[2]);
  await page.evaluate(() => (window.__sameDocument = true));
  const [row] = await progress("BLOCK", district, null);
  const { villages } = await data(`query($b: ID!) { villages(filter: { within: $b }, first: 1) { nodes { id version households tapConnections } } }`, { b: row.areaId });
  const v = villages.nodes[0];
  const taps = v.tapConnections > 0 ? v.tapConnections - 1 : 1;
  const res = await data(
    `mutation($i: UpdateVillageCoverageInput!) { updateVillageCoverage(input: $i) { village { tapConnections } } }`,
    { i: { village: v.id, expectedVersion: v.version, households: v.households, tapConnections: taps } },
  );
  assert.equal(res.updateVillageCoverage.village.tapConnections, taps);
  const expected = row.tapConnections + taps - v.tapConnections;
  await page.waitForFunction(
    (id, want) => {
      const cell = document.querySelector(`tr[data-id="${id}"] [data-col="tapConnections"]`);
      return cell && Number(cell.textContent.replace(/,/g, "")) === want;
    },
    { timeout: 20_000 },
    row.areaId,
    expected,
  );
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  assert.match(await page.$eval("#updated", (e) => e.textContent), /Updated at \d\d:\d\d:\d\d/);
  await page.close();
});

test("no request left 127.0.0.1 and the page raised no error", () => {
  assert.deepEqual(offsite, []);
  assert.deepEqual(pageErrors, []);
});
