// The progress page: state → division → district → block → village, each area's tap coverage
// against its parent's average, Har Ghar Jal, schemes and tasks, read from the GraphQL API.

import { AuthRequired, finishSignIn, forbidden, gql, signIn, setToken, token } from "/dashboard/api.js";
import { areaName, compact, getLang, int, pct, points, setLang, t } from "/dashboard/i18n.js";

const LANG = "sangam.dashboard.lang";
const OPEN = "[OPEN, IN_PROGRESS, BLOCKED]";
const DEPARTMENTS = ["PHED", "HEALTH", "WCD", "ELECTRICITY", "EDUCATION", "PANCHAYATI_RAJ"];
// A light poll keeps the page current; `?refresh=N` (seconds, at least 2) changes the pace.
const REFRESH_SECS = Math.max(2, Number(new URLSearchParams(location.search).get("refresh")) || 15);

const TOTALS = `villages households tapConnections coveragePercent villagesReported villagesCertified
  reportedPercent schemes schemesByStatus { status count } tasksOpen tasksOverdue`;
const NAMES = `... on State { id name nameHi } ... on Division { id name nameHi }
  ... on District { id name nameHi } ... on Block { id name nameHi } ... on GramPanchayat { id name nameHi }`;
const PROGRESS = `query Progress($level: AreaLevel!, $within: ID) {
  progress(level: $level, within: $within) {
    level
    parent { ${TOTALS} area { ${NAMES} } }
    rows { areaId coverageDifference reportedDifference ${TOTALS} area { ${NAMES} } }
  }
}`;
const AREA = "id name nameHi";
const DISTRICT_UP = `${AREA} state { ${AREA} } division { ${AREA} }`;
const WHERE = `query Where($id: ID!) {
  node(id: $id) {
    ... on State { ${AREA} }
    ... on Division { ${AREA} state { ${AREA} } }
    ... on District { ${DISTRICT_UP} }
    ... on Block { ${AREA} district { ${DISTRICT_UP} } }
    ... on Village { ${AREA} lgdCode households tapConnections coveragePercent hgjStatus
      block { ${AREA} district { ${DISTRICT_UP} } } }
  }
}`;
const BLOCK_VILLAGES = `query BlockVillages($id: ID!, $after: String) {
  villages(filter: { within: $id }, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id lgdCode name nameHi households tapConnections coveragePercent hgjStatus }
  }
}`;
const AREA_TOTALS = `query AreaTotals($id: ID!) {
  progress(level: GRAM_PANCHAYAT, within: $id) { parent { ${TOTALS} area { ${NAMES} } } }
}`;
const V_SCHEMES = `query VillageSchemes($id: ID!) { node(id: $id) { ... on Village {
  schemes { id code name nameHi status type } } } }`;
const V_TEST = `query VillageTest($id: ID!) { node(id: $id) { ... on Village {
  latestWaterQualityTest { sampledOn sourceName contaminated
    results { parameter value unit exceeds acceptableLimit } } } } }`;
const V_TASKS = `query VillageTasks($id: ID!) { node(id: $id) { ... on Village {
  tasks(status: ${OPEN}) { id title kind status dueOn isOverdue assignee { name } } } } }`;
const TASKS_BY_DEPT = `query TasksByDepartment($within: ID) {
${DEPARTMENTS.map((d) => `  ${d}_open: tasks(filter: { within: $within, department: ${d}, status: ${OPEN} }, first: 1) { totalCount }
  ${d}_overdue: tasks(filter: { within: $within, department: ${d}, overdue: true }, first: 1) { totalCount }`).join("\n")}
}`;

const CHILD = { "": "STATE", state: "DIVISION", division: "DISTRICT", district: "BLOCK" };

let config = { publicProgress: false, oidc: null };
let view = null;
let sort = { key: null, dir: 1 };
let generation = 0;
let notice = "";

// ---------------------------------------------------------------- small DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "width%") el.style.width = `${v}%`;
    else el.setAttribute(k, v === true ? "" : v);
  }
}

const $ = (sel) => document.querySelector(sel);

