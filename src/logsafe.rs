//! Safe rendering of untrusted values in log lines.
//!
//! A value that came from the network (a NameID, a `RelayState`, a client
//! id, a header) must not be able to forge log lines, rewrite a terminal or
//! reorder what an operator reads. [`Esc`] (built with [`esc`]) is a
//! `Display` wrapper that writes printable text as is and escapes:
//!
//! - every C0 control (U+0000–U+001F, so NUL, BEL, ESC, CR, LF, TAB) and DEL
//!   as `\n`, `\r`, `\t` or `\xHH`;
//! - every C1 control (U+0080–U+009F), the bidi controls (U+061C, U+200E,
//!   U+200F, U+202A–U+202E, U+2066–U+2069) and the line and paragraph
//!   separators U+2028/U+2029 as `\u{H}`;
//! - the backslash as `\\`, and the ellipsis U+2026 as `\u{2026}`.
//!
//! Every escape starts with a backslash and a literal backslash is doubled,
//! so the rendering is unambiguous; the ellipsis is escaped so that only the
//! truncation marker can print one. At most [`MAX_CHARS`] characters of the
//! input are rendered; the rest is replaced by `…(+N bytes)`, N counting the
//! bytes left out. Clean text is written in slices of the input: rendering
//! never allocates.

use std::fmt;

/// Characters of input rendered before truncating.
pub const MAX_CHARS: usize = 200;

/// An untrusted string, rendered safely by `Display`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Esc<'a>(pub &'a str);

/// Wraps an untrusted string for a log line: `log::info!("user {}", esc(name))`.
pub fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// Whether `c` is written as an escape rather than as itself.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\\' | '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2026}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Writes the escape of one character that [`needs_escape`].
fn write_escape(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        c if u32::from(c) < 0x80 => write!(f, "\\x{:02x}", u32::from(c)),
        c => write!(f, "\\u{{{:x}}}", u32::from(c)),
    }
}

/// Characters of a whole log message rendered before truncating.
pub const MAX_LINE_CHARS: usize = 4000;

/// A whole message that may embed untrusted values (an error's text),
/// escaped like [`Esc`] with the longer bound [`MAX_LINE_CHARS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscLine<'a>(pub &'a str);

impl fmt::Display for EscLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(f, self.0, MAX_LINE_CHARS)
    }
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(f, self.0, MAX_CHARS)
    }
}

fn render(f: &mut fmt::Formatter<'_>, s: &str, max: usize) -> fmt::Result {
    {
        // Start of the clean run not yet written.
        let mut clean = 0;
        for (n, (i, c)) in s.char_indices().enumerate() {
            if n == max {
                f.write_str(s.get(clean..i).unwrap_or_default())?;
                return write!(f, "…(+{} bytes)", s.len().saturating_sub(i));
            }
            if needs_escape(c) {
                f.write_str(s.get(clean..i).unwrap_or_default())?;
                write_escape(f, c)?;
                clean = i + c.len_utf8();
            }
        }
        f.write_str(s.get(clean..).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        esc(s).to_string()
    }

    #[test]
    fn printable_text_is_unchanged() {
        assert_eq!(r(""), "");
        assert_eq!(r("alice@example.org"), "alice@example.org");
        assert_eq!(r("Zoë 日本 🙂 \"q\" 'a' <b>"), "Zoë 日本 🙂 \"q\" 'a' <b>");
    }

    #[test]
    fn terminal_attack_is_neutralised() {
        assert_eq!(r("\x1b[2J\x1b[31mX\rY"), "\\x1b[2J\\x1b[31mX\\rY");
    }

    #[test]
    fn nul_and_other_c0() {
        assert_eq!(r("a\0b"), "a\\x00b");
        assert_eq!(r("\x07\x08\x0b\x0c\x1f"), "\\x07\\x08\\x0b\\x0c\\x1f");
        assert_eq!(r("l1\nl2\tx\r"), "l1\\nl2\\tx\\r");
        assert_eq!(r("\x7f"), "\\x7f");
    }

    #[test]
    fn forged_log_line_stays_on_one_line() {
        let out = r("bob\n2025-01-01 INFO admin logged in");
        assert!(!out.contains('\n'));
        assert_eq!(out, "bob\\n2025-01-01 INFO admin logged in");
    }

    #[test]
    fn c1_and_bidi_controls() {
        assert_eq!(r("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(r("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(
            r("\u{200e}\u{200f}\u{202a}\u{202d}\u{2066}\u{2069}\u{61c}"),
            "\\u{200e}\\u{200f}\\u{202a}\\u{202d}\\u{2066}\\u{2069}\\u{61c}"
        );
        assert_eq!(r("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
    }

    #[test]
    fn backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(r("a\\b"), "a\\\\b");
        // A literal "\x1b" and a real ESC render differently.
        assert_ne!(r("\\x1b"), r("\x1b"));
        assert_eq!(r("\\x1b"), "\\\\x1b");
    }

    #[test]
    fn truncates_after_max_chars() {
        assert_eq!(r(&"a".repeat(MAX_CHARS)), "a".repeat(MAX_CHARS));
        let long = "a".repeat(MAX_CHARS + 50);
        assert_eq!(r(&long), format!("{}…(+50 bytes)", "a".repeat(MAX_CHARS)));
        let wide = "é".repeat(MAX_CHARS + 1);
        assert_eq!(r(&wide), format!("{}…(+2 bytes)", "é".repeat(MAX_CHARS)));
    }

    #[test]
    fn truncation_marker_cannot_be_forged() {
        assert_eq!(r("x…(+9 bytes)"), "x\\u{2026}(+9 bytes)");
    }

    #[test]
    fn output_is_bounded() {
        let nasty = "\u{202e}".repeat(10_000);
        let out = r(&nasty);
        assert!(out.len() <= MAX_CHARS * "\\u{202e}".len() + 32);
        assert!(out.ends_with(&format!("…(+{} bytes)", (10_000 - MAX_CHARS) * 3)));
    }

    #[test]
    fn no_control_character_survives() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let out = r(&c.to_string());
            assert!(
                !out.chars().any(|o| o.is_control()
                    || matches!(
                        o,
                        '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{61c}'
                    )
                    || ('\u{202a}'..='\u{202e}').contains(&o)
                    || ('\u{2066}'..='\u{2069}').contains(&o)),
                "U+{:04X} rendered as {out:?}",
                u32::from(c)
            );
        }
    }
}
