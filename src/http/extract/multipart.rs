//! `multipart/form-data` bodies (RFC 7578), split by hand: the `Body` extractor has already
//! read the whole body under the 64 KiB cap, so a small splitter over bytes in memory does the
//! job of `multer` without a streaming parser or another dependency.

use serde_json::{Map, Value};

/// The fields of a `multipart/form-data` body (RFC 7578), read as DRF's `MultiPartParser`
/// reads them into `request.data`: text parts become strings, the last of a repeated name wins,
/// parts without a name are skipped.
///
/// A file part (one with a `filename`) becomes an empty JSON object: no field of this API is a
/// file, and an object is what every field reader already refuses with DRF's own message for a
/// file ("Not a valid string.", "A valid number is required."). Its bytes are not kept.
///
/// The parts cannot outgrow the body, which is at most `REQUEST_BODY_BYTES_MAX` bytes. The
/// error is the text after DRF's "Multipart form parse error - ".
pub fn parse(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, String> {
    let boundary = multipart_boundary(content_type)
        .ok_or_else(|| "Invalid boundary in multipart: None".to_owned())?;
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter may open the body, without the CRLF before it.
    let mut framed = Vec::with_capacity(body.len() + 2);
    framed.extend_from_slice(b"\r\n");
    framed.extend_from_slice(body);
    let ended = || "The body ends before the closing boundary.".to_owned();
    let start = find(&framed, &delimiter).ok_or_else(ended)?;
    let mut rest = &framed[start + delimiter.len()..];
    let mut fields = Map::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        let padding = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        rest = rest[padding..]
            .strip_prefix(b"\r\n")
            .ok_or_else(|| "A boundary is not followed by a line break.".to_owned())?;
        let end = find(rest, &delimiter).ok_or_else(ended)?;
        let part = &rest[..end];
        rest = &rest[end + delimiter.len()..];
        let (head, content) = match find(part, b"\r\n\r\n") {
            Some(split) => (&part[..split], &part[split + 4..]),
            None if part.is_empty() => (part, part),
            None => return Err("A part has no blank line after its headers.".to_owned()),
        };
        let head =
            std::str::from_utf8(head).map_err(|_| "A part's headers are not UTF-8.".to_owned())?;
        let Some((name, is_file)) = part_name(head) else {
            continue;
        };
        let value = if is_file {
            Value::Object(Map::new())
        } else {
            let text = std::str::from_utf8(content)
                .map_err(|_| format!("The value of \"{name}\" is not UTF-8."))?;
            Value::String(text.to_owned())
        };
        fields.insert(name, value);
    }
}

/// The `boundary` parameter of a `multipart/form-data` content type (1–70 characters).
fn multipart_boundary(content_type: &str) -> Option<String> {
    let boundary = content_type.split(';').skip(1).find_map(|parameter| {
        let (key, value) = parameter.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })?;
    (1..=70).contains(&boundary.len()).then_some(boundary)
}

/// The part's field name and whether it is a file, from its `Content-Disposition`.
fn part_name(head: &str) -> Option<(String, bool)> {
    let disposition = head.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    let mut name = None;
    let mut is_file = false;
    for parameter in disposition.split(';').skip(1) {
        let Some((key, value)) = parameter.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(unquote(value.trim())),
            "filename" | "filename*" => is_file = true,
            _ => {}
        }
    }
    name.filter(|name| !name.is_empty())
        .map(|name| (name, is_file))
}

/// A quoted-string's text (`"a\"b"` is `a"b`), or a token as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut text = String::with_capacity(inner.len());
    let mut escaped = false;
    for character in inner.chars() {
        if escaped || character != '\\' {
            text.push(character);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    text
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    #[test]
    fn text_parts_are_fields_and_file_parts_are_objects() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n12.50\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nline one\r\nline two\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"nickname\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nsecret\r\n\
             --XyZ--\r\n";
        let fields = parse(TYPE, body.as_bytes()).expect("parsed");
        assert_eq!(fields["amount"], "12.50");
        assert_eq!(fields["description"], "line one\r\nline two");
        assert_eq!(fields["nickname"], Value::Object(Map::new()));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for (content_type, body) in [
            ("multipart/form-data", "--XyZ--"),
            (TYPE, "no boundary here"),
            (
                TYPE,
                "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever closed",
            ),
            (TYPE, "--XyZgarbage"),
            (
                TYPE,
                "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nno blank line\r\n--XyZ--",
            ),
            (TYPE, ""),
        ] {
            assert!(parse(content_type, body.as_bytes()).is_err(), "{body}");
        }
        let bad_utf8 =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\r\n--XyZ--";
        assert!(parse(TYPE, bad_utf8).is_err());
    }

    #[test]
    fn quoted_boundaries_names_and_repeats_follow_the_rfc() {
        let body = "preamble\r\n--a b\r\nContent-Disposition: form-data; name=\"x\\\"y\"\r\n\r\n1\r\n\
             --a b\r\nContent-Disposition: form-data; name=\"x\\\"y\"\r\n\r\n2\r\n\
             --a b\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n--a b--";
        let fields =
            parse("multipart/form-data; boundary=\"a b\"", body.as_bytes()).expect("parsed");
        assert_eq!(fields.len(), 1);
        assert_eq!(fields["x\"y"], "2");
    }
}
