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
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
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
        || (lower.starts_with('/') && !lower.starts_with("//"))
        || lower.starts_with('#');
    ok.then(|| u.to_string())
}

/// Images load only from this site or inline data (no tracking pixels).
fn safe_image(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let ok = (lower.starts_with('/') && !lower.starts_with("//"))
        || (lower.starts_with("data:image/") && !lower.starts_with("data:image/svg"));
    ok.then(|| u.to_string())
}

/// Splits plain text into text and bare http(s) URLs (GFM autolinks).
fn linkify(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(pos) = rest
        .find("http://")
        .or_else(|| rest.find("https://"))
        .map(|p| {
            // the earliest of the two schemes
            match (rest.find("http://"), rest.find("https://")) {
                (Some(a), Some(b)) => a.min(b),
                _ => p,
            }
        })
    {
        let (before, from) = rest.split_at(pos);
        escape(before, out);
        let end = from
            .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
            .unwrap_or(from.len());
        let mut url = &from[..end];
        while url.ends_with(['.', ',', ')', ';', ':', '!', '?']) {
            url = &url[..url.len() - 1];
        }
        if url.len() <= "https://".len() {
            escape(&from[..end.max(1)], out);
            rest = &from[end.max(1)..];
            continue;
        }
        out.push_str("<a href=\"");
        escape(url, out);
        out.push_str("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
        escape(url, out);
        out.push_str("</a>");
        rest = &from[url.len()..];
    }
    escape(rest, out);
}

/// Longest TeX typeset (longer formulas are shown as TeX).
const MAX_TEX_CHARS: usize = 4_000;
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

/// TeX as MathML (rendered natively by the browser), or `None` when it is
/// too long, defines macros, or the output fails [`mathml_is_safe`].
pub fn typeset(tex: &str, display: bool) -> Option<String> {
    if tex.chars().count() > MAX_TEX_CHARS || MACRO_DEFINITIONS.iter().any(|d| tex.contains(d)) {
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

/// `$…$` / `$$…$$`: typeset, with the TeX as the accessible label's fallback
/// text when it cannot be.
fn math(tex: &str, display: bool, out: &mut String) {
    let (tag, class) = if display {
        ("div", "math math-display")
    } else {
        ("span", "math math-inline")
    };
    out.push_str(&format!("<{tag} class=\"{class}\">"));
    match typeset(tex, display) {
        Some(mathml) => out.push_str(&mathml),
        None => {
            out.push_str("<code class=\"math-tex\">");
            escape(tex, out);
            out.push_str("</code>");
        }
    }
    out.push_str(&format!("</{tag}>"));
}

pub fn render(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_MATH);
    let mut out = String::with_capacity(md.len() * 3 / 2);
    let mut in_code = false;
    let mut code_buf = String::new();
    let mut code_lang = String::new();
    let mut in_table_head = false;
    // Alt text of an image being rendered as a link (its URL is not allowed).
    let mut image_depth: Vec<bool> = vec![];
    for ev in Parser::new_ext(md, opts) {
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
                        CodeBlockKind::Fenced(l) => {
                            l.split_whitespace().next().unwrap_or("").to_string()
                        }
                        CodeBlockKind::Indented => String::new(),
                    };
                    out.push_str("<div class=\"code-block\"><div class=\"code-head\"><span class=\"code-lang\">");
                    escape(if lang.is_empty() { "text" } else { &lang }, &mut out);
                    out.push_str("</span><button type=\"button\" class=\"code-copy\" data-copy-code=\"\" aria-label=\"Copy code\">Copy</button></div><pre tabindex=\"0\"><code");
                    if !lang.is_empty() {
                        out.push_str(" class=\"language-");
                        let clean: String = lang
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '+')
                            .collect();
                        escape(&clean, &mut out);
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
                } => match safe_link(&dest_url) {
                    Some(u) => {
                        out.push_str("<a href=\"");
                        escape(&u, &mut out);
                        out.push('"');
                        if !title.is_empty() {
                            out.push_str(" title=\"");
                            escape(&title, &mut out);
                            out.push('"');
                        }
                        out.push_str(" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
                    }
                    None => out.push_str("<a>"),
                },
                Tag::Image { dest_url, .. } => match safe_image(&dest_url) {
                    Some(u) => {
                        out.push_str("<img src=\"");
                        escape(&u, &mut out);
                        out.push_str("\" alt=\"");
                        image_depth.push(true);
                    }
                    None => {
                        // Shown as a plain link to the address, never loaded.
                        out.push_str("<span class=\"blocked-image\">[image: ");
                        image_depth.push(false);
                    }
                },
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
                    crate::highlight::highlight(&code_lang, &code_buf, &mut out);
                    out.push_str("</code></pre></div>");
                }
                TagEnd::List(true) => out.push_str("</ol>"),
                TagEnd::List(false) => out.push_str("</ul>"),
                TagEnd::Item => out.push_str("</li>"),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</del>"),
                TagEnd::Link => out.push_str("</a>"),
                TagEnd::Image => match image_depth.pop() {
                    Some(true) => out.push_str("\" loading=\"lazy\">"),
                    _ => out.push_str("]</span>"),
                },
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
                    code_buf.push_str(&t);
                } else if !image_depth.is_empty() {
                    escape(&t, &mut out);
                } else {
                    linkify(&t, &mut out);
                }
            }
            Event::Code(t) => {
                out.push_str("<code>");
                escape(&t, &mut out);
                out.push_str("</code>");
            }
            Event::InlineMath(t) => math(&t, false, &mut out),
            Event::DisplayMath(t) => math(&t, true, &mut out),
            // Never interpreted: shown as the text the author typed.
            Event::Html(t) | Event::InlineHtml(t) => escape(&t, &mut out),
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br>"),
            Event::Rule => out.push_str("<hr>"),
            Event::TaskListMarker(done) => out.push_str(if done {
                "<input type=\"checkbox\" checked disabled> "
            } else {
                "<input type=\"checkbox\" disabled> "
            }),
            Event::FootnoteReference(t) => escape(&t, &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An XSS corpus: nothing here may produce a live tag, handler or URL.
    const CORPUS: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)><circle/></svg>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click]( javascript:alert(1))",
        "[click](java\tscript:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        "![x](javascript:alert(1))",
        "![x](https://evil.example/pixel.png)",
        "![x](data:image/svg+xml,<svg onload=alert(1)>)",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "[x](https://ok.example \"\\\" onmouseover=\\\"alert(1)\")",
        "```html\n<script>alert(1)</script>\n```",
        "`<b>inline</b>`",
        "$<img src=x onerror=alert(1)>$",
        "<div>\n\n*md*\n\n</div>",
        "[x]: javascript:alert(1)\n\n[x]",
        "<style>body{display:none}</style>",
    ];

    /// Every `<` in the output opens an allowed tag (text is escaped), no
    /// attribute is an event handler, and URLs are the allowed kinds.
    fn assert_inert(html: &str, src: &str) {
        const TAGS: &[&str] = &[
            "p",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "div",
            "span",
            "button",
            "pre",
            "code",
            "ol",
            "ul",
            "li",
            "em",
            "strong",
            "del",
            "a",
            "img",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
            "br",
            "hr",
            "input",
        ];
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            // Typeset math is checked by its own allowlist.
            if let Some(m) = rest[i..].strip_prefix("<math") {
                let close = m.find("</math>").expect("closed math");
                let math = &rest[i..i + 5 + close + 7];
                assert!(mathml_is_safe(math), "{src:?} produced {math}");
                assert!(
                    !math.contains("annotation") && !math.contains("<script"),
                    "{math}"
                );
                rest = &rest[i + math.len()..];
                continue;
            }
            let tag_end = rest[i..].find('>').map(|j| i + j).unwrap_or(rest.len());
            let tag = &rest[i + 1..tag_end];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            assert!(
                TAGS.contains(&name.as_str()),
                "{src:?} produced <{tag}>: {html}"
            );
            let lower = tag.to_ascii_lowercase();
            // Attribute names only: drop the quoted values (which are escaped).
            let names: String = lower.split('"').step_by(2).collect::<Vec<_>>().join(" ");
            for attr in names.split_whitespace().skip(1) {
                assert!(
                    !attr.starts_with("on"),
                    "{src:?} produced handler {attr}: {html}"
                );
            }
            for key in ["href=\"", "src=\""] {
                if let Some(k) = lower.find(key) {
                    let v = &lower[k + key.len()..];
                    let v = &v[..v.find('"').unwrap_or(v.len())];
                    let ok = v.starts_with("http://")
                        || v.starts_with("https://") && !v.contains("evil") && key == "href=\""
                        || v.starts_with("mailto:")
                        || (v.starts_with('/') && !v.starts_with("//"))
                        || (key == "src=\""
                            && v.starts_with("data:image/")
                            && !v.starts_with("data:image/svg"));
                    assert!(ok, "{src:?} produced {key}{v}: {html}");
                }
            }
            rest = &rest[tag_end.min(rest.len())..];
        }
    }

    #[test]
    fn the_xss_corpus_renders_inert() {
        for src in CORPUS {
            assert_inert(&render(src), src);
        }
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render("<b>bold</b> and <script>x</script>");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn gfm_features() {
        let html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n~~old~~ see https://mistral.ai.");
        assert!(
            html.contains("<table>") && html.contains("<th>a</th>") && html.contains("<td>2</td>"),
            "{html}"
        );
        assert!(html.contains("checkbox\" checked disabled"), "{html}");
        assert!(html.contains("<del>old</del>"), "{html}");
        assert!(html.contains("<a href=\"https://mistral.ai\""), "{html}");
        assert!(html.contains(">https://mistral.ai</a>."), "{html}");
    }

    #[test]
    fn code_blocks_keep_their_language_and_text() {
        let html = render("```rust\nfn main() { println!(\"<hi>\"); }\n```");
        assert!(html.contains("class=\"language-rust\""), "{html}");
        assert!(html.contains("&lt;hi&gt;"), "{html}");
        assert!(html.contains("data-copy-code"), "{html}");
        // Highlighted as one piece, escaped inside the token spans.
        assert!(html.contains("<span class=\"tok-k\">fn</span>"), "{html}");
        assert!(
            html.contains("<span class=\"tok-s\">&quot;&lt;hi&gt;&quot;</span>"),
            "{html}"
        );
        assert_inert(&html, "code");
        // A block comment split over lines stays one token; unknown languages get no spans.
        let html = render("```c\n/* a\n b */ int x;\n```");
        assert!(
            html.contains("<span class=\"tok-c\">/* a\n b */</span>"),
            "{html}"
        );
        let html = render("```klingon\nfn x\n```");
        assert!(!html.contains("tok-"), "{html}");
    }

    #[test]
    fn math_is_typeset_as_mathml() {
        let html = render("Euler: $e^{i\\pi}+1=0$\n\n$$\\int_0^1 x\\,dx = \\frac{1}{2}$$");
        assert!(
            html.contains("<span class=\"math math-inline\"><math"),
            "{html}"
        );
        assert!(
            html.contains("<div class=\"math math-display\"><math display=\"block\""),
            "{html}"
        );
        assert!(html.contains("<mfrac>"), "{html}");
        assert!(
            html.contains("<mi>π</mi>") || html.contains(">π<"),
            "{html}"
        );
        assert_inert(&html, "math");
    }

    #[test]
    fn hostile_tex_stays_inert() {
        for tex in [
            "$\\text{<script>alert(1)</script>}$",
            "$x</annotation><script>alert(1)</script>$",
            "$\\href{javascript:alert(1)}{x}$",
            "$\\color{red\" onmouseover=\"alert(1)}{x}$",
            "$\\mathrm{<img src=x onerror=alert(1)>}$",
            "$$\\def\\a{\\b\\b}\\def\\b{\\c\\c}\\a$$",
            "$\\newcommand{\\x}{\\x\\x}\\x$",
            "$\\unknowncommand{x}$",
            "$\\frac{1}{$",
        ] {
            let html = render(tex);
            assert_inert(&html, tex);
            assert!(!html.contains("<script"), "{tex}: {html}");
        }
        // Macro definitions are not expanded: shown as TeX.
        let html = render("$\\def\\a{x}\\a$");
        assert!(
            html.contains("<code class=\"math-tex\">\\def\\a{x}\\a</code>"),
            "{html}"
        );
        assert_eq!(typeset(&"x+".repeat(3_000), false), None, "too long");
    }

    #[test]
    fn the_mathml_allowlist_rejects_unknown_markup() {
        assert!(mathml_is_safe(
            "<math><mi mathvariant=\"bold\">x</mi></math>"
        ));
        assert!(!mathml_is_safe("<math><a href=\"/x\">x</a></math>"));
        assert!(!mathml_is_safe("<math><mi onclick=\"x\">x</mi></math>"));
        assert!(!mathml_is_safe(
            "<math><mi style=\"background:url(x)\">x</mi></math>"
        ));
        assert!(!mathml_is_safe("<math><mi style=unquoted>x</mi></math>"));
        assert!(!mathml_is_safe("<math><mi"));
    }

    #[test]
    fn own_images_and_data_uris_load() {
        assert!(render("![chart](/api/files/abc)").contains("<img src=\"/api/files/abc\""));
        assert!(render("![dot](data:image/png;base64,iVBOR)")
            .contains("<img src=\"data:image/png;base64,iVBOR\""));
        assert!(!render("![x](https://evil.example/p.png)").contains("<img"));
    }
}
