//! Tests of the markdown renderer: examples, a generated XSS corpus and a
//! property test checked with a real HTML parser, and cost on hostile input.
use super::*;

/// The HTML elements the renderer writes (MathML aside).
pub(super) const TAGS: &[&str] = &[
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
    "sup",
];

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
                    // A citation marker: a fragment of this page.
                    || (key == "href=\""
                        && v.starts_with("#src-")
                        && v[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
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
    // Deep nesting costs the typesetter quadratic time: shown as TeX.
    let deep = |n: usize| format!("{}x{}", "{".repeat(n), "}".repeat(n));
    assert_eq!(typeset(&deep(MAX_TEX_NESTING + 1), false), None, "too deep");
    assert!(typeset(&deep(MAX_TEX_NESTING), false).is_some());
    assert!(typeset(&format!("{}x", "\\{".repeat(100)), false).is_some());
}

#[test]
fn formulas_past_the_budget_are_shown_as_tex() {
    let html = render(&"$x$ ".repeat(MAX_TYPESET_FORMULAS + 2));
    assert_eq!(
        html.matches("<math").count(),
        MAX_TYPESET_FORMULAS,
        "typeset"
    );
    assert_eq!(
        html.matches("<code class=\"math-tex\">x</code>").count(),
        2,
        "the rest as TeX"
    );
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

// ---------------------------------------------------------------------------
// Parser-based checks: the output is read back by a real HTML5 parser (the
// same algorithm a browser uses for `inner_html`), so an attribute ended early
// by a quote, a tag opened inside an attribute or a handler shows up as the
// element or attribute the browser would really create.
// ---------------------------------------------------------------------------

/// The attributes each element may carry, exactly as the renderer writes them.
fn allowed_attrs(element: &str) -> &'static [&'static str] {
    match element {
        "a" => &["href", "title", "rel", "target", "data-cite", "aria-label"],
        "sup" => &["class"],
        "img" => &["src", "alt", "loading"],
        "div" => &["class", "tabindex", "role", "aria-label"],
        "span" | "code" => &["class"],
        "button" => &["type", "class", "data-copy-code", "aria-label"],
        "pre" => &["tabindex"],
        "ol" => &["start"],
        "input" => &["type", "checked", "disabled"],
        e if MATHML_TAGS.contains(&e) => MATHML_ATTRS,
        _ => &[],
    }
}

/// Class values the renderer writes (`language-…` and `tok-…` are checked by prefix).
const CLASSES: &[&str] = &[
    "code-block",
    "code-head",
    "code-lang",
    "code-copy",
    "table-wrap",
    "blocked-image",
    "math math-inline",
    "math math-display",
    "math-tex",
    "cite",
];

/// Pieces of markup only the renderer writes: seen in text, they mean a tag of
/// ours was swallowed into an attribute or turned into text by a stray quote.
const OWN_MARKUP: &[&str] = &["loading=", "noopener", "class=\"", "aria-label=", "</a>"];

/// What the browser does to a URL attribute before it looks at the scheme:
/// strips leading/trailing C0 controls and spaces, and removes tabs and
/// newlines anywhere.
fn browser_url(value: &str) -> String {
    value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Elements written without an end tag.
const VOID: &[&str] = &["br", "hr", "img", "input"];

/// The tags of `html` balance: every element opened is closed, in order, and
/// nothing is closed that was not opened here. The output is injected inside
/// the message's container, so a stray `</div>` would end it early and let the
/// rest lay itself over the page (and break hydration). Text and attribute
/// values are escaped, so every `<` starts a tag of ours.
fn tags_balance(html: &str) -> Result<(), String> {
    let mut open: Vec<&str> = vec![];
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').ok_or("unterminated tag")?;
        let tag = &after[..end];
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            }
        } else {
            let name = tag.split([' ', '/']).next().unwrap_or("");
            if !VOID.contains(&name) && !tag.ends_with('/') {
                open.push(name);
            }
        }
        rest = &after[end + 1..];
    }
    match open.last() {
        Some(name) => Err(format!("<{name}> left open")),
        None => Ok(()),
    }
}

