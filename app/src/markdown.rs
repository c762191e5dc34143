//! Markdown to safe HTML, the same on the server and in the browser.
//!
//! CommonMark plus GFM tables, task lists, strikethrough and autolinks, fenced
//! code (highlighted by [`crate::highlight`], with a language class and a copy
//! button) and `$…$` / `$$…$$` math typeset as MathML (checked against an
//! allowlist).
//! Safety is by construction: every piece of text is escaped, raw HTML from
//! the model or the user is shown as text, link targets are limited to
//! http(s)/mailto/relative URLs, and images only load from this server or
//! `data:image/…` URIs (anything else becomes a link). The output is the only
//! HTML the UI injects.
//!
//! A message that is still streaming is rendered piece by piece
//! ([`IncrementalMarkdown`], in `incremental.rs`) with the same result.
use crate::highlight::escape;
use pulldown_cmark::{BrokenLink, CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

mod incremental;
pub use incremental::{finished_blocks_end, IncrementalMarkdown, Patch};

/// Opens a citation mark in text handed to the renderer: `CITE_OPEN`
/// `<anchor>:<n>` `CITE_CLOSE` becomes the superscript link `n` to
/// `#src-<anchor>-<n>` (the answer's Sources list). Private-use characters
/// that the generation strips from everything Mistral sends, so only a
/// citation the server recorded ([`with_citations`]) becomes a marker.
pub const CITE_OPEN: char = '\u{E000}';
/// Closes a citation mark (see [`CITE_OPEN`]).
pub const CITE_CLOSE: char = '\u{E001}';

/// `text` with a citation mark for every `(at, n)` of `marks` (`at` in
/// characters, ascending or not), for an answer whose Sources list carries
/// ids `src-<anchor>-<n>`. A mark that would start a line moves back to the
/// end of the text before it, so it never changes what the line is (a list
/// item, a heading); marks past the end go at the end.
pub fn with_citations(text: &str, marks: &[(u32, u32)], anchor: &str) -> String {
    if marks.is_empty() {
        return text.to_string();
    }
    let anchor: String = anchor
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut marks = marks.to_vec();
    marks.sort();
    // Byte offsets of the character positions.
    let mut out = String::with_capacity(text.len() + marks.len() * (anchor.len() + 8));
    let mut next = marks.iter().peekable();
    let mut pending: Vec<u32> = vec![];
    let mark = |n: u32, out: &mut String| {
        out.push(CITE_OPEN);
        out.push_str(&anchor);
        out.push(':');
        out.push_str(&n.to_string());
        out.push(CITE_CLOSE);
    };
    let flush = |pending: &mut Vec<u32>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        // Back over the line breaks and spaces that end the text so far.
        let keep = out.trim_end_matches(['\n', '\r', ' ', '\t']).len();
        let line_start = out[..keep].rfind('\n').map_or(0, |i| i + 1);
        let line = out[line_start..keep].trim_start();
        if keep == 0 || line.starts_with("```") || line.starts_with("~~~") {
            // At the very start, or after a code fence (a mark would break
            // the fence): a paragraph of its own.
            if keep > 0 {
                while !out.ends_with("\n\n") {
                    out.push('\n');
                }
            }
            for n in pending.drain(..) {
                mark(n, out);
            }
            out.push_str("\n\n");
            return;
        }
        // After a table row: inside its last cell, so the table goes on.
        let at = if line.starts_with('|') && line.ends_with('|') && line.len() > 1 {
            out[..keep - 1].trim_end_matches([' ', '\t']).len()
        } else {
            keep
        };
        let tail = out.split_off(at);
        for n in pending.drain(..) {
            mark(n, out);
        }
        out.push_str(&tail);
    };
    for (i, c) in text.chars().enumerate() {
        while let Some((at, n)) = next.peek() {
            if *at as usize > i {
                break;
            }
            pending.push(*n);
            next.next();
        }
        flush(&mut pending, &mut out);
        out.push(c);
    }
    pending.extend(next.map(|(_, n)| *n));
    flush(&mut pending, &mut out);
    out
}

