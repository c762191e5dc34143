//! Small, valid test documents built by hand, so tests can upload real files
//! without fixtures or a PDF/image library: [`pdf_with_pages`] (a PDF 1.4
//! with one text page per entry), [`pdf_page_texts`] (reads those pages
//! back, the fake OCR's "recognition") and [`png_with_text`] (a PNG with
//! text planted for the fake OCR).
//!
//! The PDF layout, object by object:
//! 1. the catalog, 2. the page tree (`/Kids` in page order), 3. the
//!    Helvetica font (`/WinAnsiEncoding`), then per page `k` (0-based)
//! 4. `4+2k`: the page (US Letter, 612×792 pt, font `/F1`),
//! 5. `5+2k`: its uncompressed content stream.
//!
//! Each line of a page's text (split at `\n`) becomes one string shown with
//! `Tj`, the first at (72, 720), the next ones one leading (14 pt) lower
//! (`T*`): `BT /F1 12 Tf 14 TL 72 720 Td (line 1) Tj T* (line 2) Tj ET`.
//! In the strings `(`, `)` and `\` are escaped with a backslash, `\r` is
//! `\r`, and every other byte outside printable ASCII (control characters,
//! the UTF-8 bytes of non-ASCII text) is an octal escape `\ddd`, so the file
//! itself is ASCII after its binary-marker comment. The bytes are the text's
//! UTF-8 bytes: a viewer shows non-ASCII text as WinAnsi mojibake, the
//! reader gets it back exactly. A cross-reference table with the byte offset
//! of every object and a trailer close the file, so real viewers (Chromium's
//! PDFium, pdf.js) open it without repairing it.
use std::collections::{BTreeMap, HashSet};

/// Leading between two lines of a page, in points.
const LEADING: u32 = 14;

/// `text` as the body of a PDF literal string (without the parentheses).
fn escape_pdf_string(text: &[u8]) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for &b in text {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'\r' => out.push_str("\\r"),
            0x20..=0x7E => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// The content stream of one page: one `Tj` per line of `text`.
fn page_content(text: &str) -> String {
    let mut ops = format!("BT\n/F1 12 Tf\n{LEADING} TL\n72 720 Td\n");
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            ops.push_str("T*\n");
        }
        ops.push('(');
        ops.push_str(&escape_pdf_string(line.as_bytes()));
        ops.push_str(") Tj\n");
    }
    ops.push_str("ET");
    ops
}

/// A structurally valid PDF 1.4 with one page per entry of `pages`, each
/// showing that entry's text in 12 pt Helvetica (layout in the module doc).
/// `pdf_with_pages(&[])` is a PDF with an empty page tree (no pages).
/// Deterministic: the same pages give the same bytes.
pub fn pdf_with_pages(pages: &[&str]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::with_capacity(3 + 2 * pages.len());
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..pages.len())
        .map(|k| format!("{} 0 R", 4 + 2 * k))
        .collect();
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    for (k, text) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * k
            )
            .into_bytes(),
        );
        let content = page_content(text);
        objects.push(
            format!(
                "<< /Length {} >>\nstream\n{}\nendstream",
                content.len(),
                content
            )
            .into_bytes(),
        );
    }

    // The second line marks the file as binary (four bytes above 127), as
    // the PDF spec recommends.
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    // Every entry is exactly 20 bytes: "nnnnnnnnnn ggggg n \n".
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

// ---------------------------------------------------------------------------
// Reading pages back
// ---------------------------------------------------------------------------

/// One indirect object: its dictionary text and its stream data, if any.
struct Object<'a> {
    dict: &'a [u8],
    stream: Option<&'a [u8]>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0C' | 0)
}

fn is_delimiter(b: u8) -> bool {
    is_white(b) || b"()<>[]{}/%".contains(&b)
}