/// Parses `html` as a body fragment and checks every element and attribute;
/// panics with the markdown source and the HTML on the first problem.
pub(super) fn assert_safe_html(html: &str, src: &str) {
    use scraper::node::Node;
    let fail = |what: String| -> ! { panic!("{what}\nmarkdown: {src:?}\nhtml: {html}") };
    if let Err(e) = tags_balance(html) {
        fail(format!("unbalanced: {e}"));
    }
    let fragment = scraper::Html::parse_fragment(html);
    for node in fragment.tree.nodes() {
        match node.value() {
            Node::Text(text) => {
                for own in OWN_MARKUP {
                    if text.contains(own) && !src.contains(own) {
                        fail(format!(
                            "renderer markup {own:?} ended up in text {:?}",
                            &**text
                        ));
                    }
                }
            }
            Node::Comment(c) => fail(format!("comment {:?}", &**c)),
            Node::ProcessingInstruction(_) | Node::Doctype(_) => fail("doctype/PI".into()),
            Node::Element(el) => {
                let name = el.name();
                // The fragment parser's own wrappers (`<html>`, and the
                // context `<body>`) sit above everything the renderer wrote.
                let wrapper = node.ancestors().all(|a| match a.value() {
                    Node::Element(e) => e.name() == "html",
                    _ => true,
                });
                if wrapper && (name == "html" || name == "body") {
                    if let Some((attr, _)) = el.attrs().next() {
                        fail(format!("attribute {attr} reached the <{name}> wrapper"));
                    }
                    continue;
                }
                if !TAGS.contains(&name) && !MATHML_TAGS.contains(&name) {
                    fail(format!("element <{name}> outside the allowlist"));
                }
                let allowed = allowed_attrs(name);
                for (attr, value) in el.attrs() {
                    if attr.starts_with("on") {
                        fail(format!("handler {attr}={value:?} on <{name}>"));
                    }
                    if !allowed.contains(&attr) {
                        fail(format!(
                            "attribute {attr}={value:?} not allowed on <{name}>"
                        ));
                    }
                    let url = browser_url(value);
                    let ok = match attr {
                        "href" => {
                            (url.starts_with("https://")
                                || url.starts_with("http://")
                                || url.starts_with("mailto:")
                                || url.starts_with('#')
                                || url.starts_with('/'))
                                && !url.starts_with("//")
                                && !url.starts_with("/\\")
                        }
                        "src" => {
                            (url.starts_with('/')
                                && !url.starts_with("//")
                                && !url.starts_with("/\\"))
                                || (url.starts_with("data:image/")
                                    && !url.starts_with("data:image/svg"))
                        }
                        "rel" => value == "noopener noreferrer nofollow",
                        "target" => value == "_blank",
                        "loading" => value == "lazy",
                        "type" => {
                            (name == "button" && value == "button")
                                || (name == "input" && value == "checkbox")
                        }
                        "checked" | "disabled" | "data-copy-code" => value.is_empty(),
                        "start" => value.parse::<u64>().is_ok(),
                        "tabindex" => value == "0",
                        "role" => value == "region",
                        "aria-label" => value == "Table" || value == "Copy code",
                        "class" if !MATHML_TAGS.contains(&name) => {
                            CLASSES.contains(&value)
                                || (name == "code"
                                    && value.strip_prefix("language-").is_some_and(|l| {
                                        l.chars().all(|c| {
                                            c.is_ascii_alphanumeric() || c == '-' || c == '+'
                                        })
                                    }))
                                || (name == "span"
                                    && value.strip_prefix("tok-").is_some_and(|t| {
                                        !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase())
                                    }))
                        }
                        "style" => !url.contains("url(") && !url.contains("expression"),
                        _ => true,
                    };
                    if !ok {
                        fail(format!("unexpected {attr}={value:?} on <{name}>"));
                    }
                    if matches!(attr, "href" | "src")
                        && ["javascript:", "vbscript:", "data:text"]
                            .iter()
                            .any(|bad| url.starts_with(bad))
                    {
                        fail(format!("script URL {attr}={value:?} on <{name}>"));
                    }
                }
                // What the renderer writes on these elements is always all there:
                // a missing one means the tag was cut short.
                let required: &[&str] = match name {
                    "img" => &["src", "alt", "loading"],
                    "input" => &["type", "disabled"],
                    _ => &[],
                };
                for attr in required {
                    if el.attr(attr).is_none() {
                        fail(format!("<{name}> lost its {attr}"));
                    }
                }
                // A blocked image's alt text is text only.
                if name == "span" && el.attr("class") == Some("blocked-image") {
                    if let Some(child) = node.descendants().skip(1).find(|d| d.value().is_element())
                    {
                        fail(format!(
                            "blocked image contains <{}>",
                            child.value().as_element().map_or("?", |e| e.name())
                        ));
                    }
                }
            }
            Node::Document | Node::Fragment => {}
        }
    }
}

/// Hostile strings placed in text, alt text, destinations and titles.
const PAYLOADS: &[&str] = &[
    "\"",
    "'",
    ">",
    "<script>alert(1)</script>",
    "\" onerror=alert(1) x=\"",
    "' onerror=alert(1) x='",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "&#106;avascript:alert(1)",
    "&quot; onmouseover=alert(1) &quot;",
    "x\" onmouseover=\"alert(1)",
    "https://ok.example/\"onerror=alert(1)",
    "/x onerror=alert(1)//",
];

/// One markdown construct with a hole for nested markdown (`inner`) and a
/// payload `p` for its destination/title/attribute slots.
type Construct = fn(&str, &str) -> String;

