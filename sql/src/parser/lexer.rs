//! Tokens of ksqlDB SQL, with their line and column.

use crate::error::{Result, SqlError};

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword; `quoted` for `` `name` `` (case kept).
    Ident {
        /// Text: upper-cased unless quoted.
        text: String,
        /// Back-quoted (or double-quoted).
        quoted: bool,
    },
    /// `'text'` with `''` unescaped.
    Str(String),
    /// A number as written.
    Number(String),
    /// Punctuation and operators.
    Sym(&'static str),
    /// End of input.
    Eof,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Byte offset in the statement text.
    pub offset: usize,
}

const SYMBOLS: [&str; 25] = [
    "->", "=>", ":=", "<>", "!=", "<=", ">=", "||", "(", ")", ",", ";", ".", "*", "+", "-", "/", "%", "=", "<", ">",
    "[", "]", ":", "?",
];

/// Splits `text` into tokens (ending with [`Tok::Eof`]). Comments (`--` to
/// end of line and `/* … */`) are skipped.
///
/// # Errors
/// Unterminated strings, quoted identifiers or comments; characters that
/// start no token.
pub fn tokenize(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let err = |line: usize, column: usize, message: String| SqlError::Parse { line, column, message };
    macro_rules! bump {
        () => {{
            if chars[i].1 == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i].1;
        let next = chars.get(i + 1).map(|x| x.1);
        if c.is_whitespace() {
            bump!();
            continue;
        }
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i].1 != '\n' {
                bump!();
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let (l0, c0) = (line, col);
            bump!();
            bump!();
            loop {
                if i >= chars.len() {
                    return Err(err(l0, c0, "Syntax Error\nunterminated comment".into()));
                }
                if chars[i].1 == '*' && chars.get(i + 1).map(|x| x.1) == Some('/') {
                    bump!();
                    bump!();
                    break;
                }
                bump!();
            }
            continue;
        }
        let (l0, c0, off) = (line, col, chars[i].0);
        let tok = if c == '\'' || c == '`' || c == '"' {
            // A string literal ('…') or a quoted identifier (`…` or "…"):
            // the quote doubled stands for itself.
            let q = c;
            bump!();
            let mut s = String::new();
            loop {
                if i >= chars.len() {
                    let what = if q == '\'' { "string literal" } else { "quoted identifier" };
                    return Err(err(l0, c0, format!("Syntax Error\nunterminated {what}")));
                }
                let ch = chars[i].1;
                if ch == q {
                    if chars.get(i + 1).map(|x| x.1) == Some(q) {
                        s.push(q);
                        bump!();
                        bump!();
                        continue;
                    }
                    bump!();
                    break;
                }
                s.push(ch);
                bump!();
            }
            if q == '\'' {
                Tok::Str(s)
            } else {
                Tok::Ident { text: s, quoted: true }
            }
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let mut s = String::new();
            let mut seen_dot = false;
            while i < chars.len() {
                let ch = chars[i].1;
                if ch.is_ascii_digit() {
                    s.push(ch);
                } else if ch == '.' && !seen_dot && !s.contains(['e', 'E']) {
                    seen_dot = true;
                    s.push(ch);
                } else if (ch == 'e' || ch == 'E')
                    && !s.contains(['e', 'E'])
                    && chars.get(i + 1).is_some_and(|x| x.1.is_ascii_digit() || x.1 == '-' || x.1 == '+')
                {
                    s.push(ch);
                    bump!();
                    let sign = chars[i].1;
                    s.push(sign);
                } else {
                    break;
                }
                bump!();
            }
            // `1R`: an identifier that starts with digits (ksqlDB's
            // DIGIT_IDENTIFIER).
            if !s.contains(['.', 'e', 'E']) && i < chars.len() && (chars[i].1.is_alphabetic() || chars[i].1 == '_') {
                while i < chars.len() && (chars[i].1.is_alphanumeric() || chars[i].1 == '_') {
                    s.push(chars[i].1);
                    bump!();
                }
                Tok::Ident { text: s.to_uppercase(), quoted: false }
            } else {
                Tok::Number(s)
            }
        } else if c.is_alphabetic() || c == '_' || c == '$' || c == '@' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].1.is_alphanumeric() || matches!(chars[i].1, '_' | '$' | '@')) {
                s.push(chars[i].1);
                bump!();
            }
            Tok::Ident { text: s.to_uppercase(), quoted: false }
        } else {
            let rest = &text[off..];
            let Some(sym) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) else {
                return Err(err(l0, c0, format!("Syntax Error\nextraneous input '{c}'")));
            };
            for _ in 0..sym.chars().count() {
                bump!();
            }
            Tok::Sym(sym)
        };
        out.push(Token { tok, line: l0, column: c0, offset: off });
    }
    out.push(Token { tok: Tok::Eof, line, column: col, offset: text.len() });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_with_positions() {
        let t = tokenize("SELECT `a b`, 'it''s', 1.5e3 -> x\n  FROM s -- c\n;").unwrap();
        let kinds: Vec<&Tok> = t.iter().map(|t| &t.tok).collect();
        assert_eq!(kinds[1], &Tok::Ident { text: "a b".into(), quoted: true });
        assert_eq!(kinds[3], &Tok::Str("it's".into()));
        assert_eq!(kinds[5], &Tok::Number("1.5e3".into()));
        assert_eq!(kinds[6], &Tok::Sym("->"));
        assert_eq!((t[8].line, t[8].column), (2, 3));
        assert!(tokenize("'open").is_err());
        let t = tokenize("x AS 1r, 1e3").unwrap();
        assert_eq!(t[2].tok, Tok::Ident { text: "1R".into(), quoted: false });
        assert_eq!(t[4].tok, Tok::Number("1e3".into()));
    }
}
