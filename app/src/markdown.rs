//! Markdown to safe HTML, the same on the server and in the browser.
//!
//! CommonMark plus GFM tables, task lists, strikethrough and autolinks, fenced
//! code (with a language class and a copy button) and `$…$` / `$$…$$` math.
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

pub fn render(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_MATH);
    let mut out = String::with_capacity(md.len() * 3 / 2);
    let mut in_code = false;
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
                if in_code || !image_depth.is_empty() {
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
            Event::InlineMath(t) => {
                out.push_str("<span class=\"math math-inline\">");
                escape(&t, &mut out);
                out.push_str("</span>");
            }
            Event::DisplayMath(t) => {
                out.push_str("<div class=\"math math-display\">");
                escape(&t, &mut out);
                out.push_str("</div>");
            }
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
    }

    #[test]
    fn math_is_marked_up() {
        let html = render("Euler: $e^{i\\pi}+1=0$\n\n$$\\int_0^1 x\\,dx$$");
        assert!(
            html.contains("<span class=\"math math-inline\">e^{i\\pi}+1=0</span>"),
            "{html}"
        );
        assert!(html.contains("<div class=\"math math-display\">"), "{html}");
    }

    #[test]
    fn own_images_and_data_uris_load() {
        assert!(render("![chart](/api/files/abc)").contains("<img src=\"/api/files/abc\""));
        assert!(render("![dot](data:image/png;base64,iVBOR)")
            .contains("<img src=\"data:image/png;base64,iVBOR\""));
        assert!(!render("![x](https://evil.example/p.png)").contains("<img"));
    }
}
