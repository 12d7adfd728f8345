//! XML names: the character classes of XML 1.0 §2.3 and the NCName and
//! QName productions of Namespaces in XML 1.0 (§3, §4), with an ASCII fast
//! path that agrees with the classes byte for byte.

/// What one pass over an ASCII QName finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QName {
    /// Two NCNames around a colon at this index, or one NCName (0).
    Split(usize),
    Bad,
    /// A byte past ASCII: check it by character ([`split_qname`]).
    NotAscii,
}

/// A QName (Namespaces in XML 1.0 §4, `Prefix ':' LocalPart` or an NCName)
/// checked and split in one pass over its bytes with the ASCII name table:
/// [`scan_qname`] over a whole name, as the tests state it.
#[cfg(any(test, feature = "test-support"))]
pub(super) fn split_ascii_qname(q: &[u8]) -> QName {
    scan_qname(q, 0, |_| false).1
}

/// A name read from `from` up to the first byte `is_end` accepts (or the
/// end of `bytes`), checked as [`split_ascii_qname`] checks it on the way:
/// where it ends, and what it is. The verdict is the first fault met.
pub(super) fn scan_qname(bytes: &[u8], from: usize, is_end: impl Fn(u8) -> bool) -> (usize, QName) {
    let mut want = NAME_START;
    let mut colon = None;
    let mut i = from;
    let fault = loop {
        let Some(&b) = bytes.get(i) else {
            break None;
        };
        match ASCII_NAME.get(usize::from(b)) {
            // Name bytes (never end bytes) go by the table alone.
            Some(class) if class & want != 0 => want = NAME_CHAR,
            Some(_) if b == b':' && colon.is_none() && want != NAME_START => {
                colon = Some(i - from);
                want = NAME_START;
            }
            _ if is_end(b) => break None,
            None => break Some(QName::NotAscii),
            Some(_) => break Some(QName::Bad),
        }
        i += 1;
    };
    if let Some(fault) = fault {
        while bytes.get(i).is_some_and(|b| !is_end(*b)) {
            i += 1;
        }
        return (i, fault);
    }
    // Empty, or ending in a colon, is not a QName either.
    let verdict = if want == NAME_START {
        QName::Bad
    } else {
        QName::Split(colon.unwrap_or(0))
    };
    (i, verdict)
}

/// The same as [`split_ascii_qname`] by character, for any name: where the
/// prefix ends (0 when there is none), or `None` if `q` is not a QName. The
/// first colon splits prefix and local part, found by byte (a colon is ASCII
/// and never inside a multi-byte character).
pub(super) fn split_qname(q: &str) -> Option<usize> {
    match q.bytes().position(|b| b == b':') {
        None if is_ncname(q) => Some(0),
        Some(i) if q.get(..i).is_some_and(is_ncname) && q.get(i + 1..).is_some_and(is_ncname) => {
            Some(i)
        }
        _ => None,
    }
}

/// NCName per Namespaces in XML 1.0 §3 (the XML 1.0 Fifth Edition name
/// character classes, without the colon).
pub(super) fn is_ncname(s: &str) -> bool {
    // ASCII names (nearly all of them) by byte, in one pass over a table;
    // the classes below agree with it on ASCII.
    let bytes = s.as_bytes();
    if bytes.is_ascii() {
        let class = |b: &u8| ASCII_NAME.get(usize::from(*b)).copied().unwrap_or(0);
        let mut rest = bytes.iter();
        return rest.next().is_some_and(|b| class(b) & NAME_START != 0)
            && rest.all(|b| class(b) & NAME_CHAR != 0);
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    is_name_start(first) && chars.all(is_name_char)
}

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;

/// For each ASCII byte, whether it may start an NCName and whether it may
/// continue one (XML 1.0 §2.3, NameStartChar and NameChar, colon excluded).
/// Built at compile time, where an index out of range fails the build.
#[allow(clippy::indexing_slicing)]
static ASCII_NAME: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' {
            t[b] = NAME_START | NAME_CHAR;
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            t[b] = NAME_CHAR;
        }
        b += 1;
    }
    t
};

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_pass_qname_split_agrees_with_the_split_by_character() {
        // Every string of up to four characters over an alphabet with name
        // starts, name characters, colons and a byte past ASCII.
        let alphabet = ['a', 'Z', '_', '1', '-', '.', ':', ' ', '<', 'é'];
        let mut names = vec![String::new()];
        let mut last = names.clone();
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            names.extend(last.iter().cloned());
        }
        for q in &names {
            let by_char = split_qname(q);
            match split_ascii_qname(q.as_bytes()) {
                QName::Split(i) => assert_eq!(by_char, Some(i), "{q:?}"),
                QName::Bad => assert_eq!(by_char, None, "{q:?}"),
                QName::NotAscii => assert!(!q.is_ascii(), "{q:?}"),
            }
        }
        assert_eq!(split_ascii_qname(b"saml:Assertion"), QName::Split(4));
        assert_eq!(split_ascii_qname(b"Assertion"), QName::Split(0));
        for bad in ["", ":", "a:", ":a", "a:b:c", "1a", "a:1b", "a b"] {
            assert_eq!(split_ascii_qname(bad.as_bytes()), QName::Bad, "{bad:?}");
        }
    }

    #[test]
    fn a_scan_stops_at_the_first_end_byte_with_the_verdict_of_the_name_before() {
        let space = |b: u8| b == b' ' || b == b'=';
        assert_eq!(scan_qname(b"<p:a b", 1, space), (4, QName::Split(1)));
        assert_eq!(scan_qname(b"key=v", 0, space), (3, QName::Split(0)));
        // A fault does not end the name: it runs to its end byte.
        assert_eq!(scan_qname(b"a\"b c", 0, space), (3, QName::Bad));
        assert_eq!(
            scan_qname("\u{e9}:1 x".as_bytes(), 0, space),
            (4, QName::NotAscii)
        );
        assert_eq!(scan_qname(b"a:1\xff x", 0, space), (4, QName::Bad));
        assert_eq!(scan_qname(b"ab", 0, space), (2, QName::Split(0)));
        assert_eq!(scan_qname(b" a", 0, space), (0, QName::Bad));
    }

    #[test]
    fn the_ascii_name_table_agrees_with_the_name_classes() {
        for b in 0u8..128 {
            let c = char::from(b);
            let one = c.to_string();
            let two = format!("a{c}");
            let want_start = is_name_start(c);
            let want_char = is_name_char(c) && c != ':';
            assert_eq!(is_ncname(&one), want_start, "{b:#x} first");
            assert_eq!(is_ncname(&two), want_char, "{b:#x} after the first");
        }
        assert!(!is_ncname(""));
        assert!(is_ncname("_a-b.c9"));
        assert!(!is_ncname("a:b"));
        assert!(is_ncname("é1"));
    }
}
