//! A small hand-written syntax highlighter for fenced code blocks.
//!
//! [`highlight`] escapes every character and wraps tokens in
//! `<span class="tok-X">…</span>`: spans never nest and no other markup is
//! produced. One table-driven lexer covers most languages; HTML/XML, CSS and
//! diffs have small routines of their own. Everything runs in linear time and
//! slices the input only next to ASCII bytes, so any UTF-8 is safe.

const UPPER_TYPES: u32 = 1; // `Foo` is a type
const HASH_ATTR: u32 = 1 << 1; // `#[…]` attributes
const AT_ATTR: u32 = 1 << 2; // `@name` decorators / annotations
const DIRECTIVE: u32 = 1 << 3; // `#include` at the start of a line
const DOLLAR: u32 = 1 << 4; // `$var`, also inside "strings"
const NOCASE: u32 = 1 << 5; // case-insensitive keywords
const RUST: u32 = 1 << 6; // char literals vs lifetimes, raw strings, macros
const PREFIX: u32 = 1 << 7; // Python string prefixes: r"…", b'…', f"…"
const CPP_RAW: u32 = 1 << 8; // R"delim(…)delim"
const VERBATIM: u32 = 1 << 9; // C# @"…"
const TRIPLE: u32 = 1 << 10; // """…"""
const WORD_COMMENT: u32 = 1 << 11; // a line comment needs whitespace before it
const KEY_COLON: u32 = 1 << 12; // `"key":` is a key
const YAML: u32 = 1 << 13; // `key:` at the start of a line
const TOML: u32 = 1 << 14; // `key =` and `[section]` at the start of a line

/// What the generic lexer needs to know about a language.
struct Lang {
    line: &'static [&'static str],
    block: Option<(&'static str, &'static str)>,
    /// Quotes whose strings have backslash escapes…
    quotes: &'static [u8],
    /// …and quotes whose strings do not.
    raw: &'static [u8],
    flags: u32,
    /// Space-separated word lists.
    kw: &'static [&'static str],
    consts: &'static str,
}

