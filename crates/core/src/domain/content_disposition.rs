//! `Content-Disposition: attachment` for a file's download (RFC 6266, with RFC 5987's `filename*`
//! for names beyond ASCII), so a link downloads the file under its name and never renders it, an
//! HTML or SVG upload included (issue 25, item 4; docs/proposals/revocable-links.md).
//!
//! The name is the uploader's: it may hold quotes, backslashes, path separators, control
//! characters, or bidirectional controls that make `invoice<U+202E>fdp.exe` read as `invoiceexe.pdf`.
//! Both forms drop controls and bidi controls and replace path separators, so what the browser
//! saves is the name a person reads. `filename` is an ASCII fallback (non-ASCII becomes `_`) for
//! clients that ignore `filename*` (`curl -J`).

/// The longest name kept, in characters: file systems take 255 bytes, and a name's UTF-8 may be
/// up to four bytes a character, so 255 characters can already exceed them; browsers shorten
/// further as they need.
pub const MAX_NAME_CHARS: usize = 255;

/// The name used when nothing printable is left of the uploader's.
pub const FALLBACK_NAME: &str = "download";

/// `attachment; filename="…"; filename*=UTF-8''…` for `file_name`.
pub fn attachment(file_name: &str) -> String {
    let name = printable_name(file_name);
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() && c != '"' && c != '\\' && c != '%' { c } else { '_' })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", ext_value(&name))
}

/// The name as it is saved: without control or bidirectional-control characters, with path
/// separators replaced, trimmed, at most [`MAX_NAME_CHARS`], never empty.
pub fn printable_name(file_name: &str) -> String {
    let kept: String = file_name
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_or_invisible(*c))
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .take(MAX_NAME_CHARS)
        .collect();
    let trimmed = kept.trim().trim_start_matches('.');
    if trimmed.is_empty() { FALLBACK_NAME.to_owned() } else { trimmed.to_owned() }
}

/// Bidirectional controls (embeddings, overrides, isolates, marks) and zero-width characters:
/// invisible, and able to make a name read as another.
fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// RFC 5987 `value-chars`: `attr-char` as is, every other byte of the UTF-8 percent-encoded.
fn ext_value(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        let attr_char = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Undoes `ext_value`'s percent-encoding (what a browser does with `filename*`).
    fn decode_ext(value: &str) -> String {
        let bytes = value.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn parts(header: &str) -> (String, String) {
        let (fallback, ext) = header
            .strip_prefix("attachment; filename=\"")
            .and_then(|rest| rest.split_once("\"; filename*=UTF-8''"))
            .unwrap_or_else(|| panic!("not an attachment header: {header}"));
        (fallback.to_owned(), decode_ext(ext))
    }

    #[test]
    fn a_plain_name_is_kept_in_both_forms() {
        assert_eq!(
            attachment("Q3 report.xlsx"),
            "attachment; filename=\"Q3 report.xlsx\"; filename*=UTF-8''Q3%20report.xlsx"
        );
    }

    #[test]
    fn non_ascii_names_keep_their_letters_in_filename_star_and_get_an_ascii_fallback() {
        let (fallback, name) = parts(&attachment("Résumé – 日本.pdf"));
        assert_eq!(name, "Résumé – 日本.pdf");
        assert_eq!(fallback, "R_sum_ _ __.pdf");
    }

    #[test]
    fn quotes_backslashes_separators_and_controls_cannot_break_out_of_the_header() {
        let header = attachment("a\"b\\c/d\r\nSet-Cookie: x=1\u{0}.html");
        assert!(!header.contains('\r') && !header.contains('\n') && !header.contains('\0'), "{header}");
        let (fallback, name) = parts(&header);
        assert_eq!(name, "a\"b_c_dSet-Cookie: x=1.html");
        assert_eq!(fallback, "a_b_c_dSet-Cookie: x=1.html");
        assert_eq!(header.matches('"').count(), 2, "only the fallback's own quotes: {header}");
    }

    #[test]
    fn bidi_controls_cannot_disguise_an_extension() {
        let (_, name) = parts(&attachment("invoice\u{202E}fdp.exe"));
        assert_eq!(name, "invoicefdp.exe");
        assert_eq!(printable_name("a\u{200B}b\u{2066}c\u{FEFF}"), "abc");
    }

    #[test]
    fn an_empty_or_hidden_name_is_download_and_a_long_one_is_cut() {
        for hostile in ["", "   ", "\u{202E}", "..", "/", "\r\n"] {
            let expected = if hostile == "/" { "_" } else { FALLBACK_NAME };
            assert_eq!(printable_name(hostile), expected, "{hostile:?}");
        }
        assert_eq!(printable_name(".bashrc"), "bashrc", "no hidden files");
        assert_eq!(printable_name(&"é".repeat(400)).chars().count(), MAX_NAME_CHARS);
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]

        #[test]
        fn any_name_gives_one_header_line_whose_filename_star_decodes_to_the_printable_name(name in any::<String>()) {
            let header = attachment(&name);
            prop_assert!(header.is_ascii(), "{}", header);
            prop_assert!(!header.chars().any(|c| c.is_control()), "{}", header);
            let (fallback, decoded) = parts(&header);
            prop_assert_eq!(decoded, printable_name(&name));
            prop_assert!(!fallback.contains('"') && !fallback.contains('\\'));
            prop_assert_eq!(fallback.chars().count(), printable_name(&name).chars().count());
        }
    }
}
