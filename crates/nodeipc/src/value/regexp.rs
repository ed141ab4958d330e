//! Whether a RegExp pattern compiles in V8: what the `advanced` writer
//! checks before it sends one, since Node dies on a message whose pattern
//! does not compile ("Invalid regular expression", thrown while reading the
//! channel).
//!
//! The ECMAScript grammar (Annex B's lenient forms without `u`/`v`, the
//! stricter ones with them, `v`'s set notation) is checked by the `regress`
//! parser. Compared with V8 (Node 26) on 300 000 generated patterns, it
//! accepted one class V8 refuses, a quantified word-boundary assertion
//! (`\b?`, `\B{1,2}`: "Nothing to repeat"), and it reads `v` as Unicode
//! mode only when told `u` too. A review against Node 20–26 found three
//! more: modifier groups and repeated group names (new in V8 12.5, so
//! refused by Node 20 and 22), and negated `v` classes that may hold
//! strings. [`refused_by_some_node`] catches those: what we write must be
//! read by every supported Node, so a pattern only newer Node reads is
//! refused too. `tests/v8_node_reader.rs` goes on comparing with each
//! supported Node.

use super::{JsRegExp, JsString, RegExpFlags};

/// The longest source checked, in UTF-16 units: longer ones count as not
/// compiling. The parser's cost grows faster than the source (7.8 Ki
/// units of `\p{RGI_Emoji}` with `vi`: 2.5 s; 16 Ki units of `a` with
/// `ui`: 10 s), and a pattern this long is rare enough to refuse.
pub const MAX_CHECKED_SOURCE: usize = 1024;

impl JsRegExp {
    /// Whether V8 compiles this pattern with these flags: a RegExp that
    /// does not is refused by the `advanced` writer (Node would die reading
    /// it). A source longer than [`MAX_CHECKED_SOURCE`] UTF-16 units is not
    /// checked and counts as not compiling.
    ///
    /// ```
    /// use nodeipc::value::{JsRegExp, RegExpFlags};
    ///
    /// let re = |source: &str, flags| JsRegExp { source: source.into(), flags: RegExpFlags::parse(flags).unwrap() };
    /// assert!(re("ab+c", "gi").is_valid() && re("{", "").is_valid() && re("[\\p{L}--[a-z]]", "v").is_valid());
    /// assert!(!re("(", "").is_valid() && !re("{", "u").is_valid() && !re("\\b+", "").is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        compiles(&self.source, self.flags)
    }
}

fn compiles(source: &JsString, flags: RegExpFlags) -> bool {
    if source.len_utf16() > MAX_CHECKED_SOURCE {
        return false;
    }
    let units = source.to_utf16();
    let sets = flags.bits() & RegExpFlags::UNICODE_SETS != 0;
    if refused_by_some_node(&units, sets) {
        return false;
    }
    let mut f = regress::Flags::default();
    let bits = flags.bits();
    f.icase = bits & RegExpFlags::IGNORE_CASE != 0;
    f.multiline = bits & RegExpFlags::MULTILINE != 0;
    f.dot_all = bits & RegExpFlags::DOT_ALL != 0;
    // `v` is Unicode mode too (its strict syntax); regress wants both set.
    f.unicode = bits & RegExpFlags::UNICODE != 0 || sets;
    f.unicode_sets = sets;
    regress::Regex::from_unicode(code_points(&units), f).is_ok()
}

/// The pattern's code points: surrogate pairs joined, lone surrogates kept.
fn code_points(units: &[u16]) -> impl Iterator<Item = u32> + Clone + '_ {
    char::decode_utf16(units.iter().copied())
        .map(|r| r.map_or_else(|e| u32::from(e.unpaired_surrogate()), u32::from))
}