/// The integer ending just before `end` (after skipping whitespace), and
/// where it starts.
fn int_before(bytes: &[u8], end: usize) -> Option<(u32, usize)> {
    let mut e = end;
    while e > 0 && is_white(bytes[e - 1]) {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && bytes[s - 1].is_ascii_digit() {
        s -= 1;
    }
    if s == e || e == end {
        return None;
    }
    let n = std::str::from_utf8(&bytes[s..e]).ok()?.parse().ok()?;
    Some((n, s))
}

/// Every `N G obj … endobj` of the file by object number (a later
/// definition of the same number wins, as an incremental update would).
fn objects(pdf: &[u8]) -> BTreeMap<u32, Object<'_>> {
    let mut out = BTreeMap::new();
    let mut pos = 0;
    while let Some(at) = find(pdf, b"obj", pos) {
        pos = at + 3;
        let after_ok = pdf.get(at + 3).is_none_or(|b| is_delimiter(*b));
        // `N G obj`: generation right before, object number before that.
        let Some((_, gen_start)) = int_before(pdf, at).filter(|_| after_ok) else {
            continue;
        };
        let Some((num, num_start)) = int_before(pdf, gen_start) else {
            continue;
        };
        if num_start > 0 && !is_white(pdf[num_start - 1]) {
            continue;
        }
        let body_start = at + 3;
        let end = find(pdf, b"endobj", body_start).unwrap_or(pdf.len());
        let stream_kw = find(pdf, b"stream", body_start).filter(|s| *s < end);
        let (dict, stream, next) = match stream_kw {
            None => (&pdf[body_start..end], None, end),
            Some(s) => {
                let dict = &pdf[body_start..s];
                let mut data_start = s + b"stream".len();
                if pdf.get(data_start) == Some(&b'\r') {
                    data_start += 1;
                }
                if pdf.get(data_start) == Some(&b'\n') {
                    data_start += 1;
                }
                let by_length = direct_int(dict, b"/Length")
                    .map(|len| data_start + len as usize)
                    .filter(|e| {
                        *e <= pdf.len()
                            && find(pdf, b"endstream", *e)
                                .is_some_and(|k| pdf[*e..k].iter().all(|b| is_white(*b)))
                    });
                let data_end = match by_length {
                    Some(e) => e,
                    None => {
                        let k = find(pdf, b"endstream", data_start).unwrap_or(pdf.len());
                        let mut e = k;
                        if e > data_start && pdf[e - 1] == b'\n' {
                            e -= 1;
                        }
                        if e > data_start && pdf[e - 1] == b'\r' {
                            e -= 1;
                        }
                        e
                    }
                };
                let next = find(pdf, b"endobj", data_end).unwrap_or(pdf.len());
                (dict, Some(&pdf[data_start..data_end]), next)
            }
        };
        out.insert(num, Object { dict, stream });
        pos = pos.max(next);
    }
    out
}

/// Where the value of `key` starts in `dict` (the key must be a whole name).
fn value_of<'a>(dict: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = find(dict, key, from) {
        let end = at + key.len();
        if dict.get(end).is_none_or(|b| is_delimiter(*b)) {
            let mut v = end;
            while v < dict.len() && is_white(dict[v]) {
                v += 1;
            }
            return Some(&dict[v..]);
        }
        from = end;
    }
    None
}

/// The name after `key` (`/Type /Page` → `Page`).
fn name_of<'a>(dict: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let v = value_of(dict, key)?.strip_prefix(b"/")?;
    let len = v.iter().position(|b| is_delimiter(*b)).unwrap_or(v.len());
    Some(&v[..len])
}

/// A direct integer after `key` (not followed by `G R`).
fn direct_int(dict: &[u8], key: &[u8]) -> Option<u64> {
    let v = value_of(dict, key)?;
    let len = v
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(v.len());
    let n = std::str::from_utf8(&v[..len]).ok()?.parse().ok()?;
    let rest = std::str::from_utf8(&v[len..]).unwrap_or("");
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (Some(g), Some(r)) if g.bytes().all(|b| b.is_ascii_digit()) && r.starts_with('R') => None,
        _ => Some(n),
    }
}

/// The object numbers referenced (`N G R`) after `key`: one reference, or
/// every reference of an array.
fn refs_of(dict: &[u8], key: &[u8]) -> Vec<u32> {
    let Some(v) = value_of(dict, key) else {
        return Vec::new();
    };
    let (body, single) = match v.strip_prefix(b"[") {
        Some(inner) => (
            &inner[..inner.iter().position(|b| *b == b']').unwrap_or(inner.len())],
            false,
        ),
        None => (v, true),
    };
    // Integers and `R`s, up to anything else (or the first `R` of a
    // single reference).
    let mut tokens: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if is_white(b) {
            i += 1;
        } else if b == b'R' {
            tokens.push(b"R");
            i += 1;
            if single {
                break;
            }
        } else if b.is_ascii_digit() {
            let start = i;
            while i < body.len() && body[i].is_ascii_digit() {
                i += 1;
            }
            tokens.push(&body[start..i]);
        } else {
            break;
        }
    }
    tokens
        .windows(3)
        .filter(|w| w[2] == b"R" && w[1] != b"R")
        .filter_map(|w| std::str::from_utf8(w[0]).ok()?.parse().ok())
        .collect()
}