/// Every inline and block construct the renderer knows, each wrapping `inner`.
pub(super) const CONSTRUCTS: &[(&str, Construct)] = &[
    ("link", |i, p| format!("[{i}]({p} \"{p}\")")),
    ("link-safe-dest", |i, p| {
        format!("[{i}](https://ok.example/ \"{p}\")")
    }),
    ("link-angle-dest", |i, p| format!("[{i}](<{p}>)")),
    ("link-reference", |i, p| {
        format!("[{i}][r]\n\n[r]: {p} \"{p}\"\n")
    }),
    ("image", |i, p| format!("![{i}]({p} \"{p}\")")),
    ("image-local", |i, p| {
        format!("![{i}](/api/files/a.png \"{p}\")")
    }),
    ("image-data", |i, _| {
        format!("![{i}](data:image/png;base64,AAAA)")
    }),
    ("image-blocked", |i, _| {
        format!("![{i}](https://evil.example/p.png)")
    }),
    ("code", |i, _| format!("`{i}`")),
    ("code-double", |i, _| format!("`` {i} ``")),
    ("math-inline", |i, _| format!("${i}$")),
    ("math-display", |i, _| format!("$${i}$$")),
    ("math-text", |i, p| format!("$\\text{{{i}}}{p}$")),
    ("emphasis", |i, _| format!("*{i}*")),
    ("strong", |i, _| format!("**{i}**")),
    ("strike", |i, _| format!("~~{i}~~")),
    ("autolink", |i, p| format!("<https://ok.example/{p}{i}>")),
    ("bare-url", |i, p| {
        format!("see https://ok.example/{p}{i} now")
    }),
    ("footnote", |i, p| format!("{i}[^1]\n\n[^1]: {p}\n")),
    ("table-cell", |i, _| {
        format!("| a | b |\n|---|---|\n| {i} | x |\n")
    }),
    ("heading", |i, _| format!("# {i}\n")),
    ("list-item", |i, _| format!("- {i}\n")),
    ("ordered-item", |i, _| format!("7. {i}\n")),
    ("task-item", |i, _| format!("- [x] {i}\n")),
    ("block-quote", |i, _| format!("> {i}\n")),
    ("code-block", |i, p| format!("```{p}\n{i}\n```\n")),
    ("code-block-html", |i, _| {
        format!("```html\n<a href=\"{i}\">{i}</a>\n```\n")
    }),
    ("entity", |i, _| format!("&quot;&#x27;&lt;{i}&gt;&#106;")),
    ("html-inline", |i, p| {
        format!("<span title=\"{p}\">{i}</span>")
    }),
    ("html-block", |i, p| {
        format!("<div onclick=\"{p}\">\n{i}\n</div>\n")
    }),
    ("html-comment", |i, _| format!("<!-- {i} -->")),
];

/// The innermost pieces: plain payload text and the smallest live constructs.
fn leaves(p: &str) -> Vec<String> {
    vec![
        p.to_string(),
        format!("[{p}]({p})"),
        format!("![{p}](/x.png)"),
        format!("`{p}`"),
        format!("${p}$"),
        format!("<{p}>"),
    ]
}

#[test]
fn generated_xss_corpus_two_levels_deep_renders_safe_html() {
    let mut rendered = 0;
    for (outer_name, outer) in CONSTRUCTS {
        for (inner_name, inner) in CONSTRUCTS {
            for p in PAYLOADS {
                for leaf in leaves(p) {
                    let src = outer(&inner(&leaf, p), p);
                    let html = render(&src);
                    assert_safe_html(&html, &format!("{outer_name}({inner_name}): {src}"));
                    rendered += 1;
                }
            }
        }
    }
    assert!(rendered > 10_000, "{rendered}");
}

#[test]
fn generated_xss_corpus_three_levels_deep_renders_safe_html() {
    let n = CONSTRUCTS.len();
    let mut rendered = 0;
    for a in 0..n {
        for b in 0..n {
            for c in 0..n {
                // Every triple once, the payload and leaf rotating through all.
                let p = PAYLOADS[(a + b + c) % PAYLOADS.len()];
                let leaf = &leaves(p)[(a * 7 + b * 3 + c) % 6];
                let (outer, middle, inner) = (CONSTRUCTS[a].1, CONSTRUCTS[b].1, CONSTRUCTS[c].1);
                let src = outer(&middle(&inner(leaf, p), p), p);
                let html = render(&src);
                let names = (CONSTRUCTS[a].0, CONSTRUCTS[b].0, CONSTRUCTS[c].0);
                assert_safe_html(&html, &format!("{names:?}: {src}"));
                rendered += 1;
            }
        }
    }
    assert_eq!(rendered, n * n * n);
}

#[test]
fn the_parser_check_catches_what_it_must() {
    // The checker itself: each of these is what a broken renderer would emit.
    for bad in [
        "<img src=\"/x.png\" alt=\"a <a href=\"/y\">b</a>\" loading=\"lazy\">",
        "<img src=\"/x.png\" alt=\"\" onerror=\"alert(1)\" loading=\"lazy\">",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\" JaVa&#115;cript:alert(1)\">x</a>",
        "<img src=\"//evil.example/p.png\" alt=\"\" loading=\"lazy\">",
        "<img src=\"/\t/evil.example/p.png\" alt=\"\" loading=\"lazy\">",
        "<script>alert(1)</script>",
        "<span class=\"blocked-image\">[image: <a>x</a>]</span>",
        "<p class=\"x\">y</p>",
        "<svg><circle onload=alert(1)></svg>",
        "<p>a</div><div>b</p>",
        "<p><em>a</p>",
        "<code>a",
    ] {
        let caught = std::panic::catch_unwind(|| assert_safe_html(bad, "test"));
        assert!(caught.is_err(), "not caught: {bad}");
    }
    assert_safe_html(
        &render("**ok** [link](https://ok.example) ![i](/i.png)"),
        "ok",
    );
}

