//! `vigil ctl`: an auditctl command line turned into one request to the daemon.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::proto::{read_frame, write_frame, Op, Request, Response};

/// How long the client waits for the daemon (a `-m` waits for the record to be written).
const TIMEOUT: Duration = Duration::from_secs(30);

/// The request an auditctl command line asks for. `-s`, `-l`, `-m` and `-R` are handled
/// here; every other command line goes to the daemon whole, which parses it with the
/// auditctl parser (so errors carry the column of the offending word).
pub fn request_for(argv: &[String]) -> Result<Op, String> {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] => Err("nothing to do: give auditctl options (-s, -l, -a ..., -m TEXT, ...)".into()),
        ["-s"] => Ok(Op::Status {}),
        ["-l"] => Ok(Op::List { key: None }),
        ["-l", "-k", key] | ["-k", key, "-l"] => Ok(Op::List {
            key: Some((*key).to_string()),
        }),
        ["-m", rest @ ..] if !rest.is_empty() => Ok(Op::Message {
            text: rest.join(" "),
        }),
        ["-m"] => Err("-m needs the message text".into()),
        ["-R", file] => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{file}: cannot read the rules file: {e}"))?;
            Ok(Op::Load {
                name: (*file).to_string(),
                text,
            })
        }
        ["-R"] => Err("-R needs a rules file".into()),
        w if w.contains(&"-s") || w.contains(&"-l") => {
            Err("-s and -l must be given alone (-l may take -k KEY)".into())
        }
        _ => Ok(Op::Rules {
            argv: argv.to_vec(),
        }),
    }
}

/// Sends one request and returns the daemon's response.
pub fn call(socket: &Path, op: Op) -> Result<Response, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is `vigil daemon` running? `--socket PATH` picks \
             another daemon)",
            socket.display()
        )
    })?;
    let _ = s.set_read_timeout(Some(TIMEOUT));
    let _ = s.set_write_timeout(Some(TIMEOUT));
    let sent = write_frame(&mut s, &Request::new(op).to_json());
    // A daemon that refuses the client answers at once and closes: its reply still
    // explains more than our broken pipe would.
    match read_frame(&mut s) {
        Ok(resp) => Ok(resp),
        Err(e) => Err(match sent {
            Err(se) => format!("sending to {}: {se}", socket.display()),
            Ok(()) => format!("reading the reply from {}: {e}", socket.display()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(words: &[&str]) -> Result<Op, String> {
        request_for(&words.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn local_options() {
        assert_eq!(op(&["-s"]), Ok(Op::Status {}));
        assert_eq!(
            op(&["-l", "-k", "x"]),
            Ok(Op::List {
                key: Some("x".into())
            })
        );
        assert_eq!(
            op(&["-m", "hello", "world"]),
            Ok(Op::Message {
                text: "hello world".into()
            })
        );
        assert!(op(&["-R", "/nonexistent/rules"])
            .unwrap_err()
            .contains("/nonexistent/rules"));
        assert!(op(&["-s", "-D"]).is_err());
        assert_eq!(
            op(&["-D"]),
            Ok(Op::Rules {
                argv: vec!["-D".into()]
            })
        );
    }
}