/// Whether the pattern uses what some supported Node refuses although the
/// ECMAScript grammar regress follows allows it:
/// - a quantified `\b` or `\B` (every V8: "Nothing to repeat");
/// - a modifier group, `(?i:…)`, `(?-m:…)` (V8 before 12.5: Node 20, 22);
/// - a group name used twice, even in different alternatives (Node 20, 22);
/// - with `v`, a negated class that may hold strings (`[^\q{ab}]`,
///   `[^\p{RGI_Emoji}]`; every V8).
///
/// Outside character classes only, where those forms mean what they say.
fn refused_by_some_node(units: &[u16], sets: bool) -> bool {
    let is = |i: usize, c: u8| units.get(i) == Some(&u16::from(c));
    let starts = |i: usize, text: &str| text.bytes().enumerate().all(|(k, c)| is(i + k, c));
    // Open classes, innermost last: whether each is negated.
    let mut classes: Vec<bool> = Vec::new();
    let mut names: Vec<&[u16]> = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if is(i, b'\\') {
            if classes.is_empty() {
                if (is(i + 1, b'b') || is(i + 1, b'B')) && quantifier_at(units, i + 2) {
                    return true;
                }
            } else if sets && classes.contains(&true) {
                let strings = ["q{", "p{RGI_", "p{Basic_Emoji", "p{Emoji_Keycap_Sequence"];
                if strings.iter().any(|p| starts(i + 1, p)) {
                    return true;
                }
            }
            i += 2;
            continue;
        }
        if is(i, b'[') && (classes.is_empty() || sets) {
            classes.push(is(i + 1, b'^'));
        } else if is(i, b']') && !classes.is_empty() {
            classes.pop();
        } else if classes.is_empty() && is(i, b'(') && is(i + 1, b'?') {
            if [b'i', b'm', b's', b'-'].iter().any(|&c| is(i + 2, c)) {
                return true;
            }
            if is(i + 2, b'<') && !is(i + 3, b'=') && !is(i + 3, b'!') {
                let rest = &units[(i + 3).min(units.len())..];
                let name = &rest[..rest.iter().position(|&u| u == u16::from(b'>')).unwrap_or(0)];
                if names.contains(&name) {
                    return true;
                }
                names.push(name);
            }
        }
        i += 1;
    }
    false
}

/// Whether a quantifier starts at `i`.
fn quantifier_at(units: &[u16], i: usize) -> bool {
    let at = |i: usize| units.get(i).and_then(|&u| u8::try_from(u).ok());
    match at(i) {
        Some(b'?' | b'*' | b'+') => true,
        Some(b'{') => {
            let digits = |mut i: usize| {
                let start = i;
                while at(i).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                }
                (i > start, i)
            };
            let (some, mut j) = digits(i + 1);
            if !some {
                return false;
            }
            if at(j) == Some(b',') {
                j = digits(j + 1).1;
            }
            at(j) == Some(b'}')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(source: &str, flags: &str) -> bool {
        JsRegExp {
            source: source.into(),
            flags: RegExpFlags::parse(flags).unwrap(),
        }
        .is_valid()
    }

    #[test]
    fn refuses_what_some_supported_node_refuses() {
        for (bad, flags) in [
            ("[^\\q{ab}]", "v"),
            ("[^[\\q{ab}]--\\q{ab}]", "v"),
            ("[^[\\p{RGI_Emoji}--\\q{x}]]", "v"),
            ("(?<a>x)|(?<a>y)", ""),
            ("(?:(?<a>x)|(?<a>y))\\k<a>", ""),
            ("(?i:a)", ""),
            ("(?-i:a)", ""),
            ("(?ims-:a)", ""),
            ("(?s:.)", "u"),
        ] {
            assert!(!ok(bad, flags), "{bad} /{flags}");
        }
        for (good, flags) in [
            ("[\\q{ab}]", "v"),
            ("[^a]", "v"),
            ("(?<a>x)(?<b>y)\\k<a>", ""),
            ("(?:a)(?=b)(?!c)(?<=d)(?<!e)", ""),
            ("[(?i:]", ""),
        ] {
            assert!(ok(good, flags), "{good} /{flags}");
        }
    }

    #[test]
    fn agrees_with_v8_where_regress_alone_did_not() {
        for bad in ["\\b?", "\\B+", "a\\b{1,2}", "\\b*", "(?:\\B{3})"] {
            assert!(!ok(bad, ""), "{bad}");
        }
        // A class's `\b` is a backspace; `{` that is not a quantifier is a
        // literal without `u`.
        for good in ["[\\b]?", "\\b{", "\\b{a}", "\\b", "[[\\b]]+", "\\\\b?"] {
            assert!(ok(good, ""), "{good}");
        }
        assert!(ok("[[a]\\b]", "v"));
        assert!(!ok("[[a]]\\b+", "v"));
    }

    #[test]
    fn lone_surrogates_and_astral_code_points() {
        let units = [0xd800, u16::from(b'a'), 0xd83d, 0xde00];
        let re = JsRegExp {
            source: JsString::from_utf16(&units),
            flags: RegExpFlags::parse("").unwrap(),
        };
        assert!(re.is_valid());
    }

    #[test]
    fn long_sources_are_not_checked() {
        assert!(ok(&"a".repeat(MAX_CHECKED_SOURCE), "u"));
        assert!(!ok(&"a".repeat(MAX_CHECKED_SOURCE + 1), ""));
    }
}
