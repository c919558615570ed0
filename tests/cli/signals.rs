//! Signals and connections of the real process (issue #11 item 6): SIGTERM ends the process
//! within the shutdown grace period even while a client sits on a half-sent request, and
//! SIGHUP (which log rotators send) no longer kills it.
//!
//! Plain blocking sockets: the server is another process. Waits are guards against a hang.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;

use super::support::child::ChildServer;
use super::{bankd, database};

fn start(dir: &TempDir, environment: &[(&str, &str)]) -> ChildServer {
    let mut command = bankd(dir.path());
    command
        .envs(environment.iter().copied())
        .stderr(Stdio::null());
    ChildServer::start(command, Path::new(&database(dir)))
}

fn connect(server: &ChildServer) -> TcpStream {
    let stream =
        TcpStream::connect(server.address.trim_start_matches("http://")).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    stream
}

/// One whole `GET /healthz` on `stream`, keeping the connection open; returns the status line.
fn get_healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    // /healthz answers a small JSON body: the head and body arrive together in practice, and
    // only the status line matters here.
    while !received.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).expect("a response");
        assert!(read > 0, "closed before a response");
        received.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn sigterm_with_half_sent_requests_open_exits_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The header and request timeouts are far away, so only the shutdown deadline can end
    // these connections.
    let mut server = start(
        &dir,
        &[
            ("BANKD_SERVER_SHUTDOWN_GRACE_SECONDS", "1"),
            ("BANKD_SERVER_HEADER_READ_TIMEOUT_SECONDS", "600"),
            ("BANKD_SERVER_REQUEST_TIMEOUT_SECONDS", "600"),
        ],
    );
    // Each connection first completes a request, so it has surely been accepted.
    let mut half_head = connect(&server);
    assert_eq!(get_healthz(&mut half_head), "HTTP/1.1 200 OK");
    half_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Never-Ends: ")
        .expect("write");
    // A request in flight whose body never arrives: graceful shutdown alone waits for it.
    let mut half_body = connect(&server);
    assert_eq!(get_healthz(&mut half_body), "HTTP/1.1 200 OK");
    half_body
        .write_all(
            b"POST /api/register/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"username\": ",
        )
        .expect("write");

    let status = server.terminate();

    assert!(status.success(), "{status:?}");
}

#[test]
fn sighup_is_ignored_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = start(&dir, &[]);

    server.signal("HUP");
    let mut stream = connect(&server);
    let status_line = get_healthz(&mut stream);

    assert_eq!(status_line, "HTTP/1.1 200 OK");
    assert!(server.exited().is_none(), "SIGHUP stopped the server");
    drop(stream);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}