/// The page objects in document order (walking the page tree from the
/// catalog; without a catalog, every `/Type /Page` object by number).
fn page_order(objs: &BTreeMap<u32, Object<'_>>) -> Vec<u32> {
    fn walk(objs: &BTreeMap<u32, Object<'_>>, n: u32, seen: &mut HashSet<u32>, out: &mut Vec<u32>) {
        if !seen.insert(n) {
            return;
        }
        let Some(o) = objs.get(&n) else { return };
        match name_of(o.dict, b"/Type") {
            Some(b"Pages") => {
                for kid in refs_of(o.dict, b"/Kids") {
                    walk(objs, kid, seen, out);
                }
            }
            Some(b"Page") => out.push(n),
            _ => {}
        }
    }
    let catalog = objs
        .iter()
        .find(|(_, o)| name_of(o.dict, b"/Type") == Some(b"Catalog"));
    match catalog {
        Some((_, cat)) => {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for root in refs_of(cat.dict, b"/Pages") {
                walk(objs, root, &mut seen, &mut out);
            }
            out
        }
        None => objs
            .iter()
            .filter(|(_, o)| name_of(o.dict, b"/Type") == Some(b"Page"))
            .map(|(n, _)| *n)
            .collect(),
    }
}

/// The literal string starting at `bytes[start] == b'('`, unescaped, and
/// the index after its closing parenthesis.
fn literal_string(bytes: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = start + 1;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        match b {
            b'\\' => {
                let Some(&e) = bytes.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match bytes.get(i) {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((v & 0xFF) as u8);
                    }
                    // A backslash before an end of line continues the string.
                    b'\r' => {
                        if bytes.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' if depth == 0 => return (out, i),
            b')' => {
                depth -= 1;
                out.push(b);
            }
            // An unescaped end of line in a string is a line feed.
            b'\r' => {
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                out.push(b'\n');
            }
            _ => out.push(b),
        }
    }
    (out, i)
}

/// The strings a content stream shows with `Tj` (and `TJ` arrays, their
/// strings joined), in order.
fn shown_strings(content: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Strings seen since the last operator, and whether inside `[ … ]`.
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        if b == b'(' {
            let (s, next) = literal_string(content, i);
            pending.push(s);
            i = next;
        } else if b == b'%' {
            while i < content.len() && content[i] != b'\n' && content[i] != b'\r' {
                i += 1;
            }
        } else if b == b'[' || b == b']' || is_white(b) {
            i += 1;
        } else {
            let start = i;
            while i < content.len() && !is_delimiter(content[i]) {
                i += 1;
            }
            if i == start {
                i += 1; // a lone delimiter such as `<`
                continue;
            }
            let word = &content[start..i];
            if word
                .first()
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'.')
            {
                continue; // a number (TJ kerning, operands): keep pending strings
            }
            match word {
                b"Tj" | b"'" | b"\"" => {
                    if let Some(s) = pending.pop() {
                        out.push(s);
                    }
                }
                b"TJ" => out.push(pending.concat()),
                _ => {}
            }
            pending.clear();
        }
    }
    out
}

/// The text of every page of `pdf`, in page order: the strings its content
/// streams show with `Tj`/`TJ`, one line each, joined with `\n` (bytes read
/// as UTF-8, invalid sequences replaced). For a PDF from [`pdf_with_pages`]
/// this is exactly the text each page was made from. Compressed (`/Filter`)
/// content streams are not decoded: such a page reads as empty text.
///
/// `Err` when `pdf` does not start with `%PDF-`; `Ok(vec![])` for a PDF with
/// no pages.
pub fn pdf_page_texts(pdf: &[u8]) -> Result<Vec<String>, String> {
    if !pdf.starts_with(b"%PDF-") {
        return Err("not a PDF (no %PDF- header)".into());
    }
    let objs = objects(pdf);
    let texts = page_order(&objs)
        .into_iter()
        .map(|n| {
            let mut lines: Vec<Vec<u8>> = Vec::new();
            for c in refs_of(objs[&n].dict, b"/Contents") {
                let Some(stream) = objs
                    .get(&c)
                    .filter(|o| value_of(o.dict, b"/Filter").is_none())
                else {
                    continue;
                };
                lines.extend(shown_strings(stream.stream.unwrap_or_default()));
            }
            String::from_utf8_lossy(&lines.join(&b'\n')).into_owned()
        })
        .collect();
    Ok(texts)
}

// ---------------------------------------------------------------------------
// PNG with planted text
// ---------------------------------------------------------------------------

/// The marker the fake OCR looks for in images (`mistral_ocr` module).
pub const OCR_TEXT_MARKER: &str = "OCRTEXT:";

use crate::mistral::files::crc32;

