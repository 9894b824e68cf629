// Words and numbers in English and Hindi. Numbers use Indian grouping (12,34,567) and, for
// large totals, lakh and crore.

const en = {
  title: "Jal Jeevan Mission progress",
  skip: "Skip to content",
  otherLang: "हिन्दी",
  signIn: "Sign in",
  signOut: "Sign out",
  useToken: "Use a token",
  token: "Access token",
  tokenUse: "Use this token",
  cancel: "Cancel",
  publicView: "Public view: aggregates only",
  signedInAs: "Signed in",
  needSignIn: "Sign in to see progress.",
  sessionEnded: "Your session has ended. Sign in again.",
  loading: "Loading…",
  failed: "Could not load the data",
  updatedAt: "Updated at",
  autoRefresh: "refreshes every {n} s",
  allStates: "All states",
  levels: { STATE: "State", DIVISION: "Division", DISTRICT: "District", BLOCK: "Block", VILLAGE: "Village" },
  areaCol: "Area",
  villages: "Villages",
  households: "Households",
  taps: "Tap connections",
  coverage: "Tap coverage",
  difference: "Difference from average",
  reported: "Reported Har Ghar Jal",
  certified: "Certified Har Ghar Jal",
  schemes: "Schemes",
  tasksOpen: "Open tasks",
  tasksOverdue: "Overdue tasks",
  hgjStatus: "Har Ghar Jal",
  pts: "pts",
  average: "average",
  parentAvg: "{area} average {pct}",
  chartTitle: "Tap coverage of each {level}, against the {area} average",
  chartDesc: "{n} areas. {area} average {pct}. Highest: {hi}. Lowest: {lo}. The table below lists every value.",
  schemesByStatus: "Schemes by status",
  tasksByDept: "Open and overdue tasks by department",
  open: "open",
  overdue: "overdue",
  none: "None",
  noRows: "No areas to show.",
  sortBy: "Sort by {col}",
  villageDetail: "Village",
  latestTest: "Latest water-quality test",
  noTest: "No water-quality test recorded.",
  sampled: "Sampled on",
  source: "Source",
  parameter: "Parameter",
  value: "Value",
  limit: "Acceptable limit",
  exceeds: "Exceeds the limit",
  within: "Within the limit",
  contaminated: "Contaminated",
  safe: "Within limits",
  openTasks: "Open tasks",
  noTasks: "No open tasks.",
  task: "Task",
  status: "Status",
  due: "Due",
  assignee: "Assigned to",
  scheme: "Scheme",
  type: "Type",
  code: "Code",
  noSchemes: "No schemes.",
  publicVillage: "Schemes, water quality and tasks are shown after signing in.",
  notAllowed: "Not available to this sign-in.",
  notFound: "Not found, or outside your reach.",
  hgj: { NOT_SATURATED: "Not yet", REPORTED: "Reported", CERTIFIED: "Certified" },
  dept: { PHED: "PHED", HEALTH: "Health", WCD: "Women & Child Development", ELECTRICITY: "Electricity", EDUCATION: "Education", PANCHAYATI_RAJ: "Panchayati Raj" },
  schemeStatus: {
    PROPOSED: "Proposed", DPR_PREPARED: "DPR prepared", TECH_SANCTIONED: "Technically sanctioned",
    ADMIN_APPROVED: "Administratively approved", TENDERED: "Tendered", WORK_ORDER_ISSUED: "Work order issued",
    IN_PROGRESS: "In progress", ON_HOLD: "On hold", COMPLETED: "Completed", COMMISSIONED: "Commissioned",
    HANDED_OVER_TO_GP: "Handed over to GP", CANCELLED: "Cancelled",
  },
  taskStatus: { OPEN: "Open", IN_PROGRESS: "In progress", BLOCKED: "Blocked" },
  lakh: "lakh",
  crore: "crore",
};

