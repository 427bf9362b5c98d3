//! auditctl's option syntax (GNU `getopt_long` with the option string
//! `hicslDvtC:e:f:r:b:a:A:d:S:F:m:R:w:W:k:p:q:`): `-F uid=0` and `-Fuid=0` are the same, flags
//! group (`-ic`), an option's argument may start with `-`, long options may be abbreviated,
//! and words that belong to no option are an error reported after the options.

use crate::errors::Problem;
use crate::lexer::Token;

/// Short options that take an argument.
const WITH_ARG: &str = "CefrbaAdSFmRwWkpq";
/// Short options without argument.
const FLAGS: &str = "hicslDvt";

/// Long options: name, takes an argument.
const LONG: &[(&str, bool)] = &[
    ("loginuid-immutable", false),
    ("backlog_wait_time", true),
    ("reset-lost", false),
    ("reset_backlog_wait_time_actual", false),
    ("signal", true),
];

/// One option found on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opt {
    /// `'a'`, `'F'`, ... for short options; `'\0'` for long ones (see `long`).
    pub short: char,
    pub long: Option<&'static str>,
    /// The option as written (`-F`, `--backlog_wait_time`), for messages.
    pub spelled: String,
    /// Column of the option.
    pub column: u32,
    /// Its argument, with the argument's own column.
    pub arg: Option<Token>,
}

/// Walks the options of a line in order. Words that are neither options nor arguments are
/// collected in `strays` (GNU getopt moves them to the end).
pub(crate) struct OptIter<'a> {
    toks: &'a [Token],
    idx: usize,
    /// Position inside a grouped short-option word (`-ic`): byte offset of the next flag.
    inner: usize,
    pub strays: Vec<Token>,
    done: bool,
}

impl<'a> OptIter<'a> {
    pub fn new(toks: &'a [Token]) -> Self {
        OptIter {
            toks,
            idx: 0,
            inner: 0,
            strays: Vec::new(),
            done: false,
        }
    }

    /// Stops option processing: the rest of the line is ignored (auditctl's `count -= 2`).
    pub fn stop(&mut self) {
        self.done = true;
    }

    fn short_opt(&mut self, tok: &'a Token) -> Result<Opt, (Problem, u32, String)> {
        let bytes = tok.text.as_bytes();
        let c = bytes[self.inner] as char;
        let col = tok.column + self.inner as u32;
        let spelled = format!("-{c}");
        self.inner += 1;
        let rest_empty = self.inner >= bytes.len();
        if WITH_ARG.contains(c) {
            let arg = if rest_empty {
                self.idx += 1;
                self.inner = 0;
                let a = self.toks.get(self.idx).cloned();
                if a.is_some() {
                    self.idx += 1;
                }
                a
            } else {
                let a = Token {
                    text: tok.text[self.inner..].to_owned(),
                    column: tok.column + self.inner as u32,
                };
                self.idx += 1;
                self.inner = 0;
                Some(a)
            };
            match arg {
                Some(a) => Ok(Opt {
                    short: c,
                    long: None,
                    spelled,
                    column: col,
                    arg: Some(a),
                }),
                None => Err((Problem::MissingArgument(spelled.clone()), col, spelled)),
            }
        } else if FLAGS.contains(c) && c.is_ascii() {
            if rest_empty {
                self.idx += 1;
                self.inner = 0;
            }
            Ok(Opt {
                short: c,
                long: None,
                spelled,
                column: col,
                arg: None,
            })
        } else {
            let shown: String = tok.text[self.inner - 1..]
                .chars()
                .next()
                .map(|ch| format!("-{ch}"))
                .unwrap_or(spelled);
            Err((Problem::UnknownOption(shown.clone()), col, shown))
        }
    }

