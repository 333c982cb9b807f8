//! A real S3-compatible server on loopback, started by the tests that need
//! one (and stopped when they end): moto's server, from PyPI
//! (`moto[server]`, installed into a venv by `.ci/run`).
//!
//! Why moto: it installs in about a minute from wheels (nothing to compile
//! on CI's two cores, unlike building `s3s-fs` with `cargo install`), keeps
//! objects in memory (nothing left on disk), is the most widely used S3
//! fake, and speaks the parts of the S3 API parframe uses as S3 does:
//! SigV4-signed requests, ranged GETs, ListObjectsV2 with continuation,
//! multipart uploads (refusing parts under 5 MiB but the last) and
//! their abort.
//!
//! The server is found at `$PARFRAME_MOTO_SERVER`, else at
//! `~/.cache/parframe/moto-venv/bin/moto_server` (where `.ci/run` installs
//! it), else as `moto_server` on the `PATH`. In CI (`CI` set) a server that
//! cannot start fails the test; elsewhere the test prints why and skips.
//!
//! This file is shared with the CLI's tests (`#[path]`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The credentials moto accepts (any); the region objects are signed for.
pub const ACCESS_KEY: &str = "parframe-test";
pub const SECRET_KEY: &str = "parframe-test-secret";
pub const REGION: &str = "us-east-1";

/// A running moto server, killed when dropped.
pub struct S3Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PARFRAME_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(".cache/parframe/moto-venv/bin/moto_server");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("moto_server")
}

/// Starts a server, or says why it could not: a failure in CI (`CI` set,
/// or `PARFRAME_MOTO_SERVER`, which `.ci/run` sets after installing moto:
/// a server that was installed must start), a skip (`None`, with the
/// reason printed) elsewhere.
pub fn start(test: &str) -> Option<S3Server> {
    match try_start() {
        Ok(s) => Some(s),
        Err(why) => {
            if std::env::var_os("CI").is_some()
                || std::env::var_os("PARFRAME_MOTO_SERVER").is_some()
            {
                panic!("{test}: the S3 test server did not start: {why}");
            }
            eprintln!("{test}: skipped (not in CI): the S3 test server did not start: {why}");
            None
        }
    }
}

fn try_start() -> Result<S3Server, String> {
    let bin = moto_binary();
    // A free port: bound, read, released, then given to moto.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run '{}': {e}", bin.display()))?;
    let mut server = S3Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    // Ready when it answers; bounded (python starts in a second or two).
    for _ in 0..300 {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("'{}' exited at start: {status}", bin.display()));
        }
        if server
            .request("GET", "/", "")
            .is_ok_and(|r| r.starts_with("HTTP/1.1 200"))
        {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "'{}' did not answer on port {port} within 30 s",
        bin.display()
    ))
}

impl S3Server {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One plain HTTP/1.1 request (moto accepts unsigned ones for bucket
    /// management); the response head and body.
    fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    /// Creates bucket `name`.
    pub fn create_bucket(&self, name: &str) {
        let r = self.request("PUT", &format!("/{name}"), "").unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "creating bucket {name}: {r}");
    }

    /// The environment that points parframe's `s3://` URLs at this server
    /// (the standard AWS variables).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", REGION.into()),
        ]
    }
}