function route() {
  const [, kind = "", id = ""] = location.hash.replace(/^#/, "").split("/");
  return { kind, id: decodeURIComponent(id) };
}

// ---------------------------------------------------------------- loading

async function must(query, variables) {
  const r = await gql(query, variables);
  if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.data;
}

/// A panel that this sign-in may not be allowed to see: `undefined` when it is forbidden.
async function optional(query, variables) {
  const r = await gql(query, variables);
  if (forbidden(r.errors)) return undefined;
  if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.data;
}

async function ancestry(id) {
  if (!id) return { node: null, trail: [] };
  const { node } = await must(WHERE, { id });
  if (!node) throw new NotFound();
  const trail = [];
  const add = (a, kind) => a && trail.push({ ...a, kind });
  const district = (d) => {
    add(d.state, "state");
    add(d.division, "division");
    add(d, "district");
  };
  const { kind } = route();
  if (kind === "state") add(node, "state");
  if (kind === "division") {
    add(node.state, "state");
    add(node, "division");
  }
  if (kind === "district") district(node);
  if (kind === "block") {
    if (node.district) district(node.district);
    add(node, "block");
  }
  if (kind === "village") {
    if (node.block?.district) district(node.block.district);
    add(node.block, "block");
    add(node, "village");
  }
  return { node, trail };
}

class NotFound extends Error {}

async function tasksByDepartment(within) {
  if (!token()) return undefined; // the public reader sees no tasks beyond progress counts
  const d = await optional(TASKS_BY_DEPT, { within: within || null });
  if (!d) return undefined;
  return DEPARTMENTS.map((dept) => ({ dept, open: d[`${dept}_open`].totalCount, overdue: d[`${dept}_overdue`].totalCount }));
}

async function loadArea({ kind, id }) {
  let level = CHILD[kind];
  const [{ trail }, first, tasks] = await Promise.all([
    ancestry(id),
    must(PROGRESS, { level, within: id || null }),
    tasksByDepartment(id),
  ]);
  let report = first.progress;
  if (!report) throw new NotFound();
  // A state without revenue divisions goes straight to its districts.
  if (kind === "state" && report.rows.length === 0) {
    level = "DISTRICT";
    report = (await must(PROGRESS, { level, within: id })).progress;
  }
  const rows = report.rows.map((r) => ({ ...r, id: r.areaId, name: r.area?.name, nameHi: r.area?.nameHi }));
  return { kind: "area", level, trail, parent: report.parent, rows, tasks };
}

async function loadBlock({ id }) {
  const [{ trail }, totals, tasks] = await Promise.all([ancestry(id), must(AREA_TOTALS, { id }), tasksByDepartment(id)]);
  if (!totals.progress) throw new NotFound();
  const parent = totals.progress.parent;
  const villages = [];
  let after = null;
  do {
    const page = (await must(BLOCK_VILLAGES, { id, after })).villages;
    villages.push(...page.nodes);
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  const rows = villages.map((v) => ({
    ...v,
    coverageDifference: v.coveragePercent == null || parent.coveragePercent == null ? null : v.coveragePercent - parent.coveragePercent,
  }));
  return { kind: "area", level: "VILLAGE", trail, parent, rows, tasks };
}

async function loadVillage({ id }) {
  const { node, trail } = await ancestry(id);
  const block = node.block;
  const signedIn = Boolean(token());
  const [avg, schemes, test, tasks] = await Promise.all([
    block ? must(AREA_TOTALS, { id: block.id }) : null,
    signedIn ? optional(V_SCHEMES, { id }) : undefined,
    signedIn ? optional(V_TEST, { id }) : undefined,
    signedIn ? optional(V_TASKS, { id }) : undefined,
  ]);
  return {
    kind: "village",
    trail,
    village: node,
    parent: avg?.progress?.parent ?? null,
    signedIn,
    schemes: schemes && schemes.node?.schemes,
    test: test && test.node?.latestWaterQualityTest,
    tasks: tasks && tasks.node?.tasks,
  };
}

async function load({ quiet = false } = {}) {
  const mine = ++generation;
  renderChrome();
  if (!token() && !config.publicProgress) {
    view = { kind: "signin" };
    render();
    return;
  }
  if (!quiet) status(t("loading"));
  const r = route();
  try {
    const data = r.kind === "village" ? await loadVillage(r) : r.kind === "block" ? await loadBlock(r) : await loadArea(r);
    if (mine !== generation) return; // a newer load (navigation or poll) has the page
    view = data;
    render();
    stamp();
    status("");
    // Which view is on screen, for tests and assistive tools that wait for it.
    document.body.dataset.rendered = location.hash;
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof AuthRequired) {
      setToken(null);
      notice = t("sessionEnded");
      return load();
    }
    if (e instanceof NotFound) {
      view = { kind: "missing" };
      render();
      return;
    }
    status(`${t("failed")}: ${e.message}`);
  }
}

// ---------------------------------------------------------------- rendering

function status(text) {
  $("#status").textContent = text;
}

function stamp() {
  const now = new Date();
  const el = $("#updated");
  el.dataset.at = now.toISOString();
  el.textContent = `${t("updatedAt")} ${now.toLocaleTimeString("en-IN", { hour12: false })} · ${t("autoRefresh", { n: REFRESH_SECS })}`;
}

function renderChrome() {
  document.title = t("title");
  $("#title").textContent = t("title");
  $("#skip").textContent = t("skip");
  const lang = $("#lang");
  lang.textContent = t("otherLang");
  lang.lang = getLang() === "hi" ? "en" : "hi";
  const signed = Boolean(token());
  $("#signin").hidden = signed || !config.oidc;
  $("#signin").textContent = t("signIn");
  $("#token-btn").hidden = signed;
  $("#token-btn").textContent = t("useToken");
  $("#signout").hidden = !signed;
  $("#signout").textContent = t("signOut");
  $("#token-label").textContent = t("token");
  $("#token-use").textContent = t("tokenUse");
  $("#token-cancel").textContent = t("cancel");
  $("#who").textContent = signed ? t("signedInAs") : config.publicProgress ? t("publicView") : "";
  $("#notice").textContent = notice;
  $("#notice").hidden = !notice;
}

function render() {
  renderChrome();
  const main = $("#content");
  const focusKey = document.activeElement?.dataset?.focus;
  main.replaceChildren();
  if (!view) return;
  if (view.kind === "signin") main.append(h("p", { class: "lead" }, t("needSignIn")));
  else if (view.kind === "missing") main.append(h("p", { class: "lead" }, t("notFound")));
  else {
    main.append(crumbs(view.trail));
    if (view.kind === "area") renderArea(main, view);
    else renderVillage(main, view);
  }
  if (focusKey) document.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
}

function crumbs(trail) {
  const items = [{ kind: "", id: "", label: t("allStates") }, ...trail.map((a) => ({ kind: a.kind, id: a.id, label: areaName(a) }))];
  return h(
    "nav",
    { "aria-label": "breadcrumb", class: "crumbs" },
    h(
      "ol",
      {},
      items.map((it, i) =>
        h(
          "li",
          {},
          i === items.length - 1
            ? h("span", { "aria-current": "page" }, it.label)
            : h("a", { href: it.kind ? `#/${it.kind}/${encodeURIComponent(it.id)}` : "#/", "data-focus": `crumb-${i}` }, it.label),
        ),
      ),
    ),
  );
}

function here(v) {
  return v.trail.length ? areaName(v.trail[v.trail.length - 1]) : t("allStates");
}

function renderArea(main, v) {
  const p = v.parent;
  const name = here(v);
  main.append(h("h2", {}, name));
  main.append(summary(p));
  main.append(chart(v, name));
  const panels = h("div", { class: "panels" }, schemesPanel(p.schemesByStatus));
  if (v.tasks) panels.append(tasksPanel(v.tasks));
  main.append(panels);
  main.append(table(v, name));
}

function card(label, value, detail, col) {
  return h("div", { class: "card", "data-card": col }, h("dt", {}, label), h("dd", {}, h("span", { class: "big" }, value), detail ? h("span", { class: "small" }, detail) : null));
}

function summary(p) {
  const exact = (n) => (n >= 1e5 ? int(n) : null);
  return h(
    "dl",
    { class: "cards" },
    card(t("coverage"), pct(p.coveragePercent), null, "coverage"),
    card(t("households"), compact(p.households), exact(p.households), "households"),
    card(t("taps"), compact(p.tapConnections), exact(p.tapConnections), "taps"),
    card(t("villages"), int(p.villages), null, "villages"),
    card(t("reported"), int(p.villagesReported), pct(p.reportedPercent), "reported"),
    card(t("certified"), int(p.villagesCertified), null, "certified"),
    card(t("schemes"), int(p.schemes), null, "schemes"),
    card(t("tasksOpen"), int(p.tasksOpen), `${int(p.tasksOverdue)} ${t("overdue")}`, "tasksOpen"),
  );
}

let ids = 0;

/// Horizontal bars of coverage, one per area, with the parent's average drawn across them.
function chart(v, parentName) {
  const rows = sorted(v);
  const width = Math.max(300, Math.min($("#content").clientWidth || 600, 960));
  const rowH = 40;
  const top = 30;
  const height = top + rows.length * rowH + 8;
  const x = (p) => (Math.max(0, Math.min(100, p ?? 0)) / 100) * (width - 2);
  const avg = v.parent.coveragePercent;
  const titleId = `chart-t-${++ids}`;
  const descId = `chart-d-${ids}`;
  const named = rows.filter((r) => r.coveragePercent != null);
  const best = named.reduce((a, r) => (!a || r.coveragePercent > a.coveragePercent ? r : a), null);
  const worst = named.reduce((a, r) => (!a || r.coveragePercent < a.coveragePercent ? r : a), null);
  const level = t(`levels.${v.level}`);
  const label = (r) => (r ? `${areaName(r)} ${pct(r.coveragePercent)}` : t("none"));
  const g = svg(
    "svg",
    { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${titleId} ${descId}` },
    svg("title", { id: titleId }, t("chartTitle", { level, area: parentName })),
    svg("desc", { id: descId }, t("chartDesc", { n: rows.length, area: parentName, pct: pct(avg), hi: label(best), lo: label(worst) })),
  );
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const below = (r.coverageDifference ?? 0) < 0;
    g.append(
      svg(
        "g",
        { "data-id": r.id },
        svg("title", {}, `${areaName(r)}: ${pct(r.coveragePercent)}, ${points(r.coverageDifference)}`),
        svg("text", { x: 0, y: y + 13, class: "label" }, areaName(r)),
        svg("text", { x: width - 2, y: y + 13, class: `value ${below ? "neg" : "pos"}`, "text-anchor": "end" }, `${pct(r.coveragePercent)}  ${points(r.coverageDifference)}`),
        svg("rect", { x: 0, y: y + 19, width: width - 2, height: 12, class: "track", rx: 2 }),
        svg("rect", { x: 0, y: y + 19, width: x(r.coveragePercent), height: 12, class: below ? "bar below" : "bar", rx: 2 }),
      ),
    );
  });
  if (avg != null) {
    const ax = x(avg);
    g.append(
      svg("line", { x1: ax, x2: ax, y1: top - 6, y2: height - 4, class: "avg" }),
      svg("text", { x: Math.min(Math.max(ax, 4), width - 4), y: top - 10, class: "avg-label", "text-anchor": ax > width / 2 ? "end" : "start" }, t("parentAvg", { area: parentName, pct: pct(avg) })),
    );
  }
  return h("figure", { class: "chart-box" }, g);
}

/// A list of labelled bars (schemes by status, tasks by department) with its text alternative.
/// Lengths are in percent of the panel, so text keeps its size at any width.
function bars(title, items) {
  const max = Math.max(1, ...items.map((i) => i.value + (i.second ?? 0)));
  const rowH = 40;
  const span = 62; // the longest bar, in percent, leaving room for its value after it
  const id = `bars-${++ids}`;
  const text = items.map((i) => `${i.label}: ${i.text}`).join("; ") || t("none");
  const g = svg("svg", { class: "bars", height: items.length * rowH, role: "img", "aria-labelledby": id }, svg("title", { id }, `${title}. ${text}`));
  items.forEach((it, i) => {
    const y = i * rowH;
    const w1 = (it.value / max) * span;
    const w2 = ((it.second ?? 0) / max) * span;
    g.append(
      svg("text", { x: 0, y: y + 14, class: "label" }, it.label),
      svg("rect", { x: 0, y: y + 20, width: `${w1}%`, height: 12, class: "bar", rx: 2 }),
      it.second ? svg("rect", { x: `${w1}%`, y: y + 20, width: `${w2}%`, height: 12, class: "bar below", rx: 2 }) : null,
      svg("text", { x: `${w1 + w2 + 1.5}%`, y: y + 31, class: "value" }, it.text),
    );
  });
  return h("section", { class: "panel" }, h("h3", {}, title), items.length ? g : h("p", {}, t("none")));
}

function schemesPanel(byStatus) {
  return bars(
    t("schemesByStatus"),
    byStatus.map((s) => ({ label: t(`schemeStatus.${s.status}`), value: s.count, text: int(s.count) })),
  );
}

function tasksPanel(tasks) {
  return bars(
    t("tasksByDept"),
    tasks.map((d) => ({
      label: t(`dept.${d.dept}`),
      value: d.open - d.overdue,
      second: d.overdue,
      text: `${int(d.open)} ${t("open")} · ${int(d.overdue)} ${t("overdue")}`,
    })),
  );
}

function columns(v) {
  const num = (key, label, fmt = int) => ({ key, label, get: (r) => r[key], fmt: (r) => fmt(r[key]), num: true });
  const name = { key: "name", label: v.level === "VILLAGE" ? t("levels.VILLAGE") : t(`levels.${v.level}`), get: (r) => areaName(r), name: true };
  if (v.level === "VILLAGE") {
    return [
      name,
      num("households", t("households")),
      num("tapConnections", t("taps")),
      num("coveragePercent", t("coverage"), pct),
      num("coverageDifference", t("difference"), points),
      { key: "hgjStatus", label: t("hgjStatus"), get: (r) => ["NOT_SATURATED", "REPORTED", "CERTIFIED"].indexOf(r.hgjStatus), fmt: (r) => t(`hgj.${r.hgjStatus}`) },
    ];
  }
  return [
    name,
    num("villages", t("villages")),
    num("households", t("households")),
    num("tapConnections", t("taps")),
    num("coveragePercent", t("coverage"), pct),
    num("coverageDifference", t("difference"), points),
    num("villagesReported", t("reported")),
    num("villagesCertified", t("certified")),
    num("schemes", t("schemes")),
    num("tasksOpen", t("tasksOpen")),
    num("tasksOverdue", t("tasksOverdue")),
  ];
}

function sorted(v) {
  const col = columns(v).find((c) => c.key === sort.key);
  if (!col) return v.rows;
  const cmp = (a, b) => {
    const x = col.get(a);
    const y = col.get(b);
    if (x == null) return 1;
    if (y == null) return -1;
    return (typeof x === "string" ? x.localeCompare(y, getLang()) : x - y) * sort.dir;
  };
  return [...v.rows].sort(cmp);
}

function link(v, r) {
  const kind = v.level === "VILLAGE" ? "village" : v.level.toLowerCase();
  return `#/${kind}/${encodeURIComponent(r.id)}`;
}

function table(v, parentName) {
  const cols = columns(v);
  const head = h(
    "tr",
    {},
    cols.map((c) => {
      const active = sort.key === c.key;
      return h(
        "th",
        { scope: "col", "aria-sort": active ? (sort.dir > 0 ? "ascending" : "descending") : "none", class: c.num ? "num" : null },
        h(
          "button",
          {
            type: "button",
            "data-focus": `sort-${c.key}`,
            "data-sort": c.key,
            "aria-label": t("sortBy", { col: c.label }),
            onclick: () => {
              sort = { key: c.key, dir: active ? -sort.dir : c.name ? 1 : -1 };
              render();
            },
          },
          c.label,
          h("span", { "aria-hidden": "true", class: "arrow" }, active ? (sort.dir > 0 ? " ▲" : " ▼") : ""),
        ),
      );
    }),
  );
  const body = sorted(v).map((r) =>
    h(
      "tr",
      { "data-id": r.id },
      cols.map((c) => {
        if (c.name) return h("th", { scope: "row", "data-col": "name" }, h("a", { href: link(v, r), "data-focus": `row-${r.id}` }, areaName(r)));
        const cls = [c.num ? "num" : "", c.key === "coverageDifference" ? ((r.coverageDifference ?? 0) < 0 ? "neg" : "pos") : ""].join(" ").trim();
        return h("td", { "data-col": c.key, class: cls || null }, c.fmt(r));
      }),
    ),
  );
  const caption = `${t("chartTitle", { level: t(`levels.${v.level}`), area: parentName })}`;
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    v.rows.length ? h("table", { class: "data" }, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body)) : h("p", {}, t("noRows")),
  );
}

function renderVillage(main, v) {
  const village = v.village;
  const diff = village.coveragePercent != null && v.parent?.coveragePercent != null ? village.coveragePercent - v.parent.coveragePercent : null;
  main.append(h("h2", {}, `${areaName(village)} `, h("small", {}, `LGD ${village.lgdCode}`)));
  main.append(
    h(
      "dl",
      { class: "cards" },
      card(t("coverage"), pct(village.coveragePercent), v.parent ? `${points(diff)} · ${t("parentAvg", { area: areaName(village.block), pct: pct(v.parent.coveragePercent) })}` : null, "coverage"),
      card(t("households"), int(village.households), null, "households"),
      card(t("taps"), int(village.tapConnections), null, "taps"),
      card(t("hgjStatus"), t(`hgj.${village.hgjStatus}`), null, "hgj"),
    ),
  );
  if (!v.signedIn) {
    main.append(h("p", { class: "lead" }, t("publicVillage")));
    return;
  }
  const section = (title, body) => h("section", { class: "panel wide" }, h("h3", {}, title), body);
  const missing = h("p", {}, t("notAllowed"));
  main.append(
    section(
      t("schemes"),
      v.schemes === undefined
        ? missing
        : v.schemes.length
          ? simpleTable([t("code"), t("scheme"), t("type"), t("status")], v.schemes.map((s) => [s.code, getLang() === "hi" ? s.nameHi : s.name, s.type, t(`schemeStatus.${s.status}`)]))
          : h("p", {}, t("noSchemes")),
    ),
    section(t("latestTest"), v.test === undefined ? missing : v.test ? testBody(v.test) : h("p", {}, t("noTest"))),
    section(
      t("openTasks"),
      v.tasks === undefined
        ? missing
        : v.tasks.length
          ? simpleTable(
              [t("task"), t("status"), t("due"), t("assignee")],
              v.tasks.map((k) => [k.title, t(`taskStatus.${k.status}`), k.isOverdue ? `${k.dueOn ?? ""} (${t("overdue")})` : (k.dueOn ?? "–"), k.assignee?.name ?? "–"]),
            )
          : h("p", {}, t("noTasks")),
    ),
  );
}

function testBody(test) {
  return h(
    "div",
    {},
    h("p", {}, `${t("sampled")} ${test.sampledOn} · ${t("source")}: ${test.sourceName} · `, h("strong", { class: test.contaminated ? "neg" : "pos" }, test.contaminated ? t("contaminated") : t("safe"))),
    simpleTable(
      [t("parameter"), t("value"), t("limit"), ""],
      test.results.map((r) => [r.parameter, `${r.value} ${r.unit}`, r.acceptableLimit, r.exceeds ? t("exceeds") : t("within")]),
    ),
  );
}

function simpleTable(headers, rows) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": headers.join(", ") },
    h("table", { class: "data" }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))),
  );
}

