//! The sign-in's way back: the redirect URI's loopback address, and what the loopback does
//! with each request the browser (or anything else on this machine) sends it. Everything here
//! reads outside input: the request line is bytes from a socket, the query is whatever the
//! browser was redirected with. Malformed input is answered, never guessed at, never a panic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The longest request line the loopback reads (a real redirect is well under 2 KiB).
pub(crate) const MAX_REQUEST_LINE: u64 = 8 * 1024;

/// The loopback address a redirect URI names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loopback {
    pub port: u16,
    pub path: String,
}

impl Loopback {
    /// `http://127.0.0.1:PORT/path` (or `localhost`, `[::1]`); None for anything else.
    pub fn parse(uri: &str) -> Option<Loopback> {
        let rest = uri.strip_prefix("http://")?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (name, port) = host.rsplit_once(':')?;
        if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
            return None;
        }
        Some(Loopback {
            port: port.parse().ok()?,
            path: format!("/{path}"),
        })
    }
}

/// One value of the redirect's query, decoded strictly: `+` is a space, every `%` starts two
/// hex digits and the result is UTF-8. None for anything else (never a guess, never a panic).
pub(crate) fn decode_value(raw: &str) -> Option<String> {
    let escapes_ok = raw
        .split('%')
        .skip(1)
        .all(|s| s.bytes().take(2).filter(u8::is_ascii_hexdigit).count() == 2);
    if !escapes_ok {
        return None;
    }
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// The decoded `name=value` pairs of a query, or None when any part is malformed.
pub(crate) fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some((decode_value(k)?, decode_value(v)?))
        })
        .collect()
}

/// The first value of `name` among `pairs`.
pub(crate) fn query_param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find_map(|(k, v)| (k == name).then(|| v.clone()))
}

/// The target (`/path?query`) of a request line as read from the socket (up to and with its
/// `\n`, at most `MAX_REQUEST_LINE` bytes), or why it is not one we answer.
pub(crate) fn request_target(line: &[u8]) -> Result<&str, &'static str> {
    if line.last() != Some(&b'\n') {
        return Err("The request is incomplete or too long.");
    }
    let line = std::str::from_utf8(line).map_err(|_| "The request is not text.")?;
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(version), None)
            if version.starts_with("HTTP/") && target.starts_with('/') =>
        {
            Ok(target)
        }
        _ => Err("This is not a sign-in answer."),
    }
}

/// Why a well-formed answer ends the sign-in without a code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// The state is not this sign-in's: forged, or from an older sign-in.
    StateMismatch,
    /// The user said no (Spotify's `error` parameter).
    Denied(String),
    /// Right state, no error, no code.
    NoCode,
}

/// What the loopback does with one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Answer with this status and text, and keep waiting (a favicon, a malformed request).
    Again(&'static str, &'static str),
    /// The browser came back with the sign-in's code.
    Code(String),
    Refused(Refusal),
}

impl Verdict {
    /// The HTTP status and the text of the page the browser gets.
    pub(crate) fn answer(&self) -> (&'static str, &'static str) {
        match self {
            Verdict::Again(status, text) => (status, text),
            Verdict::Code(_) => ("200 OK", "Signed in to emotune. You can close this tab."),
            Verdict::Refused(Refusal::StateMismatch) => (
                "400 Bad Request",
                "This sign-in did not come from emotune; nothing was saved.",
            ),
            Verdict::Refused(Refusal::Denied(_)) => {
                ("200 OK", "Sign-in cancelled. You can close this tab.")
            }
            Verdict::Refused(Refusal::NoCode) => ("400 Bad Request", "No code in the answer."),
        }
    }
}

