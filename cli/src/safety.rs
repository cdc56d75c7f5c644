//! How the CLI treats secrets and untrusted text: every manifest link is a 6-day key to a company
//! file, so no URL ever reaches an error, a report or the terminal; links must be `https` (plain
//! `http` only on loopback) and are fetched without `Referer`, following one redirect only (a link's,
//! to its S3 download); names from a manifest
//! are cleaned before they name a file, guarded before they enter a spreadsheet cell, and escaped
//! before they reach a terminal.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::redirect;
use serde_json::Value;

/// Bidirectional-text controls: they make a name display differently from what it is
/// (`invoice\u{202e}fdp.exe` shows as `invoiceexe.pdf`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Zero-width characters: invisible, so two names that look the same can differ.
pub fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// `text` made safe to print on a terminal: control characters (C0, DEL, C1 — escape sequences
/// start with them), bidi controls and zero-width characters are shown escaped (`\n`, `\u{1b}`,
/// `\u{202e}`), and so is the backslash, so an escaped name cannot pass for a clean one.
pub fn terminal_safe(text: &str) -> String {
    escape(text, true)
}

/// Multi-line human output made safe line by line (the line breaks the CLI itself writes stay):
/// the net under every printed text. Backslashes are left alone, so values already shown with
/// [`terminal_safe`] are not escaped twice.
pub fn terminal_safe_lines(text: &str) -> String {
    text.split('\n').map(|line| escape(line, false)).collect::<Vec<_>>().join("\n")
}

fn escape(text: &str, backslash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' && backslash {
            out.push_str("\\\\");
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else if is_bidi_control(c) || is_zero_width(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON text (as `serde_json` writes it) with every character a terminal would act on written as
/// a `\uXXXX` escape: `serde_json` escapes C0 controls but writes DEL, C1 controls (`\u{9b}` is a
/// CSI) and bidi controls raw. Still valid JSON, read back to the same values.
pub fn json_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() || is_bidi_control(c) || is_zero_width(c) {
            // Only ever inside a JSON string here (serde_json writes no such character outside
            // one, and writes `\n` between lines itself, which we keep).
            if c == '\n' {
                out.push(c);
            } else {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The spreadsheet formula guard for one CSV cell: a cell beginning with `=`, `+`, `-`, `@`, tab
/// or carriage return is prefixed with `'`, so a spreadsheet shows it as text, never evaluates it.
pub fn formula_guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell.to_owned() }
}

/// Anything URL-shaped taken out of a message, and any SigV4 parameter value with it: the last
/// line of defence for text that came from a library (errors) rather than from us.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_ascii_lowercase();
        if lower.contains("://") || lower.contains("x-amz-") {
            out.push_str("(link withheld)");
        } else {
            out.push_str(word);
        }
    }
    out
}

/// True for a loopback host: 127.0.0.0/8, ::1 (and ::ffff:127.x), `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback(),
        Err(_) => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    }
}

/// Parses a link and applies the transport rule: `https`, or plain `http` to loopback only.
/// `what` names the link in the refusal ("the download link", "API_URL"); the link itself is
/// never in the message.
pub fn checked_url(link: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(link).map_err(|_| format!("{what} is not a valid URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{what} uses plain http to a host that is not loopback; refused before any request (https is required)"
        )),
        other => Err(format!("{what} has the scheme {other:?}; only https (or http on loopback) is allowed")),
    }
}

/// The HTTP client for links and the API: no redirects (a 3xx is an answer, not a new
/// destination), no `Referer`, bounded connect and total time.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .referer(false)
        .connect_timeout(Duration::from_secs(20))
        .timeout(timeout)
        .build()
        .map_err(http_error)
}