// ---------------------------------------------------------------- start

async function start() {
  setLang(localStorage.getItem(LANG) || (navigator.language?.startsWith("hi") ? "hi" : "en"));
  config = await fetch("/dashboard/config.json").then((r) => r.json());
  const failed = await finishSignIn(config.oidc).catch((e) => e.message);
  if (failed) notice = failed;

  $("#lang").addEventListener("click", () => {
    setLang(getLang() === "hi" ? "en" : "hi");
    localStorage.setItem(LANG, getLang());
    render();
    if ($("#updated").dataset.at) stamp();
  });
  $("#signin").addEventListener("click", () => signIn(config.oidc).catch((e) => status(e.message)));
  $("#signout").addEventListener("click", () => {
    setToken(null);
    notice = "";
    load();
  });
  const form = $("#token-form");
  $("#token-btn").addEventListener("click", () => {
    form.hidden = false;
    $("#token").focus();
  });
  $("#token-cancel").addEventListener("click", () => {
    form.hidden = true;
    $("#token-btn").focus();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("#token").value.trim().replace(/^Bearer\s+/i, "");
    $("#token").value = "";
    form.hidden = true;
    if (value) setToken(value);
    notice = "";
    load();
  });
  window.addEventListener("hashchange", () => {
    sort = { key: null, dir: 1 };
    load().then(() => $("#main").focus({ preventScroll: true }));
  });
  let resized;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(render, 150);
  });
  await load();
  setInterval(() => {
    if (!document.hidden && view && view.kind !== "signin") load({ quiet: true });
  }, REFRESH_SECS * 1000);
}

start();