    fn long_opt(&mut self, tok: &'a Token) -> Result<Opt, (Problem, u32, String)> {
        self.idx += 1;
        let body = &tok.text[2..];
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let exact = LONG.iter().find(|(n, _)| *n == name);
        let candidates: Vec<_> = LONG.iter().filter(|(n, _)| n.starts_with(name)).collect();
        let found = match (exact, candidates.as_slice()) {
            (Some(e), _) => Some(e),
            (None, [one]) if !name.is_empty() => Some(*one),
            _ => None,
        };
        let Some(&(lname, takes_arg)) = found else {
            return Err((
                Problem::UnknownOption(tok.text.clone()),
                tok.column,
                tok.text.clone(),
            ));
        };
        let spelled = format!("--{lname}");
        let arg = match (takes_arg, inline) {
            (true, Some(v)) => Some(Token {
                text: v.to_owned(),
                column: tok.column + 3 + name.len() as u32,
            }),
            (true, None) => {
                let a = self.toks.get(self.idx).cloned();
                if a.is_none() {
                    return Err((
                        Problem::MissingArgument(spelled.clone()),
                        tok.column,
                        spelled,
                    ));
                }
                self.idx += 1;
                a
            }
            (false, Some(_)) => {
                return Err((
                    Problem::UnknownOption(tok.text.clone()),
                    tok.column,
                    tok.text.clone(),
                ))
            }
            (false, None) => None,
        };
        Ok(Opt {
            short: '\0',
            long: Some(lname),
            spelled,
            column: tok.column,
            arg,
        })
    }
}

impl Iterator for OptIter<'_> {
    /// An option, or (problem, column, offending text).
    type Item = Result<Opt, (Problem, u32, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let tok = self.toks.get(self.idx)?;
            if self.inner > 0 {
                return Some(self.short_opt(tok));
            }
            let t = tok.text.as_str();
            if t == "--" {
                self.idx += 1;
                self.strays.extend(self.toks[self.idx..].iter().cloned());
                self.idx = self.toks.len();
                return None;
            }
            if t.starts_with("--") {
                return Some(self.long_opt(tok));
            }
            if t.len() > 1 && t.starts_with('-') {
                self.inner = 1;
                return Some(self.short_opt(tok));
            }
            self.strays.push(tok.clone());
            self.idx += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::argv_tokens;

    fn opts(argv: &[&str]) -> (Vec<(char, Option<String>)>, Vec<String>) {
        let toks = argv_tokens(argv);
        let mut it = OptIter::new(&toks);
        let mut out = Vec::new();
        for o in it.by_ref() {
            let o = o.unwrap();
            let c = if o.short == '\0' { 'L' } else { o.short };
            out.push((c, o.arg.map(|a| a.text)));
        }
        (out, it.strays.iter().map(|t| t.text.clone()).collect())
    }

    #[test]
    fn attached_grouped_and_strays() {
        let (o, s) = opts(&["-Fuid=0", "-ic", "x", "-k", "-dash"]);
        assert_eq!(
            o,
            vec![
                ('F', Some("uid=0".into())),
                ('i', None),
                ('c', None),
                ('k', Some("-dash".into()))
            ]
        );
        assert_eq!(s, vec!["x".to_string()]);
    }

    #[test]
    fn long_options() {
        let (o, _) = opts(&[
            "--backlog",
            "100",
            "--backlog_wait_time=5",
            "--loginuid-immutable",
        ]);
        assert_eq!(
            o,
            vec![
                ('L', Some("100".into())),
                ('L', Some("5".into())),
                ('L', None)
            ]
        );
    }

    #[test]
    fn errors() {
        let toks = argv_tokens(&["-Z"]);
        let r = OptIter::new(&toks).next().unwrap();
        assert!(matches!(r, Err((Problem::UnknownOption(ref s), 2, _)) if s == "-Z"));
        let toks = argv_tokens(&["-a", "x", "-k"]);
        let mut it = OptIter::new(&toks);
        assert!(it.next().unwrap().is_ok());
        assert!(matches!(
            it.next().unwrap(),
            Err((Problem::MissingArgument(_), _, _))
        ));
        let toks = argv_tokens(&["--nope"]);
        assert!(OptIter::new(&toks).next().unwrap().is_err());
    }
}