/// Writes `text` (plain text, outside code and links) with its citation
/// marks as superscript links; the rest through `plain`. A malformed mark
/// is dropped.
fn write_cited(text: &str, out: &mut String, plain: fn(&str, &mut String)) {
    let mut rest = text;
    while let Some(open) = rest.find(CITE_OPEN) {
        plain(&rest[..open], out);
        let after = &rest[open + CITE_OPEN.len_utf8()..];
        let Some(close) = after.find(CITE_CLOSE) else {
            rest = after;
            continue;
        };
        if let Some((anchor, n)) = after[..close].rsplit_once(':') {
            let anchor_ok = !anchor.is_empty()
                && anchor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            let n_ok = !n.is_empty() && n.len() <= 4 && n.chars().all(|c| c.is_ascii_digit());
            if anchor_ok && n_ok {
                out.push_str("<sup class=\"cite\"><a href=\"#src-");
                out.push_str(anchor);
                out.push('-');
                out.push_str(n);
                out.push_str("\" data-cite=\"");
                out.push_str(n);
                out.push_str("\" aria-label=\"Source ");
                out.push_str(n);
                out.push_str("\">");
                out.push_str(n);
                out.push_str("</a></sup>");
            }
        }
        rest = &after[close + CITE_CLOSE.len_utf8()..];
    }
    plain(rest, out);
}