/// Pieces that mean something to markdown, HTML or URLs, for random inputs.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "](",
    ")",
    "![",
    "<",
    ">",
    "\"",
    "'",
    "`",
    "``",
    "```",
    "$",
    "$$",
    "*",
    "**",
    "_",
    "~~",
    "|",
    "|---|",
    "\n",
    "\n\n",
    "> ",
    "- ",
    "1. ",
    "# ",
    "&",
    ";",
    "&#106;",
    "&quot;",
    "&#x3c;",
    "\\",
    "(",
    " ",
    "a",
    "x y",
    "javascript:",
    "vbscript:",
    "data:text/html,",
    "data:image/png,",
    "onerror=",
    "alert(1)",
    "http://",
    "https://",
    "/",
    "//",
    "[^1]",
    "[^1]: ",
    "[r]: ",
    "\t",
    "<script>",
    "<img src=x ",
    "<a href=",
    "</a>",
    "<!--",
    "-->",
    "\\text{",
    "}",
    "{",
    "```html\n",
    "```rust\n",
    "[ ] ",
    "[x] ",
    "    ",
    // Whole small constructs, so that random inputs nest them often.
    "[l](/x)",
    "](/i.png)",
    "](https://evil.example/i.png)",
    "`c`",
    "$x$",
    "*e*",
    "<b>",
    "\\\n",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]
    #[test]
    fn random_markdown_renders_safe_html(
        pieces in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..60)
    ) {
        let src = pieces.concat();
        assert_safe_html(&render(&src), &src);
    }
}

/// Each pathological pattern, repeated to 200,000 characters.
fn hostile_inputs() -> Vec<(&'static str, String)> {
    const SIZE: usize = 200_000;
    let repeat = |unit: &str| unit.repeat(SIZE / unit.len());
    let mut cases = vec![
        ("link starts `https://a `", repeat("https://a ")),
        ("`http://` run", repeat("http://")),
        ("bare schemes `http:// `", repeat("http:// ")),
        ("nested emphasis `*a **b `", repeat("*a **b ")),
        ("emphasis runs `*_`", repeat("*_")),
        ("deep block quotes `> `", repeat("> ")),
        ("deep lists `- * `", repeat("- * ")),
        ("many `$`", repeat("$")),
        ("many `$a`", repeat("$a")),
        ("many `$$`", repeat("$$")),
        ("many `[`", repeat("[")),
        ("many `[a](`", repeat("[a](")),
        ("many `![`", repeat("![")),
        ("nested images `![a`", repeat("![a")),
        ("many backticks", repeat("`")),
        ("backtick runs `` ` `` `` `` ``", repeat("`` ` ")),
        ("many `<`", repeat("<")),
        ("many `<a `", repeat("<a ")),
        ("many `&`", repeat("&#")),
        ("many `|`", repeat("|")),
        ("link reference defs", repeat("[a]: /b\n")),
    ];
    let mut table = String::from("| a | b | c |\n|---|---|---|\n");
    while table.len() < SIZE {
        table.push_str("| 1 | *2* | `3` |\n");
    }
    cases.push(("long table", table));
    let header = "|a".repeat(SIZE / 6 - 1);
    cases.push((
        "wide table",
        format!("{header}|\n{}|\n{header}|\n", "|-".repeat(SIZE / 6 - 1)),
    ));
    let tex = format!("${}x{}$\n\n", "{".repeat(1_990), "}".repeat(1_990));
    cases.push(("deep TeX braces", tex.repeat(SIZE / tex.len())));
    let long = format!("$${}$$\n\n", "\\frac{a}{\\sqrt{b}}^2_x ".repeat(150));
    cases.push(("long formulas", long.repeat(SIZE / long.len())));
    let sqrt = format!("${}x{}$\n\n", "\\sqrt{".repeat(600), "}".repeat(600));
    cases.push(("nested \\sqrt", sqrt.repeat(SIZE / sqrt.len())));
    for (name, code) in [
        ("rust code `#[`", "#["),
        ("rust code `r#\"`", "r#\""),
        ("html code `<a \"`", "<a \""),
        ("html code `<script>`", "<script>"),
        ("c code `/*`", "/*"),
        ("yaml code `a: `", "a: \n"),
    ] {
        let lang = name.split(' ').next().unwrap_or("");
        cases.push((name, format!("```{lang}\n{}\n```\n", repeat(code))));
    }
    cases
}

