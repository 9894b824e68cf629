//! Names for the demo geography: real districts (and some real blocks), and believable generated
//! names for gram panchayats and villages, in English and Devanagari from parallel lists.

use entities::enums::StateCategory;

pub struct StateDef {
    pub lgd: i32,
    pub name: &'static str,
    pub name_hi: &'static str,
    pub category: StateCategory,
    pub code: &'static str,
}

pub const STATES: [StateDef; 2] = [
    StateDef {
        lgd: 22,
        name: "Chhattisgarh",
        name_hi: "छत्तीसगढ़",
        category: StateCategory::General,
        code: "CG",
    },
    StateDef {
        lgd: 23,
        name: "Madhya Pradesh",
        name_hi: "मध्य प्रदेश",
        category: StateCategory::General,
        code: "MP",
    },
];

/// (state index, code, name, Hindi name)
pub const DIVISIONS: [(usize, &str, &str, &str); 3] = [
    (0, "CG-BASTAR", "Bastar", "बस्तर संभाग"),
    (0, "CG-RAIPUR", "Raipur", "रायपुर संभाग"),
    (1, "MP-INDORE", "Indore", "इंदौर संभाग"),
];

pub struct DistrictDef {
    pub division: usize,
    pub lgd: i32,
    pub name: &'static str,
    pub name_hi: &'static str,
    pub aspirational: bool,
    /// Real block names where known: (English, Hindi).
    pub blocks: &'static [(&'static str, &'static str)],
    /// Tribal, forested districts have smaller villages and lower coverage.
    pub remote: bool,
}

const fn d(
    division: usize,
    lgd: i32,
    name: &'static str,
    name_hi: &'static str,
    aspirational: bool,
    remote: bool,
    blocks: &'static [(&'static str, &'static str)],
) -> DistrictDef {
    DistrictDef {
        division,
        lgd,
        name,
        name_hi,
        aspirational,
        blocks,
        remote,
    }
}

pub const DISTRICTS: [DistrictDef; 20] = [
    d(
        0,
        376,
        "Bastar",
        "बस्तर",
        true,
        true,
        &[
            ("Jagdalpur", "जगदलपुर"),
            ("Bastanar", "बास्तानार"),
            ("Bakawand", "बकावंड"),
            ("Lohandiguda", "लोहंडीगुड़ा"),
        ],
    ),
    d(
        0,
        377,
        "Bijapur",
        "बीजापुर",
        true,
        true,
        &[
            ("Bijapur", "बीजापुर"),
            ("Bhairamgarh", "भैरमगढ़"),
            ("Usoor", "उसूर"),
            ("Bhopalpatnam", "भोपालपटनम"),
        ],
    ),
    d(
        0,
        378,
        "Dantewada",
        "दंतेवाड़ा",
        true,
        true,
        &[
            ("Dantewada", "दंतेवाड़ा"),
            ("Geedam", "गीदम"),
            ("Katekalyan", "कटेकल्याण"),
            ("Kuakonda", "कुआकोंडा"),
        ],
    ),
    d(
        0,
        379,
        "Kanker",
        "कांकेर",
        true,
        true,
        &[
            ("Kanker", "कांकेर"),
            ("Charama", "चारामा"),
            ("Narharpur", "नरहरपुर"),
            ("Bhanupratappur", "भानुप्रतापपुर"),
        ],
    ),
    d(
        0,
        380,
        "Kondagaon",
        "कोंडागांव",
        true,
        true,
        &[
            ("Kondagaon", "कोंडागांव"),
            ("Keshkal", "केशकाल"),
            ("Pharasgaon", "फरसगांव"),
            ("Makdi", "माकड़ी"),
        ],
    ),
    d(
        0,
        381,
        "Narayanpur",
        "नारायणपुर",
        true,
        true,
        &[("Narayanpur", "नारायणपुर"), ("Orchha", "ओरछा")],
    ),
    d(
        0,
        382,
        "Sukma",
        "सुकमा",
        true,
        true,
        &[
            ("Sukma", "सुकमा"),
            ("Chhindgarh", "छिंदगढ़"),
            ("Konta", "कोंटा"),
        ],
    ),
    d(
        1,
        387,
        "Raipur",
        "रायपुर",
        false,
        false,
        &[
            ("Abhanpur", "अभनपुर"),
            ("Arang", "आरंग"),
            ("Dharsiwa", "धरसीवां"),
            ("Tilda", "तिल्दा"),
        ],
    ),
    d(
        1,
        388,
        "Dhamtari",
        "धमतरी",
        false,
        false,
        &[
            ("Dhamtari", "धमतरी"),
            ("Kurud", "कुरूद"),
            ("Magarlod", "मगरलोड"),
            ("Nagri", "नगरी"),
        ],
    ),
    d(
        1,
        389,
        "Gariaband",
        "गरियाबंद",
        false,
        true,
        &[
            ("Gariaband", "गरियाबंद"),
            ("Chhura", "छुरा"),
            ("Fingeshwar", "फिंगेश्वर"),
            ("Mainpur", "मैनपुर"),
        ],
    ),
    d(
        1,
        390,
        "Mahasamund",
        "महासमुंद",
        true,
        false,
        &[
            ("Mahasamund", "महासमुंद"),
            ("Bagbahara", "बागबाहरा"),
            ("Pithora", "पिथौरा"),
            ("Saraipali", "सरायपाली"),
        ],
    ),
    d(
        1,
        391,
        "Baloda Bazar",
        "बलौदा बाजार",
        false,
        false,
        &[
            ("Baloda Bazar", "बलौदा बाजार"),
            ("Bhatapara", "भाटापारा"),
            ("Kasdol", "कसडोल"),
            ("Simga", "सिमगा"),
        ],
    ),
    d(
        2,
        437,
        "Indore",
        "इंदौर",
        false,
        false,
        &[
            ("Indore", "इंदौर"),
            ("Depalpur", "देपालपुर"),
            ("Mhow", "महू"),
            ("Sanwer", "सांवेर"),
        ],
    ),
    d(
        2,
        438,
        "Burhanpur",
        "बुरहानपुर",
        false,
        false,
        &[("Burhanpur", "बुरहानपुर"), ("Khaknar", "खकनार")],
    ),
    d(
        2,
        439,
        "Khargone",
        "खरगोन",
        false,
        false,
        &[
            ("Khargone", "खरगोन"),
            ("Maheshwar", "महेश्वर"),
            ("Kasrawad", "कसरावद"),
            ("Bhikangaon", "भीकनगांव"),
        ],
    ),
    d(
        2,
        440,
        "Khandwa",
        "खंडवा",
        true,
        false,
        &[
            ("Khandwa", "खंडवा"),
            ("Harsud", "हरसूद"),
            ("Pandhana", "पंधाना"),
            ("Punasa", "पुनासा"),
        ],
    ),
    d(
        2,
        441,
        "Barwani",
        "बड़वानी",
        true,
        true,
        &[
            ("Barwani", "बड़वानी"),
            ("Sendhwa", "सेंधवा"),
            ("Pati", "पाटी"),
            ("Rajpur", "राजपुर"),
        ],
    ),
    d(
        2,
        442,
        "Dhar",
        "धार",
        false,
        false,
        &[
            ("Dhar", "धार"),
            ("Badnawar", "बदनावर"),
            ("Manawar", "मनावर"),
            ("Kukshi", "कुक्षी"),
        ],
    ),
    d(
        2,
        443,
        "Jhabua",
        "झाबुआ",
        false,
        true,
        &[
            ("Jhabua", "झाबुआ"),
            ("Petlawad", "पेटलावद"),
            ("Thandla", "थांदला"),
            ("Meghnagar", "मेघनगर"),
        ],
    ),
    d(
        2,
        444,
        "Alirajpur",
        "अलीराजपुर",
        false,
        true,
        &[
            ("Alirajpur", "अलीराजपुर"),
            ("Jobat", "जोबट"),
            ("Sondwa", "सोंडवा"),
        ],
    ),
];

