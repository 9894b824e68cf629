//! A romanised, normalised spelling key for place names, so that the spellings people type
//! (`sivpur`, `Shivpur`, `Shivapura`) and the Devanagari name (शिवपुर) meet on one key.
//!
//! It lives here because the migration that adds the key fills it for existing rows; the API
//! re-exports it as `service::search_key`.
//!
//! The key folds the variation seen in romanised Hindi: aspirates and sibilants (`sh`/`s`,
//! `kh`/`k`, `bh`/`b`, `ph`/`f`/`p`), `v`/`w`, `z`/`j`, `q`/`k`, long vowels (`aa`, `ee`/`ii`,
//! `oo`/`uu`), doubled letters, `m` before a labial (`Champa`/चंपा), and the short `a` that
//! romanisation writes or leaves out at will (Hindi drops the inherent vowel at the end of a
//! word and often inside it: शिवपुर is `Shivpur`, not `Shivapura`). Every non-initial `a` is
//! therefore dropped, which is what makes `Shivpur`, `Shivapur` and शिवपुर one key.

/// The key stored for a place with English name `name_en` and Hindi name `name_hi`: the two
/// names' keys joined by `|`, so a search matches either but never across them.
pub fn search_key(name_en: &str, name_hi: &str) -> String {
    let en = query_key(name_en);
    let hi = query_key(name_hi);
    if hi.is_empty() || hi == en {
        en
    } else {
        format!("{en}|{hi}")
    }
}

/// The key of one piece of text (a search as typed, in either script).
pub fn query_key(text: &str) -> String {
    let latin = transliterate(text);
    // Letters only: spaces, hyphens and dots vary between spellings of one name.
    let letters: Vec<char> = latin
        .chars()
        .flat_map(char::to_lowercase)
        .filter(char::is_ascii_lowercase)
        .collect();
    // Doubled consonants go first too, so a doubled `h` or `m` cannot break a digraph
    // (`chhota`); doubled vowels are long vowels, folded next.
    let folded = fold_consonants(&collapse_consonants(&letters));
    let vowels = fold_vowels(&folded);
    collapse_doubles(&labial_nasals(&vowels))
        .into_iter()
        .collect()
}

/// Champa / चंपा: an `m` before a labial is the anusvara, written `n` here. Applied once the
/// inherent vowels are gone, so Rampur and रामपुर (`rāmapur`) fold alike.
fn labial_nasals(s: &[char]) -> Vec<char> {
    s.iter()
        .enumerate()
        .map(|(i, &c)| match (c, s.get(i + 1)) {
            ('m', Some('p' | 'b')) => 'n',
            _ => c,
        })
        .collect()
}

/// Digraphs and interchangeable consonants, read left to right.
fn fold_consonants(s: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        // An aspirate or sibilant digraph: drop its `h`.
        if next == Some('h')
            && matches!(c, 'k' | 'g' | 'c' | 'j' | 't' | 'd' | 'p' | 'b' | 's' | 'r')
        {
            out.push(c);
            i += 2;
            continue;
        }
        let mapped = match c {
            'w' => 'v',
            'z' => 'j',
            'q' => 'k',
            'f' => 'p',
            'x' => {
                out.push('k');
                's'
            }
            c => c,
        };
        out.push(mapped);
        i += 1;
    }
    out
}

/// Long vowels become short, and every `a` after the first letter goes.
fn fold_vowels(s: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for (i, &c) in s.iter().enumerate() {
        let c = match c {
            'e' if out.last() == Some(&'e') => {
                out.pop();
                'i'
            }
            'o' if out.last() == Some(&'o') => {
                out.pop();
                'u'
            }
            c => c,
        };
        if c == 'a' && i > 0 {
            continue;
        }
        out.push(c);
    }
    out
}

fn collapse_consonants(s: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for &c in s {
        if out.last() != Some(&c) || "aeiou".contains(c) {
            out.push(c);
        }
    }
    out
}