/// Judges one request line (bytes as read from the socket) for the sign-in waiting on `path`
/// with anti-forgery `state`. Other paths get a 404 and malformed requests a 400, and the wait
/// goes on; a well-formed answer with another state ends it.
pub(crate) fn judge(line: &[u8], path: &str, state: &str) -> Verdict {
    let target = match request_target(line) {
        Ok(t) => t,
        Err(why) => return Verdict::Again("400 Bad Request", why),
    };
    let (p, query) = target.split_once('?').unwrap_or((target, ""));
    if p != path {
        return Verdict::Again("404 Not Found", "Not found");
    }
    let Some(pairs) = query_pairs(query) else {
        return Verdict::Again(
            "400 Bad Request",
            "The sign-in answer is malformed; nothing was saved.",
        );
    };
    if query_param(&pairs, "state").as_deref() != Some(state) {
        return Verdict::Refused(Refusal::StateMismatch);
    }
    if let Some(err) = query_param(&pairs, "error") {
        return Verdict::Refused(Refusal::Denied(err));
    }
    match query_param(&pairs, "code") {
        Some(code) => Verdict::Code(code),
        None => Verdict::Refused(Refusal::NoCode),
    }
}

/// The request line the browser sent (at most `MAX_REQUEST_LINE` bytes, up to its `\n`).
pub(crate) fn read_request_line(conn: &TcpStream) -> Result<Vec<u8>, &'static str> {
    let mut line = Vec::new();
    BufReader::new(conn)
        .take(MAX_REQUEST_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|_| "The request could not be read.")?;
    Ok(line)
}

pub(crate) fn respond(mut conn: &TcpStream, status: &str, text: &str) {
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>emotune</title>\
         <body style=\"font-family:sans-serif;margin:3em\"><h2>{text}</h2></body>"
    );
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{page}",
        page.len()
    );
    // Closing with unread input would reset the connection and could lose the answer: say we
    // are done, then read what is left (bounded in bytes and time) until the browser closes.
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(1);
    let (mut buf, mut left) = ([0u8; 4096], 1usize << 20);
    while left > 0 {
        let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        if wait.is_zero() || conn.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_must_be_loopback() {
        assert_eq!(
            Loopback::parse("http://127.0.0.1:8888/callback"),
            Some(Loopback {
                port: 8888,
                path: "/callback".into()
            })
        );
        for bad in [
            "https://example.com/cb",
            "http://10.0.0.2:80/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:99999/cb",
        ] {
            assert!(Loopback::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn query_values_are_decoded_strictly() {
        let pairs = query_pairs("code=a%2Fb+c&state=x&&e=S%C3%B3").expect("well formed");
        assert_eq!(query_param(&pairs, "code").as_deref(), Some("a/b c"));
        assert_eq!(query_param(&pairs, "e").as_deref(), Some("Só"));
        assert_eq!(query_param(&pairs, "missing"), None);
        for bad in [
            "state=%€",
            "state=%",
            "state=%4",
            "code=%ZZ&state=x",
            "s=%FF",
            "%=1",
        ] {
            assert_eq!(query_pairs(bad), None, "{bad}");
        }
    }

    #[test]
    fn requests_are_judged_by_path_state_and_code() {
        let judge = |line: &str| judge(line.as_bytes(), "/callback", "s1");
        assert_eq!(
            judge("GET /callback?code=c%2F1&state=s1 HTTP/1.1\r\n"),
            Verdict::Code("c/1".into())
        );
        assert_eq!(
            judge("GET /callback?error=access_denied&state=s1 HTTP/1.1\r\n"),
            Verdict::Refused(Refusal::Denied("access_denied".into()))
        );
        assert_eq!(
            judge("GET /callback?code=c&state=s2 HTTP/1.1\r\n"),
            Verdict::Refused(Refusal::StateMismatch)
        );
        assert_eq!(
            judge("GET /callback?state=s1 HTTP/1.1\r\n"),
            Verdict::Refused(Refusal::NoCode)
        );
        assert_eq!(
            judge("GET /favicon.ico HTTP/1.1\r\n").answer().0,
            "404 Not Found"
        );
        for bad in [
            "GET /callback?code=c&state=s1 HTTP/1.1",
            "GET /callback?code=c&state=s1 HTTP/1.1 extra\r\n",
            "POST /callback?code=c&state=s1 HTTP/1.1\r\n",
            "GET /callback?code=%ZZ&state=s1 HTTP/1.1\r\n",
            "\r\n",
        ] {
            assert_eq!(judge(bad).answer().0, "400 Bad Request", "{bad:?}");
        }
    }
}