#[test]
fn rendering_hostile_input_costs_linear_time() {
    // Debug builds are ~10–20× slower than release; 2 s here is a generous
    // bound that quadratic behaviour on 200 KB still blows through.
    let limit = std::time::Duration::from_secs(2);
    let mut slow = vec![];
    for (name, src) in hostile_inputs() {
        let started = std::time::Instant::now();
        let html = render(&src);
        let took = started.elapsed();
        println!(
            "render {:>7} chars of {name:<32} {:>8.2} ms -> {} bytes",
            src.len(),
            took.as_secs_f64() * 1000.0,
            html.len()
        );
        if took > limit {
            slow.push(format!("{name}: {took:?}"));
        }
    }
    assert!(slow.is_empty(), "slower than {limit:?}: {slow:?}");
}

/// The `alt` of the only `<img>` in `html`, as the browser reads it.
fn alt_of(html: &str) -> String {
    let fragment = scraper::Html::parse_fragment(html);
    let img = scraper::Selector::parse("img").expect("selector");
    let mut imgs = fragment.select(&img);
    let alt = imgs.next().and_then(|i| i.attr("alt")).map(str::to_string);
    assert!(imgs.next().is_none(), "one image: {html}");
    alt.unwrap_or_else(|| panic!("no img alt: {html}"))
}

#[test]
fn image_alt_text_is_plain_text_whatever_it_contains() {
    let src = "![a [l](/x \"t\") `c` $x^2$ <b> *e* ![n](/y.png) [o](/p \"\\\" onerror=alert(1)\")\\\nz](/img.png)";
    let html = render(src);
    assert_safe_html(&html, src);
    assert_eq!(
        alt_of(&html),
        "a l c x^2 <b> e n o z",
        "every nested construct adds only its text: {html}"
    );
    // Soft breaks become spaces; display math its TeX.
    assert_eq!(alt_of(&render("![one\ntwo $$y$$](/i.png)")), "one two y");
}

#[test]
fn a_blocked_image_shows_its_alt_as_text_only() {
    let src = "![see [l](/x) `c` ![i](/i.png)](https://evil.example/p.png)";
    let html = render(src);
    assert_safe_html(&html, src);
    assert!(
        html.contains("<span class=\"blocked-image\">[image: see l c i]</span>"),
        "{html}"
    );
}

#[test]
fn text_inside_a_link_is_not_linked_again() {
    let html = render("[see https://a.example/x](https://b.example/)");
    assert_eq!(html.matches("<a ").count(), 1, "{html}");
    assert!(html.contains(">see https://a.example/x</a>"), "{html}");
}

#[test]
fn images_from_other_sites_written_as_paths_are_blocked() {
    // Browsers read `/\host` and `/<tab>/host` as `//host`.
    for src in [
        "![x](/\\evil.example/p.png)",
        "![x](/&#9;/evil.example/p.png)",
        "![x](/&#10;/evil.example/p.png)",
        "![x](//evil.example/p.png)",
    ] {
        let html = render(src);
        assert!(!html.contains("<img"), "{src}: {html}");
        assert_safe_html(&html, src);
    }
    assert_eq!(safe_link("/\\evil.example"), None);
    assert_eq!(safe_link("/ok"), Some("/ok".to_string()));
}

#[test]
fn linkify_finds_every_bare_url_in_one_pass() {
    let mut out = String::new();
    linkify(
        "a http://x.y, https://z.w/p?q=1. http:// https://; http://h",
        &mut out,
    );
    assert_eq!(
        out,
        "a <a href=\"http://x.y\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">http://x.y</a>, \
         <a href=\"https://z.w/p?q=1\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">https://z.w/p?q=1</a>. \
         http:// https://; <a href=\"http://h\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">http://h</a>"
    );
    let mut out = String::new();
    linkify("héhttps://é.x<b>\"", &mut out);
    assert_eq!(
        out,
        "hé<a href=\"https://é.x\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">https://é.x</a>&lt;b&gt;&quot;"
    );
}

#[test]
fn a_single_newline_is_a_line_break_in_user_messages_only() {
    assert_eq!(
        render_user("line one\nline two"),
        "<p>line one<br>line two</p>"
    );
    assert_eq!(render("line one\nline two"), "<p>line one\nline two</p>");
    // Markdown still applies to what users type.
    assert_eq!(
        render_user("**a**\nb\n\n- c"),
        "<p><strong>a</strong><br>b</p><ul><li>c</li></ul>"
    );
    for src in CORPUS {
        assert_safe_html(&render_user(src), src);
    }
}

/// What a view shows after applying patches: the finished part and the tail.
#[derive(Default)]
struct ShownBody {
    finished: String,
    tail: String,
    resets: usize,
}

impl ShownBody {
    fn apply(&mut self, patch: Patch) {
        match patch {
            Patch::Reset { finished, tail } => {
                self.resets += 1;
                self.finished = finished;
                self.tail = tail;
            }
            Patch::Append { finished, tail } => {
                self.finished.push_str(&finished);
                self.tail = tail;
            }
            Patch::Unchanged => {}
        }
    }
    fn html(&self) -> String {
        format!("{}{}", self.finished, self.tail)
    }
}

