//! The control protocol (docs/ctl.md): one request and one response per connection, each a
//! frame of a 4-byte big-endian length and that many bytes of JSON.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::daemon::status::Status;

/// Protocol version; a request carrying another is refused with an error response.
pub const VERSION: u32 = 1;
/// Largest frame either side accepts (a rules file travels in one `load` request).
pub const MAX_FRAME: usize = 4 << 20;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// `-s`. (Empty braces: a unit variant would let unknown fields through.)
    Status {},
    /// `-l`, optionally only rules whose key contains `key` (`-l -k KEY`).
    List {
        #[serde(default)]
        key: Option<String>,
    },
    /// One auditctl command line that changes rules or settings (`-a`, `-d`, `-w`, `-D`,
    /// `-e`, `-b`, `-f`, `-r`, `--backlog_wait_time`, ...), parsed by the daemon.
    Rules { argv: Vec<String> },
    /// `-R FILE`: the file's text, read by the client; `name` is used in diagnostics.
    Load { name: String, text: String },
    /// `-m TEXT`: a USER record; the reply comes once the record is written.
    Message { text: String },
    /// Rotate the log now (as SIGUSR1).
    Rotate {},
}

/// One request frame: `{"v": VERSION, "op": ..., ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub v: u32,
    pub op: Op,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("malformed request: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed request: expected a JSON object with a numeric \"v\"")]
    NoVersion,
    #[error("protocol version {0} is not supported (this daemon speaks version {VERSION})")]
    Version(u64),
}

impl Request {
    pub fn new(op: Op) -> Request {
        Request { v: VERSION, op }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.op).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("v".into(), self.v.into());
        }
        v
    }

    /// Decodes a request, checking the version before the operation so that a newer
    /// client gets a version error rather than "unknown operation".
    pub fn from_slice(body: &[u8]) -> Result<Request, RequestError> {
        let mut value: serde_json::Value = serde_json::from_slice(body)?;
        let obj = value.as_object_mut().ok_or(RequestError::NoVersion)?;
        let v = obj
            .remove("v")
            .and_then(|v| v.as_u64())
            .ok_or(RequestError::NoVersion)?;
        if v != u64::from(VERSION) {
            return Err(RequestError::Version(v));
        }
        Ok(Request {
            v: VERSION,
            op: serde_json::from_value(value)?,
        })
    }
}

/// One response frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Response {
    pub v: u32,
    pub ok: bool,
    /// Text for the client's standard output (`-l` listing, `-s` lines).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Errors and warnings for the client's standard error, one per line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// The daemon's state, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Box<Status>>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            v: VERSION,
            ok: true,
            ..Response::default()
        }
    }

    pub fn error(msg: impl Into<String>) -> Response {
        Response {
            v: VERSION,
            ok: false,
            messages: vec![msg.into()],
            ..Response::default()
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed before a complete message")]
    Truncated,
    #[error("message of {0} bytes is larger than the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Writes one frame.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(body.len()))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame's bytes.
pub fn read_frame_bytes<R: Read>(r: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    read_exact(r, &mut len)?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(FrameError::TooLarge(n));
    }
    let mut body = vec![0u8; n];
    read_exact(r, &mut body)?;
    Ok(body)
}

/// Reads and decodes one frame.
pub fn read_frame<R: Read, T: for<'de> Deserialize<'de>>(r: &mut R) -> Result<T, FrameError> {
    let body = read_frame_bytes(r)?;
    Ok(serde_json::from_slice(&body)?)
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), FrameError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_and_shape() {
        let req = Request::new(Op::Rules {
            argv: vec!["-D".into()],
        });
        let mut buf = Vec::new();
        write_frame(&mut buf, &req.to_json()).unwrap();
        let body = read_frame_bytes(&mut buf.as_slice()).unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains(r#""op":"rules""#) && text.contains(r#""v":1"#),
            "{text}"
        );
        assert_eq!(Request::from_slice(&body).unwrap(), req);
        assert!(matches!(
            Request::from_slice(br#"{"v":2,"op":"teleport"}"#),
            Err(RequestError::Version(2))
        ));
        assert!(matches!(
            Request::from_slice(br#"{"v":1,"op":"status","extra":1}"#),
            Err(RequestError::Json(_))
        ));
        assert!(matches!(
            Request::from_slice(b"[1]"),
            Err(RequestError::NoVersion)
        ));
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut huge = (MAX_FRAME as u32 + 1).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(
            read_frame_bytes(&mut huge.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
        let short = [0u8, 0, 0, 10, b'{'];
        assert!(matches!(
            read_frame_bytes(&mut short.as_slice()),
            Err(FrameError::Truncated)
        ));
        assert!(Request::from_slice(br#"{"v":1,"op":"explode"}"#).is_err());
    }
}