const hi = {
  title: "जल जीवन मिशन प्रगति",
  skip: "सामग्री पर जाएँ",
  otherLang: "English",
  signIn: "साइन इन",
  signOut: "साइन आउट",
  useToken: "टोकन से",
  token: "एक्सेस टोकन",
  tokenUse: "यह टोकन लें",
  cancel: "रद्द करें",
  publicView: "सार्वजनिक दृश्य: केवल कुल आँकड़े",
  signedInAs: "साइन इन",
  needSignIn: "प्रगति देखने के लिए साइन इन करें।",
  sessionEnded: "आपका सत्र समाप्त हो गया है। फिर से साइन इन करें।",
  loading: "लोड हो रहा है…",
  failed: "आँकड़े लोड नहीं हो सके",
  updatedAt: "अद्यतन",
  autoRefresh: "हर {n} सेकंड में ताज़ा",
  allStates: "सभी राज्य",
  levels: { STATE: "राज्य", DIVISION: "संभाग", DISTRICT: "ज़िला", BLOCK: "विकासखंड", VILLAGE: "गाँव" },
  areaCol: "क्षेत्र",
  villages: "गाँव",
  households: "परिवार",
  taps: "नल कनेक्शन",
  coverage: "नल कवरेज",
  difference: "औसत से अंतर",
  reported: "हर घर जल घोषित",
  certified: "हर घर जल प्रमाणित",
  schemes: "योजनाएँ",
  tasksOpen: "खुले कार्य",
  tasksOverdue: "विलंबित कार्य",
  hgjStatus: "हर घर जल",
  pts: "अंक",
  average: "औसत",
  parentAvg: "{area} औसत {pct}",
  chartTitle: "हर {level} का नल कवरेज, {area} औसत की तुलना में",
  chartDesc: "{n} क्षेत्र। {area} औसत {pct}। सबसे अधिक: {hi}। सबसे कम: {lo}। नीचे की तालिका में हर मान है।",
  schemesByStatus: "स्थिति के अनुसार योजनाएँ",
  tasksByDept: "विभाग के अनुसार खुले और विलंबित कार्य",
  open: "खुले",
  overdue: "विलंबित",
  none: "कोई नहीं",
  noRows: "दिखाने के लिए कोई क्षेत्र नहीं।",
  sortBy: "{col} से क्रमबद्ध करें",
  villageDetail: "गाँव",
  latestTest: "नवीनतम जल गुणवत्ता जाँच",
  noTest: "कोई जल गुणवत्ता जाँच दर्ज नहीं।",
  sampled: "नमूना तिथि",
  source: "स्रोत",
  parameter: "मापदंड",
  value: "मान",
  limit: "स्वीकार्य सीमा",
  exceeds: "सीमा से अधिक",
  within: "सीमा के भीतर",
  contaminated: "दूषित",
  safe: "सीमा के भीतर",
  openTasks: "खुले कार्य",
  noTasks: "कोई खुला कार्य नहीं।",
  task: "कार्य",
  status: "स्थिति",
  due: "नियत तिथि",
  assignee: "ज़िम्मेदार",
  scheme: "योजना",
  type: "प्रकार",
  code: "कोड",
  noSchemes: "कोई योजना नहीं।",
  publicVillage: "योजनाएँ, जल गुणवत्ता और कार्य साइन इन के बाद दिखते हैं।",
  notAllowed: "इस साइन इन के लिए उपलब्ध नहीं।",
  notFound: "नहीं मिला, या आपकी पहुँच से बाहर।",
  hgj: { NOT_SATURATED: "अभी नहीं", REPORTED: "घोषित", CERTIFIED: "प्रमाणित" },
  dept: { PHED: "लोक स्वास्थ्य यांत्रिकी", HEALTH: "स्वास्थ्य", WCD: "महिला एवं बाल विकास", ELECTRICITY: "बिजली", EDUCATION: "शिक्षा", PANCHAYATI_RAJ: "पंचायती राज" },
  schemeStatus: {
    PROPOSED: "प्रस्तावित", DPR_PREPARED: "डीपीआर तैयार", TECH_SANCTIONED: "तकनीकी स्वीकृति",
    ADMIN_APPROVED: "प्रशासकीय स्वीकृति", TENDERED: "निविदा", WORK_ORDER_ISSUED: "कार्यादेश जारी",
    IN_PROGRESS: "प्रगति पर", ON_HOLD: "रुकी हुई", COMPLETED: "पूर्ण", COMMISSIONED: "चालू",
    HANDED_OVER_TO_GP: "ग्राम पंचायत को सौंपी", CANCELLED: "रद्द",
  },
  taskStatus: { OPEN: "खुला", IN_PROGRESS: "प्रगति पर", BLOCKED: "रुका हुआ" },
  lakh: "लाख",
  crore: "करोड़",
};

const dictionaries = { en, hi };
let lang = "en";

export function setLang(l) {
  lang = dictionaries[l] ? l : "en";
  document.documentElement.lang = lang;
}

export function getLang() {
  return lang;
}

/// The text for `key` (a dotted path), with `{name}` placeholders filled from `vars`.
export function t(key, vars = {}) {
  let v = key.split(".").reduce((o, k) => (o == null ? o : o[k]), dictionaries[lang]);
  if (v == null) v = key;
  return String(v).replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : `{${k}}`));
}

/// An area's name in the current language.
export function areaName(a) {
  if (!a) return "";
  return lang === "hi" && a.nameHi ? a.nameHi : a.name;
}

const grouping = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 2 });

/// 1234567 → "12,34,567".
export function int(n) {
  return n == null ? "–" : grouping.format(n);
}

/// 1234567 → "12.35 lakh"; 123456789 → "12.35 crore"; smaller numbers as `int`.
export function compact(n) {
  if (n == null) return "–";
  if (Math.abs(n) >= 1e7) return `${twoDecimals.format(n / 1e7)} ${t("crore")}`;
  if (Math.abs(n) >= 1e5) return `${twoDecimals.format(n / 1e5)} ${t("lakh")}`;
  return int(n);
}

/// 73.456 → "73.5%".
export function pct(x) {
  return x == null ? "–" : `${oneDecimal.format(x)}%`;
}

/// A difference in percentage points, always signed: "+3.2 pts", "−4.1 pts".
export function points(x) {
  if (x == null) return "–";
  const r = Math.round(x * 10) / 10;
  const sign = r > 0 ? "+" : r < 0 ? "−" : "±";
  return `${sign}${oneDecimal.format(Math.abs(r))} ${t("pts")}`;
}