fn defines_references(md: &str) -> bool {
    Parser::new_ext(md, options())
        .reference_definitions()
        .iter()
        .next()
        .is_some()
}

/// Streams `text` cut at `cuts` (byte offsets, char boundaries) and then in
/// full with `last`; after every step what is shown must be what rendering
/// the text so far in one piece gives (while no reference definition has
/// arrived: those are exact at the last step). Returns the shown body and
/// the longest tail source rendered.
fn stream_in_pieces(text: &str, cuts: &[usize], flavor: Flavor) -> (ShownBody, usize) {
    let mut inc = IncrementalMarkdown::new(flavor);
    let mut shown = ShownBody::default();
    let mut longest_tail = 0;
    for &cut in cuts {
        let prefix = &text[..cut];
        let before = shown.finished.clone();
        shown.apply(inc.update(prefix, false));
        if shown.resets <= 1 {
            assert!(
                shown.finished.starts_with(&before),
                "finished HTML was replaced at {cut}: {prefix:?}"
            );
        }
        longest_tail = longest_tail.max(prefix.len() - inc.finished_len());
        if !defines_references(prefix) {
            assert_eq!(
                shown.html(),
                render_as(prefix, flavor),
                "streamed {prefix:?} (of {text:?})"
            );
        }
    }
    shown.apply(inc.update(text, true));
    assert_eq!(shown.html(), render_as(text, flavor), "complete {text:?}");
    assert!(shown.tail.is_empty(), "nothing left unfinished: {text:?}");
    (shown, longest_tail)
}

/// Every char boundary of `text`.
fn every_cut(text: &str) -> Vec<usize> {
    (0..=text.len())
        .filter(|i| text.is_char_boundary(*i))
        .collect()
}

/// Blocks an answer is made of, each ending in a blank line.
const BLOCKS: &[&str] = &[
    "# Title with `code`\n\n",
    "A paragraph with **bold**, *emphasis*, `code` and $x^2$.\nIt goes on https://mistral.ai here.\n\n",
    "- one\n- two\n  - nested\n- three\n\n",
    "1. first\n\n2. loose second\n\n",
    "- [x] done\n- [ ] todo\n\n",
    "```rust\nfn main() {\n\n    println!(\"<hi>\");\n}\n```\n\n",
    "    indented code\n\n    still code\n\n",
    "| a | b |\n|---|:-:|\n| 1 | *2* |\n| 3 | `4` |\n\n",
    "$$\n\\frac{a}{b} = \\sum_{k=1}^{n} k\n$$\n\n",
    "> quoted\n> > deeper\n\n",
    "Setext heading\n===\n\n",
    "---\n\n",
    "<div>raw *html*</div>\n\n",
    "A line\n# heading that interrupts\nand a paragraph\n\n",
    "![image](/i.png) and [link](https://ok.example \"t\")\n\n",
];

#[test]
fn a_streamed_answer_renders_as_the_whole_at_every_step() {
    let doc: String = BLOCKS.concat();
    let (shown, longest_tail) = stream_in_pieces(&doc, &every_cut(&doc), Flavor::Answer);
    assert_eq!(shown.resets, 1, "only the first update rebuilds the body");
    // The tail is one block at most: re-rendering it costs no more as the
    // answer grows.
    let longest_block = BLOCKS.iter().map(|b| b.len()).max().unwrap_or(0);
    assert!(longest_tail <= 2 * longest_block, "{longest_tail}");
}

#[test]
fn the_tail_stays_small_however_long_the_answer() {
    let doc: String = BLOCKS.concat().repeat(20);
    let cuts: Vec<usize> = every_cut(&doc).into_iter().step_by(7).collect();
    let (shown, longest_tail) = stream_in_pieces(&doc, &cuts, Flavor::Answer);
    assert_eq!(shown.resets, 1);
    assert!(longest_tail < 400, "{longest_tail}");
}

#[test]
fn a_user_message_streams_with_its_line_breaks() {
    let doc = "line one\nline two\n\n- a\n- b\n\nlast\nline";
    stream_in_pieces(doc, &every_cut(doc), Flavor::User);
}

#[test]
fn finished_blocks_end_after_a_blank_line_only() {
    let at = |md: &str, rest: &str| md.len() - rest.len();
    let md = "para one\n\npara two";
    assert_eq!(finished_blocks_end(md), at(md, "para two"));
    // Without a blank line the next block could still join the paragraph
    // (`#` is a heading, `#x` is not).
    assert_eq!(finished_blocks_end("para\n#"), 0);
    // One list, however loose; an unclosed fence runs to the end.
    assert_eq!(finished_blocks_end("- a\n\n- b\n\n  c"), 0);
    assert_eq!(finished_blocks_end("```\na\n\nb\n\nc"), 0);
    // After a list, `2` may become its next item `2.`.
    assert_eq!(finished_blocks_end("1. a\n\n2"), 0);
    let md = "1. a\n\n2 apples";
    assert_eq!(finished_blocks_end(md), at(md, "2 apples"));
    let md = "- a\n\nafter";
    assert_eq!(finished_blocks_end(md), at(md, "after"));
    let md = "| a |\n|---|\n| 1 |\n\n$$x$$\n\nnext";
    assert_eq!(finished_blocks_end(md), at(md, "next"));
    let md = "text\n\n    code";
    assert_eq!(finished_blocks_end(md), at(md, "    code"));
    assert_eq!(finished_blocks_end(""), 0);
    assert_eq!(finished_blocks_end("one block\n\n"), 0);
}