#[derive(Clone, Copy)]
enum Kind {
    Gen(&'static Lang),
    Html,
    Css,
    Diff,
}

const C_BLOCK: Option<(&str, &str)> = Some(("/*", "*/"));
const SLASH: &[&str] = &["//"];
const HASH: &[&str] = &["#"];

const RUST_KW: &str = "as async await break const continue crate dyn else enum extern fn for if \
    impl in let loop match mod move mut pub ref return static struct super trait type unsafe use \
    where while yield union macro_rules";
const PY_KW: &str = "and as assert async await break class continue def del elif else except \
    finally for from global if import in is lambda nonlocal not or pass raise return try while \
    with yield match case";
const JS_KW: &str = "async await break case catch class const continue debugger default delete \
    do else export extends finally for from function if import in instanceof let new of return \
    static super switch throw try typeof var void while with yield";
const TS_KW: &str = "interface type enum implements namespace declare abstract private protected \
    public readonly keyof as is infer satisfies";
const JS_CONST: &str = "true false null undefined this NaN Infinity";
const TS_CONST: &str = "true false null undefined this NaN Infinity any unknown never string \
    number boolean object void";
const SH_KW: &str = "if then else elif fi for while until do done case esac in function return \
    local export select break continue declare readonly unset shift exit source alias";
const GO_KW: &str = "break case chan const continue default defer else fallthrough for func go \
    goto if import interface map package range return select struct switch type var";
const GO_CONST: &str = "true false nil iota int int64 uint uint8 float64 string bool byte rune \
    error any";
const C_KW: &str = "auto break case char const continue default do double else enum extern float \
    for goto if inline int long register restrict return short signed sizeof static struct \
    switch typedef union unsigned void volatile while bool";
const CPP_KW: &str = "alignas alignof catch class constexpr decltype delete explicit friend \
    mutable namespace new noexcept operator private protected public template throw try typename \
    using virtual override final concept requires co_await co_return co_yield";
const C_CONST: &str = "NULL nullptr true false this";
const JAVA_KW: &str = "abstract assert boolean break byte case catch char class const continue \
    default do double else enum extends final finally float for if implements import instanceof \
    int interface long native new package private protected public return short static switch \
    synchronized throw throws transient try void volatile while var record sealed permits yield";
const KT_KW: &str = "as break class continue do else for fun if in interface is object package \
    return throw try typealias val var when while by catch constructor companion data enum final \
    finally import init inline internal lateinit open operator override private protected public \
    sealed suspend vararg where";
const CS_KW: &str = "abstract as async await bool break byte case catch char class const \
    continue decimal default delegate do double else enum event explicit extern finally fixed \
    float for foreach get goto if implicit in init int interface internal is lock long namespace \
    new object operator out override params private protected public readonly record ref return \
    sealed set short sizeof static string struct switch throw try typeof uint ulong using var \
    virtual void when where while yield";
const SWIFT_KW: &str = "associatedtype async await break case catch class continue default defer \
    deinit do else enum extension fallthrough fileprivate for func guard if import in init inout \
    internal is let mutating open operator private protocol public repeat rethrows return some \
    static struct subscript switch throw throws try typealias var where while any";
const SQL_KW: &str = "select from where and or not insert into values update set delete create \
    table drop alter add index primary key foreign references join left right inner outer full \
    cross on as group by order having limit offset distinct union all exists in is like between \
    case when then else end begin commit rollback view with returning default unique check \
    constraint if asc desc";
const SQL_CONST: &str = "null true false int integer bigint text varchar char boolean date \
    timestamp serial real float numeric blob";
const PHP_KW: &str = "abstract and array as break case catch class clone const continue default \
    do echo else elseif empty extends final finally fn for foreach function global if implements \
    include instanceof interface isset list match namespace new or print private protected \
    public readonly require require_once return static switch throw trait try unset use var \
    while xor yield";
const RUBY_KW: &str = "alias and begin break case class def do else elsif end ensure for if in \
    module next not or redo rescue retry return super then undef unless until when while yield \
    require";
const BOOLS: &str = "true false null";

#[rustfmt::skip]
const fn lang(
    line: &'static [&'static str], block: Option<(&'static str, &'static str)>, quotes: &'static [u8],
    raw: &'static [u8], flags: u32, kw: &'static [&'static str], consts: &'static str,
) -> Lang {
    Lang { line, block, quotes, raw, flags, kw, consts }
}

/// Names and aliases → how to highlight. `lang(line comments, block comment,
/// escaped quotes, raw quotes, flags, keyword lists, types and constants)`.
#[rustfmt::skip]
const LANGS: &[(&[&str], Kind)] = &[
    (&["rust", "rs"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"", b"", UPPER_TYPES | HASH_ATTR | RUST, &[RUST_KW], "true false self Self None Some Ok Err"))),
    (&["python", "py"], Kind::Gen(&lang(HASH, None, b"\"'", b"", TRIPLE | PREFIX | AT_ATTR, &[PY_KW], "True False None self cls"))),
    (&["javascript", "js", "jsx", "mjs", "cjs"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'`", b"", AT_ATTR, &[JS_KW], JS_CONST))),
    (&["typescript", "ts", "tsx"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'`", b"", AT_ATTR | UPPER_TYPES, &[JS_KW, TS_KW], TS_CONST))),
    (&["json", "jsonc"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"", b"", KEY_COLON, &[], BOOLS))),
    (&["bash", "sh", "shell", "zsh", "console"], Kind::Gen(&lang(HASH, None, b"\"`", b"'", DOLLAR | WORD_COMMENT, &[SH_KW], "true false"))),
    (&["go", "golang"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'", b"`", UPPER_TYPES, &[GO_KW], GO_CONST))),
    (&["c", "h"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'", b"", DIRECTIVE, &[C_KW], C_CONST))),
    (&["cpp", "c++", "cc", "hpp", "cxx"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'", b"", DIRECTIVE | CPP_RAW, &[C_KW, CPP_KW], C_CONST))),
    (&["java"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'", b"", UPPER_TYPES | AT_ATTR | TRIPLE, &[JAVA_KW], "true false null this super"))),
    (&["kotlin", "kt"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'", b"", UPPER_TYPES | AT_ATTR | TRIPLE, &[KT_KW], "true false null this super it"))),
    (&["csharp", "cs", "c#"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"'", b"", UPPER_TYPES | DIRECTIVE | VERBATIM | TRIPLE, &[CS_KW], "true false null this base"))),
    (&["swift"], Kind::Gen(&lang(SLASH, C_BLOCK, b"\"", b"", UPPER_TYPES | AT_ATTR | TRIPLE, &[SWIFT_KW], "true false nil self Self super"))),
    (&["sql"], Kind::Gen(&lang(&["--"], C_BLOCK, b"", b"'\"`", NOCASE, &[SQL_KW], SQL_CONST))),
    (&["yaml", "yml"], Kind::Gen(&lang(HASH, None, b"\"", b"'", KEY_COLON | YAML | WORD_COMMENT | NOCASE, &[], "true false null yes no on off"))),
    (&["toml", "ini"], Kind::Gen(&lang(&["#", ";"], None, b"\"", b"'", TOML | TRIPLE | WORD_COMMENT, &[], "true false"))),
    (&["php"], Kind::Gen(&lang(&["//", "#"], C_BLOCK, b"\"'`", b"", DOLLAR | HASH_ATTR | NOCASE, &[PHP_KW], "true false null self parent"))),
    (&["ruby", "rb"], Kind::Gen(&lang(HASH, None, b"\"'`", b"", 0, &[RUBY_KW], "true false nil self"))),
    (&["html", "xml", "svg", "vue"], Kind::Html),
    (&["css", "scss"], Kind::Css),
    (&["diff", "patch"], Kind::Diff),
];

fn kind(lang: &str) -> Option<Kind> {
    let lang = lang.trim();
    let known = |(names, _): &&(&[&str], Kind)| names.iter().any(|n| n.eq_ignore_ascii_case(lang));
    LANGS.iter().find(known).map(|(_, k)| *k)
}

/// Whether `lang` (case-insensitive, aliases included) is highlighted.
pub fn is_supported(lang: &str) -> bool {
    kind(lang).is_some()
}

/// Appends `code` to `out` as HTML: every character escaped (& < > " ' →
/// &amp; &lt; &gt; &quot; &#39;), with tokens wrapped in
/// `<span class="tok-X">…</span>`. Unknown or empty `lang` → escaped text only.
pub fn highlight(lang: &str, code: &str, out: &mut String) {
    out.reserve(code.len() + code.len() / 2);
    match kind(lang) {
        None => escape(code, out),
        Some(Kind::Gen(l)) => generic(l, code, out),
        Some(Kind::Html) => html(code, out),
        Some(Kind::Css) => css(code, out),
        Some(Kind::Diff) => diff(code, out),
    }
}

/// Appends `s` to `out` with `& < > " '` escaped: text for HTML content
/// and quoted attribute values (the markdown renderer and page titles too).
pub(crate) fn escape(s: &str, out: &mut String) {
    let mut last = 0;
    for (i, c) in s.bytes().enumerate() {
        let rep = match c {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// The output, and where the pending plain text starts.
struct Out<'a> {
    s: &'a str,
    out: &'a mut String,
    plain: usize,
}

impl Out<'_> {
    fn flush(&mut self, to: usize) {
        if to > self.plain {
            escape(&self.s[self.plain..to], self.out);
            self.plain = to;
        }
    }

    /// Emits `s[start..end]` as a `tok-{cls}` span (left as plain text if
    /// `cls` is empty) after the plain text before it; returns `end`.
    fn tok(&mut self, cls: &str, start: usize, end: usize) -> usize {
        if !cls.is_empty() && end > start {
            self.flush(start);
            self.out.push_str("<span class=\"tok-");
            self.out.push_str(cls);
            self.out.push_str("\">");
            self.flush(end);
            self.out.push_str("</span>");
        }
        end
    }

    /// Scans a string whose body starts at `j` up to `close` (which it
    /// includes), emitting the `$var`s inside it if `dollar`; returns the start
    /// of its last piece (still to emit) and its end.
    fn string(
        &mut self,
        start: usize,
        mut j: usize,
        close: &[u8],
        esc: bool,
        dollar: bool,
    ) -> (usize, usize) {
        let (b, mut start) = (self.s.as_bytes(), start);
        while j < b.len() {
            if esc && b[j] == b'\\' {
                j += 2;
            } else if b[j..].starts_with(close) {
                return (start, j + close.len());
            } else if dollar && b[j] == b'$' && var_end(b, j) > j + 1 {
                self.tok("s", start, j);
                (start, j) = (self.tok("v", j, var_end(b, j)), var_end(b, j));
            } else {
                j += 1;
            }
        }
        (start, b.len())
    }

    fn finish(mut self) {
        self.flush(self.s.len());
    }
}

// Token boundaries are always next to an ASCII byte (identifiers swallow
// every non-ASCII byte), so slicing `s` there never splits a character.
fn char_len(b: u8) -> usize {
    match b {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}
fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}
fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}
fn skip(b: &[u8], mut j: usize, what: impl Fn(u8) -> bool) -> usize {
    while j < b.len() && what(b[j]) {
        j += 1;
    }
    j
}
fn ident_end(b: &[u8], j: usize) -> usize {
    skip(b, j, is_ident)
}
fn blanks_end(b: &[u8], j: usize) -> usize {
    skip(b, j, |c| c == b' ' || c == b'\t')
}
fn line_end(b: &[u8], j: usize) -> usize {
    skip(b, j, |c| c != b'\n')
}
/// The end of the first `close` at or after `from`, or the end of the input.
fn find_end(s: &str, from: usize, close: &str) -> usize {
    let from = from.min(s.len());
    s[from..]
        .find(close)
        .map_or(s.len(), |p| from + p + close.len())
}
fn number_end(b: &[u8], i: usize) -> usize {
    let hex = b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            c if c.is_ascii_alphanumeric() || c == b'_' => j += 1,
            b'.' if b.get(j + 1).is_some_and(u8::is_ascii_digit) => j += 2,
            b'+' | b'-' if !hex && matches!(b[j - 1], b'e' | b'E') => j += 1,
            _ => break,
        }
    }
    j
}
/// The end of a shell/PHP variable at `b[j] == b'$'` (`j + 1` if there is none).
fn var_end(b: &[u8], j: usize) -> usize {
    match b.get(j + 1) {
        Some(b'{') => {
            let k = skip(b, j + 2, |c| c != b'}' && c != b'\n');
            k + usize::from(b.get(k) == Some(&b'}'))
        }
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => ident_end(b, j + 1),
        Some(c) if b"@*#?$!-".contains(c) || c.is_ascii_digit() => j + 2,
        _ => j + 1,
    }
}
/// The end of a `#[…]` attribute (brackets nest).
fn bracket_end(b: &[u8], i: usize) -> usize {
    let mut depth = 0;
    for (k, &c) in b.iter().enumerate().skip(i) {
        match c {
            b'[' => depth += 1,
            b']' if depth <= 1 => return k + 1,
            b']' => depth -= 1,
            _ => {}
        }
    }
    b.len()
}

/// A YAML `key:`, TOML/INI `key =` or `[section]` at the start of a line: (class, end).
fn line_key(b: &[u8], i: usize, yaml: bool) -> Option<(&'static str, usize)> {
    if !yaml && b[i] == b'[' {
        let line = &b[i..line_end(b, i)];
        return line
            .iter()
            .rposition(|&c| c == b']')
            .map(|p| ("t", i + p + 1));
    } else if !is_ident(b[i]) {
        return None;
    }
    let j = skip(b, i, |c| !b":=#\"'\n".contains(&c));
    let ok = match b.get(j) {
        Some(b':') => yaml && matches!(b.get(j + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n')),
        Some(b'=') => !yaml,
        _ => false,
    };
    let key = std::str::from_utf8(&b[i..j]).map_or(0, |k| k.trim_end().len());
    ok.then_some(("v", i + key))
}

/// A string literal opened by the word `w` ending at `e` (`r#"…"#`, `b'…'`,
/// `f"…"`, `R"d(…)d"`): (body start, closing delimiter, backslash escapes).
fn prefixed(l: &Lang, s: &str, e: usize, w: &str) -> Option<(usize, String, bool)> {
    let (b, has) = (s.as_bytes(), |f: u32| l.flags & f != 0);
    let after = *b.get(e)?;
    let py = has(PREFIX) && l.quotes.contains(&after) && w.len() <= 2;
    if has(RUST) && matches!(w, "r" | "br" | "cr") {
        let h = b[e..].iter().take(256).take_while(|&&c| c == b'#').count();
        (b.get(e + h) == Some(&b'"')).then(|| (e + h + 1, format!("\"{}", &s[e..e + h]), false))
    } else if (has(RUST) && matches!(w, "b" | "c") && matches!(after, b'"' | b'\''))
        || (py && w.bytes().all(|c| b"rbfuRBFU".contains(&c)))
    {
        let q = if has(TRIPLE) && b[e..].starts_with(&[after; 3]) {
            3
        } else {
            1
        };
        Some((e + q, s[e..e + q].to_string(), true))
    } else if has(CPP_RAW) && matches!(w, "R" | "u8R" | "LR" | "uR" | "UR") && after == b'"' {
        let d = b[e + 1..]
            .iter()
            .take(17)
            .position(|c| b"( )\\\t\r\n\"".contains(c))?;
        (b[e + 1 + d] == b'(').then(|| (e + d + 2, format!("){}\"", &s[e + 1..e + 1 + d]), false))
    } else {
        None
    }
}

fn generic(l: &Lang, s: &str, out: &mut String) {
    let (b, n) = (s.as_bytes(), s.len());
    let has = |f: u32| l.flags & f != 0;
    let word_is = |list: &str, w: &str| {
        w.len() < 16
            && list
                .split(' ')
                .any(|k| k == w || (has(NOCASE) && k.eq_ignore_ascii_case(w)))
    };
    let key_sep = [(KEY_COLON, b':'), (TOML, b'=')]
        .into_iter()
        .find(|&(f, _)| has(f))
        .map(|(_, c)| c);
    let mut o = Out { s, out, plain: 0 };
    let (mut i, mut bol) = (0, true);
    while i < n {
        let c = b[i];
        if c.is_ascii_whitespace() {
            bol |= c == b'\n';
            i += 1;
            continue;
        }
        let at_bol = std::mem::replace(&mut bol, false);
        let (rest, next) = (&b[i..], b.get(i + 1).copied().unwrap_or(0));
        let (cls, start, end) = if has(HASH_ATTR)
            && (rest.starts_with(b"#[") || rest.starts_with(b"#!["))
        {
            ("a", i, bracket_end(b, i))
        } else if let Some((open, close)) = l
            .block
            .filter(|(open, _)| rest.starts_with(open.as_bytes()))
        {
            ("c", i, find_end(s, i + open.len(), close))
        } else if l.line.iter().any(|m| rest.starts_with(m.as_bytes()))
            && (!has(WORD_COMMENT) || i == 0 || b[i - 1].is_ascii_whitespace())
        {
            ("c", i, line_end(b, i))
        } else if has(DIRECTIVE) && at_bol && c == b'#' {
            let k = blanks_end(b, i + 1);
            let e = o.tok("k", i, ident_end(b, k));
            let j = blanks_end(b, e);
            let include = matches!(&s[k..e], "include" | "import") && b.get(j) == Some(&b'<');
            let close = b[j..line_end(b, j)]
                .iter()
                .position(|&c| c == b'>')
                .filter(|_| include);
            close.map_or(("", e, e), |p| ("s", j, j + p + 1))
        } else if has(YAML)
            && at_bol
            && c == b'-'
            && matches!(next, 0 | b' ' | b'\t' | b'\r' | b'\n')
        {
            bol = true; // `- key: value`
            ("", i, i + 1)
        } else if let Some((cls, e)) = (at_bol && has(YAML | TOML))
            .then(|| line_key(b, i, has(YAML)))
            .flatten()
        {
            (cls, i, e)
        } else if has(RUST) && c == b'\'' {
            let k = i + 1 + char_len(next);
            if next == b'\\' {
                ("s", i, o.string(i, i + 1, b"'", true, false).1)
            } else if i + 1 < n && b.get(k) == Some(&b'\'') {
                ("s", i, k + 1)
            } else {
                ("", i, ident_end(b, i + 1)) // a lifetime or label
            }
        } else if has(VERBATIM) && c == b'@' && next == b'"' {
            ("s", i, o.string(i, i + 2, b"\"", false, false).1)
        } else if (l.quotes.contains(&c) || l.raw.contains(&c))
            && !(has(YAML | TOML) && i > 0 && is_ident(b[i - 1]))
        {
            let q = 1 + 2 * usize::from(has(TRIPLE) && rest.starts_with(&[c; 3]));
            let (esc, dollar) = (l.quotes.contains(&c), has(DOLLAR) && c == b'"');
            let (piece, e) = o.string(i, i + q, &rest[..q], esc, dollar);
            let key = key_sep.is_some() && b.get(blanks_end(b, e)).copied() == key_sep;
            (if key { "v" } else { "s" }, piece, e)
        } else if has(DOLLAR) && c == b'$' && var_end(b, i) > i + 1 {
            ("v", i, var_end(b, i))
        } else if has(AT_ATTR)
            && c == b'@'
            && next.is_ascii_alphabetic()
            && !(i > 0 && is_ident(b[i - 1]))
        {
            let mut e = ident_end(b, i + 1);
            while e + 1 < n && b[e] == b'.' && b[e + 1].is_ascii_alphabetic() {
                e = ident_end(b, e + 1);
            }
            ("a", i, e)
        } else if c.is_ascii_digit() {
            ("n", i, number_end(b, i))
        } else if is_ident_start(c) {
            let e = ident_end(b, i);
            let (w, after) = (&s[i..e], b.get(e).copied().unwrap_or(0));
            if let Some((body, close, esc)) = prefixed(l, s, e, w) {
                ("s", i, o.string(i, body, close.as_bytes(), esc, false).1)
            } else if l.kw.iter().any(|list| word_is(list, w)) {
                ("k", i, e)
            } else if word_is(l.consts, w)
                || (has(UPPER_TYPES) && c.is_ascii_uppercase() && after != b'(')
            {
                ("t", i, e)
            } else if after == b'(' || (has(RUST) && after == b'!' && b.get(e + 1) != Some(&b'=')) {
                ("f", i, e)
            } else {
                ("", i, e)
            }
        } else {
            ("", i, i + char_len(c))
        };
        i = o.tok(cls, start, end);
    }
    o.finish();
}

fn html(s: &str, out: &mut String) {
    let (b, n) = (s.as_bytes(), s.len());
    let mut o = Out { s, out, plain: 0 };
    let mut i = 0;
    while i < n {
        let closing = b.get(i + 1) == Some(&b'/');
        let j = i + 1 + usize::from(closing || matches!(b.get(i + 1), Some(b'!' | b'?')));
        if b[i..].starts_with(b"<!--") {
            i = o.tok("c", i, find_end(s, i + 4, "-->"));
            continue;
        } else if b[i] != b'<' || !b.get(j).is_some_and(u8::is_ascii_alphabetic) {
            i += char_len(b[i]);
            continue;
        }
        let name_end = skip(b, j, |c| c.is_ascii_alphanumeric() || b"-_:.".contains(&c));
        let mut k = o.tok("p", j, name_end);
        let name = &s[j..k];
        let (mut value, mut opened) = (false, false);
        while k < n && b[k] != b'<' {
            let c = b[k];
            if c == b'>' {
                (k, opened) = (k + 1, b[k - 1] != b'/');
                break;
            } else if c == b'"' || c == b'\'' {
                let e = b[k + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .map_or(n, |p| k + p + 2);
                k = o.tok("s", k, e);
            } else if c.is_ascii_whitespace() || b"/?=".contains(&c) {
                k += 1;
            } else {
                let e = skip(b, k, |c| {
                    !c.is_ascii_whitespace() && !b"=<>/\"'".contains(&c)
                });
                k = o.tok(if value { "s" } else { "a" }, k, e);
            }
            value = c == b'=' || (value && c.is_ascii_whitespace());
        }
        i = k;
        // The contents of <script> and <style> are highlighted as JS and CSS.
        let inner = ["script", "style"]
            .into_iter()
            .find(|t| t.eq_ignore_ascii_case(name));
        if let (Some(tag), true, false) = (inner, opened, closing) {
            let is_end = |p: &usize| {
                b[p + 2..]
                    .get(..tag.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(tag.as_bytes()))
            };
            let end = s[i..]
                .match_indices("</")
                .map(|(p, _)| i + p)
                .find(is_end)
                .unwrap_or(n);
            o.flush(i);
            let lang = if tag == "script" { "js" } else { "css" };
            highlight(lang, &s[i..end], o.out);
            (o.plain, i) = (end, end);
        }
    }
    o.finish();
}

fn css(s: &str, out: &mut String) {
    let (b, n) = (s.as_bytes(), s.len());
    let mut o = Out { s, out, plain: 0 };
    let (mut i, mut seg_end, mut selector, mut value) = (0, 0, false, false);
    let word = |j| skip(b, j, |c| is_ident(c) || c == b'-');
    let sel_end = |j| {
        skip(b, j, |c| {
            !c.is_ascii_whitespace() && !b",{};/\"'>+~".contains(&c)
        })
    };
    while i < n {
        if i >= seg_end {
            // A segment runs to the next `{`, `}` or `;`: a selector if that is `{`.
            let j = skip(b, i, |c| !b"{};".contains(&c));
            (seg_end, selector, value) = (j + 1, b.get(j) == Some(&b'{'), false);
        }
        let (c, next) = (b[i], b.get(i + 1).copied().unwrap_or(0));
        let (cls, e) = if b[i..].starts_with(b"/*") {
            ("c", find_end(s, i + 2, "*/"))
        } else if b[i..].starts_with(b"//") && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            ("c", line_end(b, i))
        } else if c == b'"' || c == b'\'' {
            ("s", o.string(i, i + 1, &[c], true, false).1)
        } else if (c == b'@' || c == b'!') && next.is_ascii_alphabetic() {
            (selector, value) = (selector && c == b'!', true); // `@media …`, `!important`
            ("k", word(i + 1))
        } else if c == b'$' && is_ident_start(next) {
            ("v", word(i + 1))
        } else if selector && sel_end(i) > i {
            ("p", sel_end(i))
        } else if !selector && !value && c == b':' {
            value = true;
            ("", i + 1)
        } else if !selector
            && (is_ident_start(c) || (c == b'-' && (next == b'-' || next.is_ascii_alphabetic())))
        {
            let e = word(i);
            let cls = match (value, b.get(e)) {
                (false, _) => "p",
                (true, Some(b'(')) => "f",
                _ => "",
            };
            (cls, e)
        } else if value
            && (c.is_ascii_digit() || (c == b'.' || c == b'#') && next.is_ascii_alphanumeric())
        {
            let e = number_end(b, i);
            ("n", e + usize::from(b.get(e) == Some(&b'%')))
        } else {
            ("", i + char_len(c))
        };
        i = o.tok(cls, i, e);
    }
    o.finish();
}

fn diff(s: &str, out: &mut String) {
    let b = s.as_bytes();
    let mut o = Out { s, out, plain: 0 };
    let (mut i, mut in_hunk) = (0, false);
    while i < b.len() {
        let e = line_end(b, i);
        let line = &b[i..e];
        let header = line.starts_with(b"diff ") || line.starts_with(b"index ");
        in_hunk = (in_hunk && !header) || line.starts_with(b"@@");
        let cls =
            if header || (!in_hunk && (line.starts_with(b"--- ") || line.starts_with(b"+++ "))) {
                "k"
            } else if in_hunk && line.starts_with(b"@@") {
                "f"
            } else {
                match line.first() {
                    Some(b'+') => "ins",
                    Some(b'-') => "del",
                    _ => "",
                }
            };
        i = o.tok(cls, i, e) + 1;
    }
    o.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[(&str, &str)] = &[
        ("rust", "#[derive(Debug)]\nfn main<'a>() { let s = r#\"x\"#; println!(\"{}\", 'c'); } // end\n/* b */"),
        ("python", "@dataclass\ndef f(x):\n    \"\"\"doc\"\"\"\n    return rb'\\x' if x else None  # c"),
        ("js", "const a = `t ${x}`; /* c */ function f() { return 'a' + 1.5e-3; }"),
        ("ts", "interface Foo { x: number }\nconst y: Foo = make<Bar>(\"s\");"),
        ("json", "{\"a\": [1, 2.5, -3e2], \"b\": {\"c\": null, \"d\": \"x\\\"y\"}, \"e\": true}"),
        ("bash", "#!/bin/sh\nif [ -n \"$HOME/${USER}\" ]; then echo 'a$b' $1 # c\nfi"),
        ("go", "package main\nfunc main() { fmt.Println(`raw\\`, nil, 0x1F) }"),
        ("c", "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 'x'); return NULL; }"),
        ("cpp", "auto s = R\"d(a)\"b)d\"; template<class T> class X : public Y {};"),
        ("java", "@Override\npublic String toString() { return \"\"\"\n  text\"\"\"; }"),
        ("kotlin", "data class P(val x: Int)\nfun main() = println(\"$x\")"),
        ("csharp", "#region r\nvar s = @\"C:\\\"\"x\"; Console.WriteLine($\"{s}\");"),
        ("swift", "@State var x: Int = nil\nfunc f() -> Self { \"\"\"\nmulti\"\"\" }"),
        ("sql", "SELECT id, 'it''s' FROM t WHERE x IS NULL -- c\n/* b */ INSERT INTO t VALUES (1);"),
        ("html", "<!DOCTYPE html><div class=\"a\" id=b data-x='y'>t &amp; <br/><!-- c --><script>let x = '</div>';</script><style>a { color: red }</style></div>"),
        ("css", "@media (max-width: 600px) { .a > b:hover, #c { color: #fff !important; margin: -1.5em 0 } }\n// x\n/* c */ $v: 10%;"),
        ("yaml", "# c\nkey: value\n- name: \"x\"\n  n: 1 # c\nflag: true\nit's: don't"),
        ("toml", "[sec]\nkey = \"v\" # c\n\"q k\" = '''lit'''\n[[arr]]\nx = 1979-05-27\n; ini"),
        ("diff", "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n--- removed\n ctx"),
        ("php", "<?php #[Attr] function f($a) { echo \"hi $a {$b}\"; # c\n}"),
        ("ruby", "def f(x) # c\n  puts \"#{x}\" unless nil\nend"),
    ];
    #[rustfmt::skip]
    const ADVERSARIAL: &[&str] = &[
        "</span><script>alert(1)</script>", "\"unterminated", "/* open", "'", "`", "#[", "#![[",
        "${", "$", "@", "<", "</", "<a b='", "<!--", "r#\"", "r###", "R\"x(", "\"\"\"", "'\\", "b'",
        "🦀 字 é e\u{301} \u{200d}", "x = \"🦀\\", "'é'", "'🦀", "a\r\nb\r\n", "", "\\", "\"\\",
        "x: 'é\n", "- ", "[", "@@", "+", "#", "#include <", "$\u{e9}", "1e", "0x", ".5", "{{{}}};;",
    ];

    fn hl(lang: &str, code: &str) -> String {
        let mut out = String::new();
        highlight(lang, code, &mut out);
        out
    }

    /// Removes the spans and unescapes, checking the output is only escaped text and flat spans.
    fn strip(html: &str) -> String {
        const CLASSES: &[&str] = &["k", "s", "c", "n", "t", "f", "a", "p", "ins", "del", "v"];
        const ENTITIES: &[(&str, char)] = &[
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
        ];
        let (mut text, mut rest, mut open) = (String::new(), html, false);
        while let Some(c) = rest.chars().next() {
            if let Some(r) = rest.strip_prefix("</span>") {
                assert!(open, "stray </span> in {html}");
                (open, rest) = (false, r);
            } else if let Some(r) = rest.strip_prefix("<span class=\"tok-") {
                let (cls, r) = r.split_once("\">").expect("span tag");
                assert!(
                    !open && CLASSES.contains(&cls),
                    "bad span {cls:?} in {html}"
                );
                assert!(!r.starts_with("</span>"), "empty span in {html}");
                (open, rest) = (true, r);
            } else if let Some((e, ch)) = ENTITIES.iter().find(|(e, _)| rest.starts_with(e)) {
                text.push(*ch);
                rest = &rest[e.len()..];
            } else {
                assert!(!"<>&\"'".contains(c), "raw {c:?} in {html}");
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        assert!(!open, "unclosed span in {html}");
        text
    }

    /// Checks the whole output for `marked`: the code with its expected spans
    /// written `‹k|fn›` for `<span class="tok-k">fn</span>`.
    #[track_caller]
    fn check(lang: &str, marked: &str) {
        let (mut code, mut want, mut rest) = (String::new(), String::new(), marked);
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            match c {
                '‹' => {
                    let (cls, r) = rest.split_once('|').unwrap();
                    want += &format!("<span class=\"tok-{cls}\">");
                    rest = r;
                }
                '›' => want += "</span>",
                _ => {
                    code.push(c);
                    escape(c.encode_utf8(&mut [0; 4]), &mut want);
                }
            }
        }
        assert_eq!(hl(lang, &code), want, "{lang}");
    }

    #[test]
    fn round_trip_on_samples_and_adversarial_input() {
        let langs = LANGS.iter().flat_map(|(names, _)| names.iter().copied());
        for lang in langs.chain(["", "text", "nope"]) {
            for &code in ADVERSARIAL.iter().chain(SAMPLES.iter().map(|(_, c)| c)) {
                assert_eq!(strip(&hl(lang, code)), code, "lang {lang:?}");
            }
        }
    }

    #[test]
    fn round_trip_on_random_input() {
        #[rustfmt::skip]
        const PIECES: &[&str] = &[
            "\"", "'", "`", "/*", "*/", "//", "#", "#[", "]", "$", "${", "}", "@", "<", ">", "</",
            "\n", "\r\n", "\\", "é", "字", "🦀", "e\u{301}", "r#\"", "\"#", "\"\"\"", "0x1f", "1e-5",
            "fn", "x(", "{", ";", ":", "-", "+", "=", " ", "<!--", "-->", "R\"x(", ")x\"", "'a'",
            "a", "Foo", "@@", "[s]", "- ", "<script>", "</script>", "!important", "&",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for (names, _) in LANGS {
            for _ in 0..300 {
                let mut code = String::new();
                for _ in 0..seed % 40 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    code.push_str(PIECES[(seed >> 32) as usize % PIECES.len()]);
                }
                assert_eq!(strip(&hl(names[0], &code)), code, "lang {}", names[0]);
            }
        }
    }

    #[test]
    fn large_inputs_are_fine() {
        let code: String = SAMPLES.iter().map(|(_, c)| format!("{c}\n")).collect();
        let code = code.repeat(200);
        assert_eq!(strip(&hl("rust", &code)), code);
        for p in ["#[", "${", "'", "\"", "/*", "<!--", "- [a\n", "é"] {
            let code = p.repeat(200_000 / p.len());
            for (names, _) in LANGS {
                assert!(hl(names[0], &code).len() >= code.len());
            }
        }
    }

    #[test]
    fn rust_tokens() {
        check(
            "rust",
            "‹k|fn› ‹f|main›() { ‹k|let› x = ‹s|\"a\"›; ‹c|// hi›",
        );
        check("rs", "‹a|#[derive(Debug)]›\n‹k|struct› ‹t|S›<'a>(&'static ‹t|Vec›<u8>, ‹s|'x'›, ‹s|r#\"q\"\"#›);");
        check(
            "rs",
            "‹n|0x1F› ‹s|b\"\\\"\"› ‹f|println›!() ‹t|None› ‹t|Some›(‹n|1.5e-3›)",
        );
    }

    #[test]
    fn other_languages_tokens() {
        check(
            "py",
            "‹a|@app.route›\n‹k|def› ‹f|f›(): ‹c|# c›\n    ‹k|return› ‹s|'''x\n'''›, ‹t|None›",
        );
        check("go", "fmt.‹f|Println›(‹s|`\\`›) ‹c|// c›");
        check("c", "‹k|#include› ‹s|<a.h>›\n‹k|int› x = ‹s|'y'›;");
        check("sql", "‹k|select› * ‹k|FROM› t ‹c|-- c›");
        check("ts", "‹k|let› x: ‹t|Foo› = ‹k|new› ‹t|Bar›<‹t|T›>()");
        check("cs", "‹k|var› s = ‹s|@\"C:\\\"›; ‹t|Console›.‹f|Write›(s);");
    }

    #[test]
    fn json_yaml_toml_keys() {
        check(
            "json",
            "{‹v|\"a\"› : ‹n|1›, ‹v|\"b\"›: ‹s|\"x\"›, ‹v|\"c\"›: [‹t|true›, ‹t|null›]}",
        );
        check(
            "yml",
            "‹v|name›: x ‹c|# c›\n- ‹v|id›: ‹n|2›\n‹v|url›: http://a#b\nit's: ok",
        );
        check(
            "toml",
            "‹t|[dep]›\n‹v|serde› = { version = ‹s|\"1\"› } ‹c|# c›",
        );
    }

    #[test]
    fn diff_lines() {
        check(
            "diff",
            "‹k|--- a/f›\n‹k|+++ b/f›\n‹f|@@ -1 +1 @@›\n‹del|-b›\n‹ins|+a›\n same\n‹del|--- x›",
        );
        check("patch", "‹ins|+a›\n‹del|-b›");
    }

    #[test]
    fn html_and_css_tokens() {
        check(
            "html",
            "<‹p|div› ‹a|class›=‹s|\"x\"› ‹a|id›=‹s|y›>a &amp; b</‹p|div›>‹c|<!-- c -->›",
        );
        check("xml", "<‹p|script›>‹k|if› (‹n|1›) {}</‹p|script›><‹p|style›>‹p|a› { ‹p|b›: ‹n|1px› }</‹p|style›>");
        check(
            "css",
            "‹p|.a› { ‹p|color›: ‹n|#fff› ‹k|!important›; ‹p|width›: ‹f|calc›(‹n|1px›); }",
        );
    }

    #[test]
    fn bash_variables_and_comments() {
        check(
            "sh",
            "echo ‹v|$HOME› ‹s|\"a ›‹v|${X}›‹s| b\"› ‹s|'no $Y'› a#b ‹c|# c›",
        );
    }

    #[test]
    fn unknown_language_is_plain_and_aliases_work() {
        check("", "fn <a> & \"'");
        check("klingon", "fn x()");
        check("JS", "‹t|null›");
        for lang in [
            "RS", " Python ", "JSX", "c++", "C#", "golang", "yml", "svg", "scss", "rb",
        ] {
            assert!(is_supported(lang), "{lang}");
        }
        for lang in ["", "text", "plaintext", "rustx"] {
            assert!(!is_supported(lang), "{lang}");
        }
    }
}