/// A reqwest error described without its URL: what went wrong and the innermost cause.
pub fn http_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "redirect refused"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the body"
    } else if error.is_request() {
        "the request failed"
    } else if error.is_builder() {
        "the request could not be built"
    } else {
        "network error"
    };
    let mut cause: Option<String> = None;
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        cause = Some(s.to_string());
        source = s.source();
    }
    match cause {
        Some(c) if !c.is_empty() => redact(&format!("{what}: {c}")),
        _ => what.to_owned(),
    }
}

/// Replaces every link in a JSON value (any `url` string, any string holding a SigV4 parameter)
/// with a note, before the value is printed.
pub fn hide_links(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "url" && v.is_string() {
                    *v = Value::String("(use `attachment-export manifest` to download)".into());
                } else {
                    hide_links(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_links),
        Value::String(s) => {
            let lower = s.to_ascii_lowercase();
            if lower.contains("x-amz-signature") || lower.contains("x-amz-credential") {
                *s = redact(s);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_output_shows_controls_and_bidi_escaped() {
        let hostile = "a\u{1b}]0;pwned\u{7}b\r\u{9b}2Jc\u{202e}fdp.exe\u{200b}\\x";
        let shown = terminal_safe(hostile);
        assert_eq!(shown, "a\\u{1b}]0;pwned\\u{7}b\\r\\u{9b}2Jc\\u{202e}fdp.exe\\u{200b}\\\\x");
        assert!(!shown.chars().any(|c| c.is_control() || is_bidi_control(c) || is_zero_width(c)));
        assert_eq!(terminal_safe("résumé 2026.pdf"), "résumé 2026.pdf");
        assert_eq!(terminal_safe_lines("one\u{1b}[2K\ntwo\\"), "one\\u{1b}[2K\ntwo\\");
        assert_eq!(terminal_safe_lines(&shown), shown, "no second escaping");
    }

    #[test]
    fn json_output_escapes_what_a_terminal_would_act_on_and_reads_back_the_same() {
        let value = serde_json::json!({"fileName": "x\u{7f}\u{9b}31m\u{202e}\u{feff}\u{1b}y"});
        let text = json_safe(&serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !text.chars().any(|c| c != '\n' && (c.is_control() || is_bidi_control(c) || is_zero_width(c)))
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }

    #[test]
    fn formula_cells_are_guarded_and_others_left_alone() {
        for cell in ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(formula_guard(cell), format!("'{cell}"));
        }
        for cell in ["report.pdf", "a=b", "'quoted", ""] {
            assert_eq!(formula_guard(cell), cell);
        }
    }

    #[test]
    fn only_https_or_loopback_http_passes() {
        for ok in [
            "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=ab",
            "http://127.0.0.1:9000/b/k",
            "http://127.8.9.10/k",
            "http://localhost:18005",
            "http://LOCALHOST./x",
            "http://[::1]:80/x",
        ] {
            assert!(checked_url(ok, "the link").is_ok(), "{ok}");
        }
        for refused in [
            "http://bucket.s3.amazonaws.com/k?X-Amz-Signature=secret",
            "http://10.0.0.1/k",
            "http://128.0.0.1/k",
            "http://localhost.evil.example/k",
            "ftp://127.0.0.1/k",
            "file:///etc/passwd",
            "not a url X-Amz-Signature=secret",
        ] {
            let why = checked_url(refused, "the link").unwrap_err();
            assert!(!why.contains("secret") && !why.contains("://"), "{why}");
        }
    }

    #[test]
    fn links_are_withheld_from_values_and_messages() {
        let mut v = serde_json::json!({"manifest": {"url": "https://b/k?X-Amz-Signature=s", "sha256": "ab"},
            "note": "see https://b/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=s now"});
        hide_links(&mut v);
        let text = v.to_string();
        assert!(!text.contains("X-Amz") && !text.contains("https://"), "{text}");
        assert_eq!(v["manifest"]["sha256"], "ab");
        assert_eq!(redact("GET https://x/y?X-Amz-Signature=1 failed"), "GET (link withheld) failed");
    }
}