/// Name stems and suffixes, English and Hindi side by side so each pair matches.
const STEMS: [(&str, &str); 32] = [
    ("Kodo", "कोडो"),
    ("Bade", "बड़े"),
    ("Chhote", "छोटे"),
    ("Sem", "सेम"),
    ("Mar", "मार"),
    ("Kurund", "कुरुंद"),
    ("Ram", "राम"),
    ("Son", "सोन"),
    ("Deo", "देव"),
    ("Kesh", "केश"),
    ("Bel", "बेल"),
    ("Amli", "अमली"),
    ("Tendu", "तेंदू"),
    ("Mahua", "महुआ"),
    ("Kusum", "कुसुम"),
    ("Pipal", "पीपल"),
    ("Bar", "बर"),
    ("Kosa", "कोसा"),
    ("Hari", "हरि"),
    ("Lakh", "लाख"),
    ("Nand", "नंद"),
    ("Gopal", "गोपाल"),
    ("Shiv", "शिव"),
    ("Chandra", "चंद्र"),
    ("Kanha", "कान्हा"),
    ("Bhim", "भीम"),
    ("Dongar", "डोंगर"),
    ("Nala", "नाला"),
    ("Pahad", "पहाड़"),
    ("Jamun", "जामुन"),
    ("Kher", "खेर"),
    ("Palash", "पलाश"),
];

const SUFFIXES: [(&str, &str); 10] = [
    ("pur", "पुर"),
    ("pali", "पाली"),
    ("gaon", "गांव"),
    ("para", "पारा"),
    ("kheda", "खेड़ा"),
    ("tola", "टोला"),
    ("nar", "नार"),
    ("bahar", "बहार"),
    ("wada", "वाड़ा"),
    ("guda", "गुड़ा"),
];

/// A generated place name: deterministic in `n`.
pub fn place(n: u64) -> (String, String) {
    let (s, sh) = STEMS[(n % STEMS.len() as u64) as usize];
    let (x, xh) = SUFFIXES[((n / STEMS.len() as u64) % SUFFIXES.len() as u64) as usize];
    (format!("{s}{x}"), format!("{sh}{xh}"))
}

/// Rivers for multi-village scheme names: (English, Hindi).
pub const RIVERS: [(&str, &str); 9] = [
    ("Mahanadi", "महानदी"),
    ("Indravati", "इंद्रावती"),
    ("Narmada", "नर्मदा"),
    ("Kharun", "खारुन"),
    ("Sheonath", "शिवनाथ"),
    ("Pairi", "पैरी"),
    ("Sondur", "सोंढूर"),
    ("Tapti", "ताप्ती"),
    ("Chambal", "चंबल"),
];

/// Fake Jal Sakhi / ASHA names for field-test-kit results (personal data).
pub const TESTERS: [&str; 8] = [
    "Sunita Netam",
    "Kamla Markam",
    "Rekha Sori",
    "Savitri Bai",
    "Lalita Patel",
    "Meena Baghel",
    "Radha Dhurve",
    "Geeta Bhuriya",
];
