//! Splitting a rules-file line into words the way auditctl does: only the space character
//! separates words (a tab does not), `\ ` is a space inside a word and `\\` a backslash, quotes
//! are ordinary characters, and `#` starts a comment only as the first word.

/// Longest line auditctl reads in one piece (`LINE_SIZE - 1`).
pub const MAX_LINE: usize = 6143;

/// One word of a line, with the 1-based byte column where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub column: u32,
}

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Empty or only spaces.
    Blank,
    /// First word starts with `#`.
    Comment,
    Words(Vec<Token>),
}

/// Splits one line (without its newline).
pub fn split_line(line: &str) -> Line {
    if line.bytes().all(|b| b == b' ') {
        return Line::Blank;
    }
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && i + 1 < bytes.len() && (bytes[i + 1] == b' ' || bytes[i + 1] == b'\\') {
            start.get_or_insert(i);
            cur.push(bytes[i + 1]);
            i += 2;
            continue;
        }
        if b == b' ' {
            if let Some(s) = start.take() {
                words.push(token(&cur, s));
                cur.clear();
            }
        } else {
            start.get_or_insert(i);
            cur.push(b);
        }
        i += 1;
    }
    if let Some(s) = start {
        words.push(token(&cur, s));
    }
    match words.first() {
        None => Line::Blank,
        Some(w) if w.text.starts_with('#') => Line::Comment,
        Some(_) => Line::Words(words),
    }
}

fn token(bytes: &[u8], start: usize) -> Token {
    Token {
        // Escapes only replace ASCII bytes, so valid UTF-8 in stays valid UTF-8 out.
        text: String::from_utf8_lossy(bytes).into_owned(),
        column: u32::try_from(start + 1).unwrap_or(u32::MAX),
    }
}

/// Words of a command line (`vigil ctl -a ...`): the shell already split and unquoted them;
/// columns count into the arguments joined by single spaces.
pub fn argv_tokens<S: AsRef<str>>(argv: &[S]) -> Vec<Token> {
    let mut col = 1usize;
    argv.iter()
        .map(|a| {
            let t = Token {
                text: a.as_ref().to_owned(),
                column: u32::try_from(col).unwrap_or(u32::MAX),
            };
            col += a.as_ref().len() + 1;
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<(String, u32)> {
        match split_line(line) {
            Line::Words(w) => w.into_iter().map(|t| (t.text, t.column)).collect(),
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn spaces_only_separate() {
        assert_eq!(
            words("-w /etc/passwd  -p wa"),
            vec![
                ("-w".into(), 1),
                ("/etc/passwd".into(), 4),
                ("-p".into(), 17),
                ("wa".into(), 20)
            ]
        );
        assert_eq!(words("\t-w /x")[0].0, "\t-w");
        assert_eq!(words("-k \"a b\"")[1].0, "\"a");
    }

    #[test]
    fn escapes() {
        assert_eq!(words(r"-w /tmp/a\ b")[1].0, "/tmp/a b");
        assert_eq!(words(r"-k a\\b")[1].0, r"a\b");
        assert_eq!(words(r"-k a\nb")[1].0, r"a\nb");
        assert_eq!(words(r"-k a\\ b")[1].0, r"a\");
        assert_eq!(words(r"-k a\")[1].0, r"a\");
    }

    #[test]
    fn blank_and_comments() {
        assert_eq!(split_line(""), Line::Blank);
        assert_eq!(split_line("    "), Line::Blank);
        assert_eq!(split_line("   # x"), Line::Comment);
        assert_eq!(split_line("#-w /x"), Line::Comment);
        assert!(matches!(split_line("-w /x # not a comment"), Line::Words(w) if w.len() == 6));
    }

    #[test]
    fn argv_columns() {
        let t = argv_tokens(&["-a", "always,exit", "-S", "open"]);
        assert_eq!(t[1].column, 4);
        assert_eq!(t[3].column, 19);
    }
}