/// `s` without citation marks (inside code, links and attributes).
fn without_marks(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(CITE_OPEN) && !s.contains(CITE_CLOSE) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut inside = false;
    for c in s.chars() {
        match c {
            CITE_OPEN => inside = true,
            CITE_CLOSE => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A link target that cannot run script: http(s), mailto, or site-relative.
pub fn safe_link(url: &str) -> Option<String> {
    let u = url.trim();
    let lower: String = u
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (lower.starts_with('/') && !lower.starts_with("//") && !lower.starts_with("/\\"))
        || lower.starts_with('#');
    ok.then(|| u.to_string())
}

/// Images load only from this site or inline data (no tracking pixels).
fn safe_image(url: &str) -> Option<String> {
    let u = url.trim();
    // As the browser reads it: tabs and newlines inside a URL are dropped.
    let lower: String = u
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    // `//host` and `/\host` are other sites.
    let ok = (lower.starts_with('/') && !lower.starts_with("//") && !lower.starts_with("/\\"))
        || (lower.starts_with("data:image/") && !lower.starts_with("data:image/svg"));
    ok.then(|| u.to_string())
}

/// Splits plain text into text and bare http(s) URLs (GFM autolinks) in one
/// forward pass: a URL is scanned once, to its end, and the scan resumes
/// after it, so the cost is linear in the text whatever it holds.
fn linkify(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    // Start of the text not written yet.
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        // `h` is ASCII, so `i` is a character boundary wherever it matches.
        let scheme = if bytes[i] != b'h' {
            0
        } else if text[i..].starts_with("https://") {
            "https://".len()
        } else if text[i..].starts_with("http://") {
            "http://".len()
        } else {
            0
        };
        if scheme == 0 {
            i += 1;
            continue;
        }
        let from = &text[i..];
        let end = from
            .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
            .unwrap_or(from.len());
        let mut url = &from[..end];
        while url.ends_with(['.', ',', ')', ';', ':', '!', '?']) {
            url = &url[..url.len() - 1];
        }
        if url.len() <= scheme {
            // A bare scheme (perhaps with punctuation): text. Nothing in it can
            // start another URL, so the scan goes on after it.
            i += end;
            continue;
        }
        escape(&text[plain..i], out);
        out.push_str("<a href=\"");
        escape(url, out);
        out.push_str("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
        escape(url, out);
        out.push_str("</a>");
        i += url.len();
        plain = i;
    }
    escape(&text[plain..], out);
}

/// Longest TeX typeset (longer formulas are shown as TeX).
const MAX_TEX_CHARS: usize = 4_000;
/// Deepest `{…}` nesting typeset: the typesetter rescans a group for each
/// level it is nested in (quadratic), and real formulas nest a few levels.
const MAX_TEX_NESTING: usize = 32;
/// Macro definitions can expand exponentially: such TeX is shown as TeX.
const MACRO_DEFINITIONS: &[&str] = &[
    "\\def",
    "\\gdef",
    "\\edef",
    "\\xdef",
    "\\let",
    "\\newcommand",
    "\\renewcommand",
    "\\providecommand",
    "\\futurelet",
    "\\expandafter",
];

/// The MathML elements the typesetter may produce.
pub const MATHML_TAGS: &[&str] = &[
    "math",
    "semantics",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "msub",
    "msup",
    "msubsup",
    "munder",
    "mover",
    "munderover",
    "mfrac",
    "msqrt",
    "mroot",
    "mstyle",
    "merror",
    "mpadded",
    "mphantom",
    "mtable",
    "mtr",
    "mtd",
    "menclose",
    "mmultiscripts",
    "mprescripts",
    "none",
];
/// …and the attributes (presentation only: no links, no handlers).
const MATHML_ATTRS: &[&str] = &[
    "display",
    "displaystyle",
    "scriptlevel",
    "style",
    "class",
    "mathvariant",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "minsize",
    "maxsize",
    "symmetric",
    "movablelimits",
    "accent",
    "accentunder",
    "largeop",
    "linethickness",
    "width",
    "height",
    "depth",
    "voffset",
    "columnalign",
    "rowalign",
    "columnspacing",
    "rowspacing",
    "columnlines",
    "rowlines",
    "frame",
    "notation",
    "form",
    "xmlns",
    "mathcolor",
    "mathbackground",
];

/// Checks generated MathML against the allowlists: every tag and attribute
/// known, every value double-quoted and free of `url(`, `javascript:` and
/// markup. Anything unexpected fails (the TeX is then shown as text).
fn mathml_is_safe(html: &str) -> bool {
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let Some(end) = after.find('>') else {
            return false;
        };
        let tag = &after[..end];
        let tag = tag.strip_prefix('/').unwrap_or(tag);
        let tag = tag.strip_suffix('/').unwrap_or(tag);
        let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        if !MATHML_TAGS.contains(&name) {
            return false;
        }
        loop {
            attrs = attrs.trim_start_matches(' ');
            if attrs.is_empty() {
                break;
            }
            let Some((attr, value_and_rest)) = attrs.split_once("=\"") else {
                return false;
            };
            let Some((value, after_value)) = value_and_rest.split_once('"') else {
                return false;
            };
            let v = value.to_ascii_lowercase();
            if !MATHML_ATTRS.contains(&attr)
                || v.contains("url(")
                || v.contains("javascript")
                || v.contains(['<', '\\', '&'])
            {
                return false;
            }
            attrs = after_value;
        }
        rest = &after[end + 1..];
    }
    true
}

/// The deepest nesting of `{…}` groups in `tex` (`\\{` is a character, not a group).
fn brace_depth(tex: &str) -> usize {
    let (mut depth, mut deepest, mut escaped) = (0usize, 0usize, false);
    for c in tex.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// TeX as MathML (rendered natively by the browser), or `None` when it is
/// too long, defines macros, or the output fails [`mathml_is_safe`].
pub fn typeset(tex: &str, display: bool) -> Option<String> {
    if tex.chars().count() > MAX_TEX_CHARS
        || MACRO_DEFINITIONS.iter().any(|d| tex.contains(d))
        || brace_depth(tex) > MAX_TEX_NESTING
    {
        return None;
    }
    use pulldown_latex::config::DisplayMode;
    let storage = pulldown_latex::Storage::new();
    let parser = pulldown_latex::Parser::new(tex, &storage);
    // No annotation: the crate writes it without escaping.
    let config = pulldown_latex::RenderConfig {
        display_mode: if display {
            DisplayMode::Block
        } else {
            DisplayMode::Inline
        },
        annotation: None,
        ..Default::default()
    };
    let mut mathml = String::new();
    pulldown_latex::push_mathml(&mut mathml, parser, config).ok()?;
    mathml_is_safe(&mathml).then_some(mathml)
}

/// Formulas typeset per message; later ones are shown as TeX. Typesetting
/// costs far more per character than the rest of the renderer, so this keeps
/// a message of thousands of tiny formulas (`$a$a$a…`) as cheap as prose.
const MAX_TYPESET_FORMULAS: usize = 1_000;

/// `$…$` / `$$…$$`: typeset while `budget` lasts, else (or when it cannot be
/// typeset) shown as TeX.
fn math(tex: &str, display: bool, budget: &mut usize, out: &mut String) {
    let (tag, class) = if display {
        ("div", "math math-display")
    } else {
        ("span", "math math-inline")
    };
    out.push_str(&format!("<{tag} class=\"{class}\">"));
    let typeset = if *budget > 0 {
        *budget -= 1;
        typeset(tex, display)
    } else {
        None
    };
    match typeset {
        Some(mathml) => out.push_str(&mathml),
        None => {
            out.push_str("<code class=\"math-tex\">");
            escape(tex, out);
            out.push_str("</code>");
        }
    }
    out.push_str(&format!("</{tag}>"));
}

/// An image being written: its alt text is collected until the image ends.
struct OpenImage {
    /// `<img alt="…">` (true) or the text of a blocked image (false).
    loaded: bool,
    /// Images nested in its alt text, itself included.
    depth: usize,
}

/// Whose text is rendered: the one difference is what a single newline means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Model answers: CommonMark, a single newline is a space.
    Answer,
    /// What the user typed: a single newline (Shift+Enter) is a line break.
    User,
}

fn options() -> Options {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_MATH);
    opts
}

/// Markdown to HTML that is safe to inject (see the module comment).
pub fn render(md: &str) -> String {
    render_as(md, Flavor::Answer)
}

/// A user's message: like [`render`], but every newline is kept.
pub fn render_user(md: &str) -> String {
    render_as(md, Flavor::User)
}

/// [`render`] or [`render_user`].
pub fn render_as(md: &str, flavor: Flavor) -> String {
    let mut out = String::with_capacity(md.len() * 3 / 2);
    let mut formulas_left = MAX_TYPESET_FORMULAS;
    render_piece(
        md,
        flavor,
        &Definitions::new(),
        &mut formulas_left,
        &mut out,
    );
    out
}

/// Link reference definitions (`[label]: url "title"`) by normalised label.
type Definitions = std::collections::HashMap<String, (String, String)>;

/// A label as CommonMark matches it: case-folded, inner whitespace collapsed.
fn normalize_label(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Resolves references a piece does not define from `known`.
fn resolver<'a>(
    known: &Definitions,
) -> impl FnMut(BrokenLink<'a>) -> Option<(CowStr<'a>, CowStr<'a>)> + '_ {
    move |link| {
        known
            .get(&normalize_label(&link.reference))
            .map(|(url, title)| (url.clone().into(), title.clone().into()))
    }
}

/// Renders `md` into `out` as one document, except that references it does
/// not define itself are looked up in `known` (definitions made earlier in
/// the same message) and that typesetting draws on the message's shared
/// `formulas_left`. Returns the definitions `md` makes.
fn render_piece(
    md: &str,
    flavor: Flavor,
    known: &Definitions,
    formulas_left: &mut usize,
    out: &mut String,
) -> Definitions {
    let parser = Parser::new_with_broken_link_callback(md, options(), Some(resolver(known)));
    let defined = parser
        .reference_definitions()
        .iter()
        .map(|(label, def)| {
            let title = def.title.as_deref().unwrap_or_default().to_string();
            (normalize_label(label), (def.dest.to_string(), title))
        })
        .collect();
    write_html(parser, flavor, formulas_left, out);
    defined
}

/// The HTML of parsed markdown (see the module comment for what is allowed).
fn write_html<'a>(
    events: impl Iterator<Item = Event<'a>>,
    flavor: Flavor,
    formulas_left: &mut usize,
    out: &mut String,
) {
    let mut in_code = false;
    let mut code_buf = String::new();
    let mut code_lang = String::new();
    let mut in_table_head = false;
    // Inside a link, text is not linkified again (no link in a link).
    let mut link_depth = 0usize;
    // The image whose alt text is being written, if any.
    let mut image: Option<OpenImage> = None;
    for ev in events {
        // Inside an image everything is alt text, an attribute value (or the
        // text of a blocked image): each nested event adds escaped plain text
        // and never markup, whatever it is and however deep.
        if let Some(open) = image.as_mut() {
            match ev {
                Event::Start(Tag::Image { .. }) => open.depth += 1,
                Event::End(TagEnd::Image) => {
                    open.depth -= 1;
                    if open.depth == 0 {
                        out.push_str(if open.loaded {
                            "\" loading=\"lazy\">"
                        } else {
                            "]</span>"
                        });
                        image = None;
                    }
                }
                Event::Text(t)
                | Event::Code(t)
                | Event::InlineMath(t)
                | Event::DisplayMath(t)
                | Event::Html(t)
                | Event::InlineHtml(t)
                | Event::FootnoteReference(t) => escape(&t, out),
                Event::SoftBreak | Event::HardBreak => out.push(' '),
                // Nested links, emphasis, … contribute only their text.
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Start(tag) => match tag {
                Tag::Paragraph => out.push_str("<p>"),
                Tag::Heading { level, .. } => {
                    out.push_str(&format!("<{}>", level));
                }
                Tag::BlockQuote(_) => out.push_str("<blockquote>"),
                Tag::CodeBlock(kind) => {
                    in_code = true;
                    code_buf.clear();
                    let lang = match kind {
                        CodeBlockKind::Fenced(l) => without_marks(&l)
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                        CodeBlockKind::Indented => String::new(),
                    };
                    out.push_str("<div class=\"code-block\"><div class=\"code-head\"><span class=\"code-lang\">");
                    escape(if lang.is_empty() { "text" } else { &lang }, out);
                    out.push_str("</span><button type=\"button\" class=\"code-copy\" data-copy-code=\"\" aria-label=\"Copy code\">Copy</button></div><pre tabindex=\"0\"><code");
                    if !lang.is_empty() {
                        out.push_str(" class=\"language-");
                        let clean: String = lang
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '+')
                            .collect();
                        escape(&clean, out);
                        out.push('"');
                    }
                    out.push('>');
                    code_lang = lang;
                }
                Tag::List(Some(start)) => {
                    if start == 1 {
                        out.push_str("<ol>");
                    } else {
                        out.push_str(&format!("<ol start=\"{start}\">"));
                    }
                }
                Tag::List(None) => out.push_str("<ul>"),
                Tag::Item => out.push_str("<li>"),
                Tag::Emphasis => out.push_str("<em>"),
                Tag::Strong => out.push_str("<strong>"),
                Tag::Strikethrough => out.push_str("<del>"),
                Tag::Link {
                    dest_url, title, ..
                } => {
                    link_depth += 1;
                    match safe_link(&dest_url) {
                        Some(u) => {
                            out.push_str("<a href=\"");
                            escape(&u, out);
                            out.push('"');
                            if !title.is_empty() {
                                out.push_str(" title=\"");
                                escape(&title, out);
                                out.push('"');
                            }
                            out.push_str(" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
                        }
                        None => out.push_str("<a>"),
                    }
                }
                Tag::Image { dest_url, .. } => {
                    let loaded = match safe_image(&dest_url) {
                        Some(u) => {
                            out.push_str("<img src=\"");
                            escape(&u, out);
                            out.push_str("\" alt=\"");
                            true
                        }
                        None => {
                            // Never loaded: its alt text is shown, as text.
                            out.push_str("<span class=\"blocked-image\">[image: ");
                            false
                        }
                    };
                    image = Some(OpenImage { loaded, depth: 1 });
                }
                Tag::Table(_) => out.push_str("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table>"),
                Tag::TableHead => {
                    in_table_head = true;
                    out.push_str("<thead><tr>");
                }
                Tag::TableRow => out.push_str("<tr>"),
                Tag::TableCell => out.push_str(if in_table_head { "<th>" } else { "<td>" }),
                // Raw HTML blocks are shown as text.
                Tag::HtmlBlock => out.push_str("<p>"),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => out.push_str("</p>"),
                TagEnd::Heading(level) => out.push_str(&format!("</{}>", level)),
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>"),
                TagEnd::CodeBlock => {
                    in_code = false;
                    crate::highlight::highlight(&code_lang, &code_buf, out);
                    out.push_str("</code></pre></div>");
                }
                TagEnd::List(true) => out.push_str("</ol>"),
                TagEnd::List(false) => out.push_str("</ul>"),
                TagEnd::Item => out.push_str("</li>"),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</del>"),
                TagEnd::Link => {
                    link_depth = link_depth.saturating_sub(1);
                    out.push_str("</a>");
                }
                TagEnd::Table => out.push_str("</tbody></table></div>"),
                TagEnd::TableHead => {
                    in_table_head = false;
                    out.push_str("</tr></thead><tbody>");
                }
                TagEnd::TableRow => out.push_str("</tr>"),
                TagEnd::TableCell => out.push_str(if in_table_head { "</th>" } else { "</td>" }),
                TagEnd::HtmlBlock => out.push_str("</p>"),
                _ => {}
            },
            Event::Text(t) => {
                if in_code {
                    // Highlighted as a whole at the end of the block.
                    code_buf.push_str(&without_marks(&t));
                } else if link_depth > 0 {
                    escape(&without_marks(&t), out);
                } else if flavor == Flavor::Answer {
                    write_cited(&t, out, linkify);
                } else {
                    linkify(&without_marks(&t), out);
                }
            }
            Event::Code(t) => {
                out.push_str("<code>");
                escape(&without_marks(&t), out);
                out.push_str("</code>");
            }
            Event::InlineMath(t) => math(&t, false, formulas_left, out),
            Event::DisplayMath(t) => math(&t, true, formulas_left, out),
            // Never interpreted: shown as the text the author typed.
            Event::Html(t) | Event::InlineHtml(t) => match flavor {
                Flavor::Answer => write_cited(&t, out, escape),
                Flavor::User => escape(&without_marks(&t), out),
            },
            Event::SoftBreak => match flavor {
                Flavor::Answer => out.push('\n'),
                Flavor::User => out.push_str("<br>"),
            },
            Event::HardBreak => out.push_str("<br>"),
            Event::Rule => out.push_str("<hr>"),
            Event::TaskListMarker(done) => out.push_str(if done {
                "<input type=\"checkbox\" checked disabled> "
            } else {
                "<input type=\"checkbox\" disabled> "
            }),
            Event::FootnoteReference(t) => escape(&t, out),
        }
    }
}

#[cfg(test)]
mod tests;