fn collapse_doubles(s: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for &c in s {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

/// Devanagari to a plain romanisation (other characters pass through). Each consonant carries
/// the inherent `a` unless a vowel sign or a virama follows; the `a`s are folded away later.
fn transliterate(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let nukta = chars.get(i + 1) == Some(&'\u{093C}');
        if let Some(base) = consonant(c, nukta) {
            out.push_str(base);
            i += if nukta { 2 } else { 1 };
            match chars.get(i).copied() {
                Some('\u{094D}') => i += 1,
                Some(s) if vowel_sign(s).is_some() => {}
                _ => out.push('a'),
            }
            continue;
        }
        if let Some(v) = vowel_sign(c).or_else(|| vowel(c)) {
            out.push_str(v);
        } else {
            match c {
                // Anusvara and chandrabindu: a nasal, written `n`.
                '\u{0902}' | '\u{0901}' => out.push('n'),
                '\u{0903}' => out.push('h'),
                '\u{093C}' | '\u{094D}' => {}
                c => out.push(c),
            }
        }
        i += 1;
    }
    out
}

fn consonant(c: char, nukta: bool) -> Option<&'static str> {
    Some(match (c, nukta) {
        ('क', true) | ('\u{0958}', _) => "q",
        ('ख', true) | ('\u{0959}', _) => "kh",
        ('ग', true) | ('\u{095A}', _) => "g",
        ('ज', true) | ('\u{095B}', _) => "z",
        ('ड', true) | ('\u{095C}', _) => "r",
        ('ढ', true) | ('\u{095D}', _) => "rh",
        ('फ', true) | ('\u{095E}', _) => "f",
        ('य', true) | ('\u{095F}', _) => "y",
        ('क', _) => "k",
        ('ख', _) => "kh",
        ('ग', _) => "g",
        ('घ', _) => "gh",
        ('ङ', _) => "n",
        ('च', _) => "ch",
        ('छ', _) => "chh",
        ('ज', _) => "j",
        ('झ', _) => "jh",
        ('ञ', _) => "n",
        ('ट', _) => "t",
        ('ठ', _) => "th",
        ('ड', _) => "d",
        ('ढ', _) => "dh",
        ('ण', _) => "n",
        ('त', _) => "t",
        ('थ', _) => "th",
        ('द', _) => "d",
        ('ध', _) => "dh",
        ('न', _) => "n",
        ('प', _) => "p",
        ('फ', _) => "ph",
        ('ब', _) => "b",
        ('भ', _) => "bh",
        ('म', _) => "m",
        ('य', _) => "y",
        ('र', _) => "r",
        ('ल', _) => "l",
        ('ळ', _) => "l",
        ('व', _) => "v",
        ('श', _) => "sh",
        ('ष', _) => "sh",
        ('स', _) => "s",
        ('ह', _) => "h",
        _ => return None,
    })
}

fn vowel(c: char) -> Option<&'static str> {
    Some(match c {
        'अ' => "a",
        'आ' => "aa",
        'इ' => "i",
        'ई' => "ii",
        'उ' => "u",
        'ऊ' => "uu",
        'ऋ' => "ri",
        'ए' => "e",
        'ऐ' => "ai",
        'ओ' => "o",
        'औ' => "au",
        _ => return None,
    })
}

fn vowel_sign(c: char) -> Option<&'static str> {
    Some(match c {
        'ा' => "aa",
        'ि' => "i",
        'ी' => "ii",
        'ु' => "u",
        'ू' => "uu",
        'ृ' => "ri",
        'े' => "e",
        'ै' => "ai",
        'ो' => "o",
        'ौ' => "au",
        'ॉ' => "o",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_share_a_key() {
        let key = query_key("शिवपुर");
        for spelling in [
            "sivpur", "shivpur", "Shivapur", "Shivpura", "SHIWPUR", "Shivvpur",
        ] {
            assert_eq!(query_key(spelling), key, "{spelling}");
        }
    }

    #[test]
    fn devanagari_and_english_meet() {
        for (en, hi) in [
            ("Fatehpur", "फतेहपुर"),
            ("Lakshmipur", "लक्ष्मीपुर"),
            ("Champaran", "चंपारण"),
            ("Deepak", "दीपक"),
            ("Garhwa", "गढ़वा"),
            ("Rampur", "रामपुर"),
            ("Bhairav", "भैरव"),
        ] {
            assert_eq!(query_key(en), query_key(hi), "{en} / {hi}");
        }
    }

    #[test]
    fn different_names_keep_different_keys() {
        assert_ne!(query_key("Shivpur"), query_key("Sonpur"));
        assert_ne!(query_key("Rampur"), query_key("Rajpur"));
    }

    #[test]
    fn the_stored_key_holds_both_names_apart() {
        assert_eq!(search_key("Shivpur", "शिवपुर"), "sivpur");
        assert_eq!(search_key("Deo", "देव"), "deo|dev");
    }
}