#[test]
fn thinking_first_then_the_answer() {
    // While the model thinks the answer text is empty: nothing is shown
    // (thinking is separate text, never given to this renderer).
    let mut inc = IncrementalMarkdown::new(Flavor::Answer);
    let mut shown = ShownBody::default();
    shown.apply(inc.update("", false));
    assert_eq!(shown.html(), "");
    assert_eq!(inc.update("", false), Patch::Unchanged);
    shown.apply(inc.update("Answer\n\nmore", false));
    assert_eq!(shown.html(), render("Answer\n\nmore"));
}

#[test]
fn a_replaced_text_is_rendered_afresh_and_a_snapshot_that_extends_it_is_not() {
    let mut inc = IncrementalMarkdown::new(Flavor::Answer);
    let mut shown = ShownBody::default();
    shown.apply(inc.update("First paragraph.\n\nSecond", false));
    assert_eq!(shown.resets, 1);
    // A snapshot of the same answer further on (reconnection): appended.
    let patch = inc.update("First paragraph.\n\nSecond paragraph.\n\nThird", false);
    assert!(matches!(patch, Patch::Append { .. }), "{patch:?}");
    shown.apply(patch);
    assert_eq!(
        shown.html(),
        render("First paragraph.\n\nSecond paragraph.\n\nThird")
    );
    // A different text (an edit, another answer's snapshot): afresh.
    let patch = inc.update("Other text.\n\nEntirely", false);
    assert!(matches!(patch, Patch::Reset { .. }), "{patch:?}");
    shown.apply(patch);
    assert_eq!(shown.html(), render("Other text.\n\nEntirely"));
    // A tail that was rewritten (not appended) is re-rendered as it is now.
    shown.apply(inc.update("Other text.\n\nIn part", false));
    assert_eq!(shown.html(), render("Other text.\n\nIn part"));
    shown.apply(inc.update("Other text.\n\nIn part", true));
    assert_eq!(shown.html(), render("Other text.\n\nIn part"));
}

#[test]
fn reference_definitions_reach_earlier_and_later_blocks() {
    // Defined after its use: exact once the definition is finished (the
    // finished part renders again) and at the last update.
    let doc = "See [the docs] here.\n\n[the docs]: https://docs.example \"Docs\"\n\nLater [The Docs].\n\nEnd [x].\n\n[x]: /x\n\n[x]: /ignored";
    let (shown, _) = stream_in_pieces(doc, &every_cut(doc), Flavor::Answer);
    assert!(
        shown
            .html()
            .contains("<a href=\"https://docs.example\" title=\"Docs\""),
        "{}",
        shown.html()
    );
    assert!(shown.html().contains("<a href=\"/x\""), "{}", shown.html());
    // A definition resolves the blocks after it without a rebuild.
    let doc = "[d]: https://d.example\n\nuse [d]\n\nand [d] again\n\nend";
    let (shown, _) = stream_in_pieces(doc, &every_cut(doc), Flavor::Answer);
    assert_eq!(shown.resets, 1);
}

#[test]
fn the_formula_budget_is_shared_by_the_pieces() {
    let doc = "$a$ $b$\n\n".repeat(MAX_TYPESET_FORMULAS / 2 + 3);
    let cuts: Vec<usize> = (0..doc.len()).step_by(997).collect();
    let (shown, _) = stream_in_pieces(&doc, &cuts, Flavor::Answer);
    assert_eq!(shown.html().matches("<math").count(), MAX_TYPESET_FORMULAS);
}

/// Block-level pieces for random answers, with the inline FRAGMENTS.
const BLOCK_FRAGMENTS: &[&str] = &[
    "\n\n",
    "\n\n",
    "\n",
    "- ",
    "* ",
    "1. ",
    "2) ",
    "  ",
    "    ",
    "> ",
    "# ",
    "## ",
    "```\n",
    "```rust\n",
    "~~~\n",
    "$$\n",
    "---\n",
    "===\n",
    "| a | b |\n",
    "|---|---|\n",
    "| 1 | 2 |\n",
    "<div>\n",
    "</div>\n",
    "<!--\n",
    "-->\n",
    "[r]: /ref\n",
    "[r]",
    "text ",
    "more text",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]
    #[test]
    fn random_answers_stream_to_what_they_render_to(
        pieces in proptest::collection::vec(
            proptest::sample::select([FRAGMENTS, BLOCK_FRAGMENTS].concat()),
            0..50,
        )
    ) {
        let doc = pieces.concat();
        stream_in_pieces(&doc, &every_cut(&doc), Flavor::Answer);
    }
}