/// A valid 64×48 PNG (one colour, see
/// [`generated_png`](crate::mistral::files::generated_png)) with a `tEXt`
/// chunk, keyword `Comment`, whose text is `OCRTEXT:<text>`; the fake OCR
/// reads `text` from it. `text` should hold no NUL (PNG text cannot) and is
/// stored as its UTF-8 bytes. Deterministic.
pub fn png_with_text(text: &str) -> Vec<u8> {
    let mut png = crate::mistral::files::generated_png("ocr-text-image");
    // Every PNG ends with the 12-byte IEND chunk; the text goes before it.
    let iend = png.split_off(png.len() - 12);
    let mut data = b"Comment\0".to_vec();
    data.extend_from_slice(OCR_TEXT_MARKER.as_bytes());
    data.extend_from_slice(text.as_bytes());
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(b"tEXt");
    png.extend_from_slice(&data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
    png.extend_from_slice(&iend);
    png
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file as text with the same byte offsets (non-ASCII bytes as `?`).
    fn text(b: &[u8]) -> String {
        b.iter()
            .map(|&c| if c.is_ascii() { char::from(c) } else { '?' })
            .collect()
    }

    #[test]
    fn xref_offsets_point_at_their_objects() {
        let pdf = pdf_with_pages(&["# Page 1\n\nAlpha bravo", "Second"]);
        let s = text(&pdf);
        assert!(pdf.starts_with(b"%PDF-1.4\n%"));
        assert!(s.ends_with("%%EOF\n"));
        let startxref: usize = s
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(s[startxref..].starts_with("xref\n0 8\n0000000000 65535 f \n"));
        let table = &s[startxref + "xref\n0 8\n".len()..];
        let entries: Vec<&str> = table.split_inclusive('\n').take(8).collect();
        assert!(entries.iter().all(|e| e.len() == 20), "{entries:?}");
        for (n, e) in entries.iter().enumerate().skip(1) {
            let off: usize = e[..10].parse().unwrap();
            assert!(
                s[off..].starts_with(&format!("{n} 0 obj\n")),
                "object {n} at {off}"
            );
        }
        assert!(s.contains("trailer\n<< /Size 8 /Root 1 0 R >>"));
        assert!(s.contains("/Kids [4 0 R 6 0 R] /Count 2"));
        // Stream lengths are exact: `endstream` follows the data and one EOL.
        for (at, _) in s.match_indices("/Length ") {
            let len: usize = s[at + 8..].split(' ').next().unwrap().parse().unwrap();
            let data = s[at..].find("stream\n").unwrap() + at + "stream\n".len();
            assert_eq!(&s[data + len..data + len + 10], "\nendstream");
        }
    }

    #[test]
    fn content_streams_escape_text() {
        let pdf = pdf_with_pages(&["a (b) c\\d\re\u{e9}\n"]);
        let s = text(&pdf);
        assert!(
            s.contains("BT\n/F1 12 Tf\n14 TL\n72 720 Td\n(a \\(b\\) c\\\\d\\re\\303\\251) Tj\nT*\n() Tj\nET"),
            "{s}"
        );
    }

    #[test]
    fn pages_read_back_exactly() {
        let pages = [
            "# Page 1\n\nAlpha bravo",
            "Charlie (delta) \\ echo ((nested)) )",
            "Grüße 😀\r\n\ttab",
            "",
        ];
        let pdf = pdf_with_pages(&pages);
        assert_eq!(pdf_page_texts(&pdf).unwrap(), pages);
        assert_eq!(pdf, pdf_with_pages(&pages), "deterministic");
        assert_eq!(
            pdf_page_texts(&pdf_with_pages(&[])).unwrap(),
            Vec::<String>::new()
        );
        assert!(pdf_page_texts(b"PK\x03\x04 not a pdf").is_err());
    }

    #[test]
    fn reader_handles_tj_arrays_and_page_tree_order() {
        // Hand-written: kids listed in reverse object order, a TJ array with
        // kerning numbers, a comment, and stream lengths given indirectly.
        let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [5 0 R 3 0 R] /Count 2 >> endobj\n\
3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n\
4 0 obj << /Length 9 0 R >>\nstream\nBT % c (no)\n[(Sec) -20 (ond)] TJ ET\nendstream\nendobj\n\
5 0 obj << /Type /Page /Parent 2 0 R /Contents [6 0 R] >> endobj\n\
6 0 obj << /Length 20 >>\nstream\nBT (First) Tj ET    \nendstream\nendobj\n%%EOF";
        assert_eq!(pdf_page_texts(pdf).unwrap(), ["First", "Second"]);
    }

    #[test]
    fn png_carries_the_text_in_a_valid_chunk() {
        let png = png_with_text("Hello from the image");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        // Walk the chunks: every CRC is right, tEXt sits before IEND.
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = &png[at + 4..at + 8];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc32(&png[at + 4..at + 8 + len]), crc);
            if kind == b"tEXt" {
                assert_eq!(
                    &png[at + 8..at + 8 + len],
                    b"Comment\0OCRTEXT:Hello from the image"
                );
            }
            kinds.push(text(kind));
            at += 12 + len;
        }
        assert_eq!(at, png.len());
        assert_eq!(kinds, ["IHDR", "IDAT", "tEXt", "IEND"]);
    }
}