#[test]
fn citations_become_numbered_links_to_the_sources_list() {
    let text = "Paris is big. Lyon too.";
    let html = render(&with_citations(text, &[(13, 1), (23, 2), (13, 2)], "m-1"));
    assert_eq!(
        html,
        "<p>Paris is big.<sup class=\"cite\"><a href=\"#src-m-1-1\" data-cite=\"1\" aria-label=\"Source 1\">1</a></sup><sup class=\"cite\"><a href=\"#src-m-1-2\" data-cite=\"2\" aria-label=\"Source 2\">2</a></sup> Lyon too.<sup class=\"cite\"><a href=\"#src-m-1-2\" data-cite=\"2\" aria-label=\"Source 2\">2</a></sup></p>"
    );
    assert_inert(&html, text);
    // Offsets count characters, not bytes.
    let html = render(&with_citations("é è", &[(1, 1)], "m"));
    assert!(html.starts_with("<p>é<sup"), "{html}");
    // No marks: the text unchanged.
    assert_eq!(with_citations("a\n\nb", &[], "m"), "a\n\nb");
}

#[test]
fn a_citation_never_changes_the_block_it_lands_in() {
    // Cited right after a paragraph break or before a list item: the marker
    // joins the text before, the list stays a list.
    let text = "Intro.\n\n- one\n- two";
    let html = render(&with_citations(text, &[(8, 1)], "m"));
    assert!(html.starts_with("<p>Intro.<sup class=\"cite\">"), "{html}");
    assert!(html.contains("<ul><li>one</li>"), "{html}");
    // Past the end: at the end.
    let html = render(&with_citations("Done.", &[(99, 3)], "m"));
    assert!(html.contains("Done.<sup"), "{html}");
    // Inside code and links, markers are dropped (the source stays listed).
    let html = render(&with_citations(
        "`code` and [link](https://e.org)",
        &[(3, 1), (14, 2)],
        "m",
    ));
    assert!(!html.contains("<sup"), "{html}");
    assert!(html.contains("<code>code</code>"), "{html}");
    let html = render(&with_citations("```\nfn x() {}\n```\n", &[(6, 1)], "m"));
    assert!(
        !html.contains("<sup") && !html.contains('\u{E000}'),
        "{html}"
    );
    // Cited right after a code block (with or without its line break): the
    // block stays closed, the marker follows it.
    for code in ["```rust\nfn x() {}\n```", "```rust\nfn x() {}\n```\n"] {
        let n = code.chars().count() as u32;
        let text = format!("{code}\nAfter.");
        let html = render(&with_citations(&text, &[(n, 1)], "m"));
        assert!(
            html.contains("</code></pre></div><p><sup class=\"cite\">"),
            "{html}"
        );
        assert!(html.ends_with("<p>After.</p>"), "{html}");
    }
    // Cited after a table row: in its last cell, the table goes on.
    let table = "| a | b |\n|---|---|\n| 1 | 2 |";
    let text = format!("{table}\n| 3 | 4 |");
    let html = render(&with_citations(
        &text,
        &[(table.chars().count() as u32, 1)],
        "m",
    ));
    assert!(html.contains("<td>2<sup class=\"cite\">"), "{html}");
    assert!(html.contains("<td>4</td>"), "{html}");
    // At the very start: a paragraph of its own, the heading stays one.
    let html = render(&with_citations("# Title\ntext", &[(0, 1)], "m"));
    assert!(html.contains("<h1>Title</h1>"), "{html}");
}

#[test]
fn citation_marks_cannot_smuggle_markup() {
    // A hostile anchor is reduced to safe characters; a hostile mark typed
    // into text (the generation strips these characters from the model's
    // text, this is the renderer's own defence) renders as nothing.
    let html = render(&with_citations(
        "Hi",
        &[(2, 1)],
        "x\"><script>alert(1)</script>",
    ));
    assert_inert(&html, "hostile anchor");
    assert!(
        html.contains("href=\"#src-xscriptalert1script-1\""),
        "{html}"
    );
    for hostile in [
        "a\u{E000}x\" onclick=\"alert(1):1\u{E001}b",
        "a\u{E000}m:1<img src=x onerror=alert(1)>\u{E001}b",
        "a\u{E000}m:99999\u{E001}b",
        "a\u{E000}unclosed",
        "a\u{E001}b",
    ] {
        let html = render(hostile);
        assert_inert(&html, hostile);
        assert!(!html.contains("<sup"), "{hostile} → {html}");
    }
    // Markers where citations arrive (the end of the text so far) never
    // turn hostile text into markup.
    for item in CORPUS {
        let end = item.chars().count() as u32;
        let html = render(&with_citations(item, &[(0, 1), (end, 2), (9_999, 3)], "m"));
        assert_inert(&html, item);
        assert_eq!(html.matches("<sup class=\"cite\">").count(), 3, "{html}");
    }
}
