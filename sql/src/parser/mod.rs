//! A recursive-descent parser for ksqlDB's dialect.
//!
//! ksqlDB's grammar departs from ANSI SQL in most of what matters here
//! (`WITH (…)` source properties, `WINDOW TUMBLING (…)`, `EMIT CHANGES`,
//! `PARTITION BY`, `WITHIN`, `->` struct access, lambdas, `STRUCT<…>`
//! types), so the parser is written for it directly: a small lexer
//! ([`lexer`]) and one function per grammar rule. Errors carry the line and
//! column and read like ksqlDB's (`line 1:33: Syntax Error …`).

pub mod lexer;

use std::collections::BTreeMap;

use lexer::{tokenize, Tok, Token};

use crate::ast::*;
use crate::catalog::SourceKind;
use crate::error::{Result, SqlError};
use crate::types::SqlType;

/// Splits a script into statement texts at top-level `;`.
///
/// # Errors
/// Text that does not tokenize.
pub fn split_statements(text: &str) -> Result<Vec<String>> {
    let tokens = tokenize(text)?;
    let mut out = Vec::new();
    let mut start = 0usize;
    for t in &tokens {
        match t.tok {
            Tok::Sym(";") => {
                let s = text[start..t.offset].trim();
                if !s.is_empty() {
                    out.push(format!("{s};"));
                }
                start = t.offset + 1;
            }
            Tok::Eof => {
                let s = text[start..].trim();
                if !s.is_empty() {
                    out.push(s.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parses one statement. `types` resolves `CREATE TYPE` names.
///
/// # Errors
/// Syntax errors with line and column.
pub fn parse_statement(text: &str, types: &BTreeMap<String, SqlType>) -> Result<Statement> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, pos: 0, text, types };
    let stmt = p.statement()?;
    p.eat_sym(";");
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.error(format!("extraneous input '{}'", p.peek_text())));
    }
    Ok(stmt)
}

/// Parses one expression (for tests and tools).
///
/// # Errors
/// Syntax errors.
pub fn parse_expr(text: &str) -> Result<Expr> {
    let types = BTreeMap::new();
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, pos: 0, text, types: &types };
    let e = p.expr()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.error(format!("extraneous input '{}'", p.peek_text())));
    }
    Ok(e)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    text: &'a str,
    types: &'a BTreeMap<String, SqlType>,
}

/// Words that end an expression or clause and so cannot be an alias.
const RESERVED: &[&str] = &[
    "FROM", "WHERE", "GROUP", "HAVING", "WINDOW", "EMIT", "PARTITION", "LIMIT", "JOIN", "INNER", "LEFT", "RIGHT",
    "FULL", "OUTER", "ON", "WITHIN", "AND", "OR", "NOT", "AS", "SELECT", "BY", "CASE", "WHEN", "THEN", "ELSE", "END",
    "IS", "IN", "LIKE", "BETWEEN", "WITH", "VALUES", "INTO",
];

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn peek_text(&self) -> String {
        match self.peek() {
            Tok::Ident { text, .. } => text.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Number(n) => n.clone(),
            Tok::Sym(s) => (*s).to_string(),
            Tok::Eof => "<EOF>".into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> SqlError {
        let t = &self.tokens[self.pos.min(self.tokens.len() - 1)];
        SqlError::Parse {
            line: t.line,
            column: t.column,
            message: format!("Syntax Error\n{}\nStatement: {}", message.into(), self.text.trim()),
        }
    }

    /// An error at the token just consumed, in `message`'s own words (not
    /// a syntax error).
    fn error_at_previous(&self, message: String) -> SqlError {
        let t = &self.tokens[self.pos.saturating_sub(1).min(self.tokens.len() - 1)];
        SqlError::Parse { line: t.line, column: t.column, message }
    }

    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident { text, quoted: false } if text == kw)
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_at(n), Tok::Ident { text, quoted: false } if text == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.error(format!("mismatched input '{}' expecting '{kw}'", self.peek_text())))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<()> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.error(format!("missing '{s}' at '{}'", self.peek_text())))
        }
    }

    fn ident(&mut self) -> Result<String> {
        match self.peek().clone() {
            Tok::Ident { text, .. } => {
                self.pos += 1;
                Ok(text)
            }
            _ => Err(self.error(format!("mismatched input '{}' expecting an identifier", self.peek_text()))),
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error(format!("mismatched input '{}' expecting a string", self.peek_text()))),
        }
    }

    fn integer(&mut self) -> Result<i64> {
        let neg = self.eat_sym("-");
        match self.peek().clone() {
            Tok::Number(n) => {
                self.pos += 1;
                let v: i64 = n.parse().map_err(|_| self.error(format!("'{n}' is not an integer")))?;
                Ok(if neg { -v } else { v })
            }
            _ => Err(self.error(format!("mismatched input '{}' expecting INTEGER_VALUE", self.peek_text()))),
        }
    }

    // ---- statements ------------------------------------------------------

    fn statement(&mut self) -> Result<Statement> {
        let Tok::Ident { text: first, quoted: false } = self.peek().clone() else {
            return Err(self.error(format!("Unknown statement '{}'", self.peek_text())));
        };
        match first.as_str() {
            "CREATE" => self.create(),
            "INSERT" => self.insert(),
            "DROP" => self.drop_stmt(),
            "SELECT" => Ok(Statement::Select(self.query()?)),
            "SHOW" | "LIST" => {
                self.pos += 1;
                let what = self.ident()?;
                let w = match what.as_str() {
                    "STREAMS" => ShowWhat::Streams,
                    "TABLES" => ShowWhat::Tables,
                    "TOPICS" | "ALL" => {
                        if what == "ALL" {
                            self.expect_kw("TOPICS")?;
                        }
                        ShowWhat::Topics
                    }
                    "QUERIES" => ShowWhat::Queries,
                    "FUNCTIONS" => ShowWhat::Functions,
                    "PROPERTIES" => ShowWhat::Properties,
                    "TYPES" => ShowWhat::Types,
                    "VARIABLES" => ShowWhat::Variables,
                    other => return Err(self.error(format!("cannot SHOW {other}"))),
                };
                self.eat_kw("EXTENDED");
                Ok(Statement::Show(w))
            }
            "DESCRIBE" => {
                self.pos += 1;
                if self.eat_kw("FUNCTION") {
                    return Ok(Statement::DescribeFunction(self.ident()?));
                }
                let extended = self.eat_kw("EXTENDED");
                if self.is_kw("STREAMS") || self.is_kw("TABLES") {
                    let w = if self.ident()? == "STREAMS" { ShowWhat::Streams } else { ShowWhat::Tables };
                    return Ok(Statement::Show(w));
                }
                let name = self.ident()?;
                let extended = extended || self.eat_kw("EXTENDED");
                Ok(Statement::Describe { name, extended })
            }
            "EXPLAIN" => {
                self.pos += 1;
                if matches!(self.peek(), Tok::Ident { .. }) && matches!(self.peek_at(1), Tok::Sym(";") | Tok::Eof) {
                    return Ok(Statement::Explain(Box::new(ExplainTarget::QueryId(self.ident()?))));
                }
                Ok(Statement::Explain(Box::new(ExplainTarget::Statement(self.statement()?))))
            }
            "TERMINATE" => {
                self.pos += 1;
                if self.eat_kw("ALL") {
                    return Ok(Statement::Terminate(None));
                }
                Ok(Statement::Terminate(Some(self.ident()?)))
            }
            "SET" => {
                self.pos += 1;
                let k = self.string()?;
                self.expect_sym("=")?;
                let v = self.string()?;
                Ok(Statement::Set(k, v))
            }
            "UNSET" => {
                self.pos += 1;
                Ok(Statement::Unset(self.string()?))
            }
            "DEFINE" => {
                self.pos += 1;
                let name = self.ident()?;
                self.expect_sym("=")?;
                Ok(Statement::Define(name, self.string()?))
            }
            "UNDEFINE" => {
                self.pos += 1;
                Ok(Statement::Undefine(self.ident()?))
            }
            "PRINT" => {
                self.pos += 1;
                let topic = match self.peek().clone() {
                    Tok::Str(s) => {
                        self.pos += 1;
                        s
                    }
                    _ => self.ident()?,
                };
                let from_beginning = if self.eat_kw("FROM") {
                    self.expect_kw("BEGINNING")?;
                    true
                } else {
                    false
                };
                let limit = if self.eat_kw("LIMIT") { Some(self.integer()?) } else { None };
                Ok(Statement::Print { topic, from_beginning, limit })
            }
            "ASSERT" => {
                let start = self.tokens[self.pos].offset;
                while !matches!(self.peek(), Tok::Eof | Tok::Sym(";")) {
                    self.pos += 1;
                }
                let end = self.tokens[self.pos].offset;
                Ok(Statement::Assert(self.text[start..end].trim().to_string()))
            }
            other => Err(self.error(format!("Unknown statement '{other}'"))),
        }
    }

    fn source_kind(&mut self) -> Result<SourceKind> {
        if self.eat_kw("STREAM") {
            Ok(SourceKind::Stream)
        } else if self.eat_kw("TABLE") {
            Ok(SourceKind::Table)
        } else {
            Err(self.error(format!("mismatched input '{}' expecting {{'STREAM', 'TABLE'}}", self.peek_text())))
        }
    }

    fn create(&mut self) -> Result<Statement> {
        self.expect_kw("CREATE")?;
        let or_replace = if self.eat_kw("OR") {
            self.expect_kw("REPLACE")?;
            true
        } else {
            false
        };
        if self.eat_kw("TYPE") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.ident()?;
            self.expect_kw("AS")?;
            let ty = self.data_type()?;
            return Ok(Statement::CreateType { name, ty, if_not_exists });
        }
        let read_only = self.eat_kw("SOURCE");
        let kind = self.source_kind()?;
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident()?;
        let mut columns = Vec::new();
        if self.eat_sym("(") {
            loop {
                columns.push(self.column_def()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
        }
        let props = if self.is_kw("WITH") { self.props()? } else { Vec::new() };
        if self.eat_kw("AS") {
            let query = self.query()?;
            return Ok(Statement::CreateAsSelect { kind, or_replace, if_not_exists, name, props, query });
        }
        Ok(Statement::CreateSource { kind, or_replace, if_not_exists, read_only, name, columns, props })
    }

    fn if_not_exists(&mut self) -> Result<bool> {
        if self.is_kw("IF") && self.is_kw_at(1, "NOT") {
            self.pos += 2;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn column_def(&mut self) -> Result<ColumnDef> {
        let name = self.ident()?;
        let ty = self.data_type()?;
        let mut def = ColumnDef { name, ty, key: false, primary: false, header: None };
        loop {
            if self.eat_kw("PRIMARY") {
                self.expect_kw("KEY")?;
                def.key = true;
                def.primary = true;
            } else if self.eat_kw("KEY") {
                def.key = true;
            } else if self.eat_kw("HEADERS") {
                def.header = Some(None);
            } else if self.eat_kw("HEADER") {
                self.expect_sym("(")?;
                let k = self.string()?;
                self.expect_sym(")")?;
                def.header = Some(Some(k));
            } else {
                break;
            }
        }
        if !self.is_sym(",") && !self.is_sym(")") {
            return Err(self.error("Expecting {',', ')'}"));
        }
        Ok(def)
    }

    fn data_type(&mut self) -> Result<SqlType> {
        let name = self.ident()?;
        // Only DECIMAL takes parameters (`INT(KEY)` is a misplaced KEY).
        if name != "DECIMAL" && self.is_sym("(") && !matches!(self.peek_at(1), Tok::Number(_)) {
            self.pos += 1;
            return Err(self.error("Expecting {'STRING', INTEGER_VALUE}"));
        }
        Ok(match name.as_str() {
            "BOOLEAN" => SqlType::Boolean,
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::Bigint,
            "DOUBLE" => SqlType::Double,
            "STRING" | "VARCHAR" => {
                if self.is_sym("(") {
                    return Err(self.error("Expecting {',', ')'}"));
                }
                SqlType::String
            }
            "BYTES" => SqlType::Bytes,
            "DATE" => SqlType::Date,
            "TIME" => SqlType::Time,
            "TIMESTAMP" => SqlType::Timestamp,
            "DECIMAL" => {
                self.expect_sym("(")?;
                let p = self.integer()?;
                let s = if self.eat_sym(",") { self.integer()? } else { 0 };
                self.expect_sym(")")?;
                if !(1..=38).contains(&p) || s < 0 || s > p {
                    return Err(SqlError::semantic(format!(
                        "DECIMAL precision must be in range [1, 38] and scale in [0, precision]; got DECIMAL({p}, {s})"
                    )));
                }
                SqlType::Decimal { precision: p as u8, scale: s as i8 }
            }
            "ARRAY" => {
                self.expect_sym("<")?;
                let e = self.data_type()?;
                self.expect_sym(">")?;
                SqlType::Array(Box::new(e))
            }
            "MAP" => {
                self.expect_sym("<")?;
                let k = self.data_type()?;
                self.expect_sym(",")?;
                let v = self.data_type()?;
                self.expect_sym(">")?;
                SqlType::Map(Box::new(k), Box::new(v))
            }
            "STRUCT" => {
                self.expect_sym("<")?;
                let mut fields = Vec::new();
                if !self.is_sym(">") {
                    loop {
                        let f = self.ident()?;
                        let t = self.data_type()?;
                        fields.push((f, t));
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                self.expect_sym(">")?;
                SqlType::Struct(fields)
            }
            "NULL" => return Err(self.error("mismatched input 'NULL': NULL is not a type")),
            other => match self.types.get(other) {
                Some(t) => t.clone(),
                None => return Err(SqlError::semantic(format!("Unknown type: {other}"))),
            },
        })
    }

    fn props(&mut self) -> Result<Props> {
        self.expect_kw("WITH")?;
        self.expect_sym("(")?;
        let mut props = Vec::new();
        loop {
            let k = self.ident()?.to_ascii_uppercase();
            self.expect_sym("=")?;
            let v = self.literal()?;
            props.push((k, v));
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(props)
    }

    fn literal(&mut self) -> Result<Literal> {
        let neg = self.eat_sym("-");
        let lit = match self.advance() {
            Tok::Str(s) => Literal::String(s),
            Tok::Number(n) => number_literal(&n, neg).map_err(|m| self.error_at_previous(m))?,
            Tok::Ident { text, quoted: false } if text == "TRUE" => Literal::Boolean(true),
            Tok::Ident { text, quoted: false } if text == "FALSE" => Literal::Boolean(false),
            Tok::Ident { text, quoted: false } if text == "NULL" => Literal::Null,
            _ => {
                self.pos -= 1;
                return Err(self.error(format!("mismatched input '{}' expecting a literal", self.peek_text())));
            }
        };
        if neg && !matches!(lit, Literal::Integer(_) | Literal::Decimal(_) | Literal::Double(_)) {
            return Err(self.error("'-' before a non-number"));
        }
        Ok(lit)
    }

    fn insert(&mut self) -> Result<Statement> {
        self.expect_kw("INSERT")?;
        self.expect_kw("INTO")?;
        let target = self.ident()?;
        if self.is_kw("WITH") {
            self.props()?;
        }
        let mut columns = None;
        if self.is_sym("(") {
            self.pos += 1;
            let mut cols = Vec::new();
            loop {
                cols.push(self.ident()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            columns = Some(cols);
        }
        if self.eat_kw("VALUES") {
            self.expect_sym("(")?;
            let mut values = Vec::new();
            if !self.is_sym(")") {
                loop {
                    values.push(self.expr()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
            }
            self.expect_sym(")")?;
            return Ok(Statement::InsertValues { target, columns, values });
        }
        Ok(Statement::InsertInto { target, query: self.query()? })
    }

    fn drop_stmt(&mut self) -> Result<Statement> {
        self.expect_kw("DROP")?;
        if self.eat_kw("TYPE") {
            let if_exists = if self.eat_kw("IF") {
                self.expect_kw("EXISTS")?;
                true
            } else {
                false
            };
            return Ok(Statement::DropType { name: self.ident()?, if_exists });
        }
        let kind = self.source_kind()?;
        let if_exists = if self.eat_kw("IF") {
            self.expect_kw("EXISTS")?;
            true
        } else {
            false
        };
        let name = self.ident()?;
        let delete_topic = if self.eat_kw("DELETE") {
            self.expect_kw("TOPIC")?;
            true
        } else {
            false
        };
        Ok(Statement::Drop { kind, if_exists, name, delete_topic })
    }

    // ---- queries ---------------------------------------------------------

    fn query(&mut self) -> Result<Query> {
        self.expect_kw("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_kw("FROM")?;
        let from = self.relation()?;
        let mut q = Query {
            select,
            from,
            window: None,
            where_clause: None,
            group_by: Vec::new(),
            partition_by: Vec::new(),
            having: None,
            emit: None,
            limit: None,
        };
        if self.eat_kw("WINDOW") {
            q.window = Some(self.window()?);
        }
        if self.eat_kw("WHERE") {
            q.where_clause = Some(self.expr()?);
        }
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            q.group_by = self.expr_list_maybe_parens()?;
        }
        if self.eat_kw("PARTITION") {
            self.expect_kw("BY")?;
            // ksqlDB's grammar takes `()`, then refuses it.
            if self.is_sym("(") && matches!(self.peek_at(1), Tok::Sym(")")) {
                return Err(SqlError::semantic("PARTITION BY requires at least one expression"));
            }
            q.partition_by = self.expr_list_maybe_parens()?;
        }
        if self.eat_kw("HAVING") {
            q.having = Some(self.expr()?);
        }
        if self.eat_kw("EMIT") {
            if self.eat_kw("CHANGES") {
                q.emit = Some(Emit::Changes);
            } else if self.eat_kw("FINAL") {
                q.emit = Some(Emit::Final);
            } else {
                return Err(self.error(format!("mismatched input '{}' expecting {{'CHANGES', 'FINAL'}}", self.peek_text())));
            }
        }
        if self.eat_kw("LIMIT") {
            q.limit = Some(self.integer()?);
        }
        Ok(q)
    }

    fn expr_list_maybe_parens(&mut self) -> Result<Vec<Expr>> {
        let mut out = Vec::new();
        loop {
            out.push(self.expr()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(out)
    }

    fn select_item(&mut self) -> Result<SelectItem> {
        if self.eat_sym("*") {
            return Ok(SelectItem::Star);
        }
        if matches!(self.peek(), Tok::Ident { .. })
            && matches!(self.peek_at(1), Tok::Sym("."))
            && matches!(self.peek_at(2), Tok::Sym("*"))
        {
            let q = self.ident()?;
            self.pos += 2;
            return Ok(SelectItem::QualifiedStar(q));
        }
        let expr = self.expr()?;
        let alias = self.alias()?;
        Ok(SelectItem::Expr { expr, alias })
    }

    fn alias(&mut self) -> Result<Option<String>> {
        if self.eat_kw("AS") {
            return Ok(Some(self.ident()?));
        }
        match self.peek() {
            Tok::Ident { text, quoted } if *quoted || !RESERVED.contains(&text.as_str()) => Ok(Some(self.ident()?)),
            _ => Ok(None),
        }
    }

    fn relation(&mut self) -> Result<Relation> {
        let mut left = self.source_ref()?;
        loop {
            let kind = if self.eat_kw("JOIN") {
                JoinType::Inner
            } else if self.eat_kw("INNER") {
                self.expect_kw("JOIN")?;
                JoinType::Inner
            } else if self.is_kw("LEFT") || self.is_kw("RIGHT") || self.is_kw("FULL") {
                let k = match self.ident()?.as_str() {
                    "LEFT" => JoinType::Left,
                    "RIGHT" => JoinType::Right,
                    _ => JoinType::Full,
                };
                self.eat_kw("OUTER");
                self.expect_kw("JOIN")?;
                k
            } else if self.is_kw("OUTER") {
                self.pos += 1;
                self.expect_kw("JOIN")?;
                JoinType::Full
            } else {
                break;
            };
            let right = self.source_ref()?;
            let within = if self.eat_kw("WITHIN") { Some(self.within()?) } else { None };
            self.expect_kw("ON")?;
            let on = self.expr()?;
            left = Relation::Join { left: Box::new(left), right: Box::new(right), kind, on, within };
        }
        Ok(left)
    }

    fn source_ref(&mut self) -> Result<Relation> {
        let name = self.ident()?;
        let alias = self.alias()?;
        Ok(Relation::Source { name, alias })
    }

    fn within(&mut self) -> Result<(i64, i64, Option<i64>)> {
        let (before, after) = if self.eat_sym("(") {
            let b = self.duration()?;
            self.expect_sym(",")?;
            let a = self.duration()?;
            self.expect_sym(")")?;
            (b, a)
        } else {
            let d = self.duration()?;
            (d, d)
        };
        let grace = if self.eat_kw("GRACE") {
            self.expect_kw("PERIOD")?;
            Some(self.duration()?)
        } else {
            None
        };
        Ok((before, after, grace))
    }

    fn duration(&mut self) -> Result<i64> {
        let n = self.integer()?;
        let unit = self.ident()?;
        let ms = match unit.trim_end_matches('S') {
            "MILLISECOND" => 1,
            "SECOND" => 1000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            "WEEK" => 7 * 86_400_000,
            _ => return Err(self.error(format!("unknown time unit '{unit}'"))),
        };
        Ok(n * ms)
    }

    fn window(&mut self) -> Result<WindowClause> {
        let kind_word = self.ident()?;
        self.expect_sym("(")?;
        let mut size = None;
        let mut advance = None;
        let mut retention = None;
        let mut grace = None;
        let mut gap = None;
        loop {
            if self.eat_kw("SIZE") {
                size = Some(self.duration()?);
            } else if self.eat_kw("ADVANCE") {
                self.expect_kw("BY")?;
                advance = Some(self.duration()?);
            } else if self.eat_kw("RETENTION") {
                retention = Some(self.duration()?);
            } else if self.eat_kw("GRACE") {
                self.expect_kw("PERIOD")?;
                grace = Some(self.duration()?);
            } else if matches!(self.peek(), Tok::Number(_)) {
                gap = Some(self.duration()?);
            } else {
                return Err(self.error(format!("mismatched input '{}' in window", self.peek_text())));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        let missing = |what: &str| SqlError::semantic(format!("{kind_word} window requires {what}"));
        let kind = match kind_word.as_str() {
            "TUMBLING" => WindowKind::Tumbling { size_ms: size.ok_or_else(|| missing("SIZE"))? },
            "HOPPING" => WindowKind::Hopping {
                size_ms: size.ok_or_else(|| missing("SIZE"))?,
                advance_ms: advance.ok_or_else(|| missing("ADVANCE BY"))?,
            },
            "SESSION" => WindowKind::Session { gap_ms: gap.or(size).ok_or_else(|| missing("a gap"))? },
            other => return Err(self.error(format!("unknown window type '{other}'"))),
        };
        Ok(WindowClause { kind, retention_ms: retention, grace_ms: grace })
    }

    // ---- expressions -----------------------------------------------------

    fn expr(&mut self) -> Result<Expr> {
        // Single-parameter lambda: `x => body`.
        if matches!(self.peek(), Tok::Ident { .. }) && matches!(self.peek_at(1), Tok::Sym("=>")) {
            let p = self.ident()?;
            self.pos += 1;
            let body = self.expr()?;
            return Ok(Expr::Lambda { params: vec![p], body: Box::new(body) });
        }
        self.or_expr()
    }

    fn or_expr(&mut self) -> Result<Expr> {
        let mut e = self.and_expr()?;
        while self.eat_kw("OR") {
            let r = self.and_expr()?;
            e = Expr::Binary { op: BinOp::Or, left: Box::new(e), right: Box::new(r) };
        }
        Ok(e)
    }

    fn and_expr(&mut self) -> Result<Expr> {
        let mut e = self.not_expr()?;
        while self.eat_kw("AND") {
            let r = self.not_expr()?;
            e = Expr::Binary { op: BinOp::And, left: Box::new(e), right: Box::new(r) };
        }
        Ok(e)
    }

    fn not_expr(&mut self) -> Result<Expr> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr> {
        let e = self.concat_expr()?;
        let op = match self.peek() {
            Tok::Sym("=") => Some(BinOp::Eq),
            Tok::Sym("<>") | Tok::Sym("!=") => Some(BinOp::NotEq),
            Tok::Sym("<") => Some(BinOp::Lt),
            Tok::Sym("<=") => Some(BinOp::LtEq),
            Tok::Sym(">") => Some(BinOp::Gt),
            Tok::Sym(">=") => Some(BinOp::GtEq),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let r = self.concat_expr()?;
            return Ok(Expr::Binary { op, left: Box::new(e), right: Box::new(r) });
        }
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            if self.eat_kw("DISTINCT") {
                self.expect_kw("FROM")?;
                let r = self.concat_expr()?;
                return Ok(distinct_from(e, r, negated));
            }
            self.expect_kw("NULL")?;
            return Ok(Expr::IsNull { expr: Box::new(e), negated });
        }
        let negated = if self.is_kw("NOT") && (self.is_kw_at(1, "BETWEEN") || self.is_kw_at(1, "IN") || self.is_kw_at(1, "LIKE")) {
            self.pos += 1;
            true
        } else {
            false
        };
        if self.eat_kw("BETWEEN") {
            let low = self.concat_expr()?;
            self.expect_kw("AND")?;
            let high = self.concat_expr()?;
            return Ok(Expr::Between { expr: Box::new(e), low: Box::new(low), high: Box::new(high), negated });
        }
        if self.eat_kw("IN") {
            self.expect_sym("(")?;
            if self.is_sym(")") {
                return Err(self.error("mismatched input ')': IN needs at least one value"));
            }
            let mut list = Vec::new();
            loop {
                list.push(self.expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            return Ok(Expr::InList { expr: Box::new(e), list, negated });
        }
        if self.eat_kw("LIKE") {
            let pattern = self.concat_expr()?;
            let escape = if self.eat_kw("ESCAPE") { self.string()?.chars().next() } else { None };
            return Ok(Expr::Like { expr: Box::new(e), pattern: Box::new(pattern), escape, negated });
        }
        Ok(e)
    }

    fn concat_expr(&mut self) -> Result<Expr> {
        let mut e = self.additive()?;
        while self.eat_sym("||") {
            let r = self.additive()?;
            e = Expr::Binary { op: BinOp::Concat, left: Box::new(e), right: Box::new(r) };
        }
        Ok(e)
    }

    fn additive(&mut self) -> Result<Expr> {
        let mut e = self.multiplicative()?;
        loop {
            let op = if self.eat_sym("+") {
                BinOp::Add
            } else if self.eat_sym("-") {
                BinOp::Sub
            } else {
                break;
            };
            let r = self.multiplicative()?;
            e = Expr::Binary { op, left: Box::new(e), right: Box::new(r) };
        }
        Ok(e)
    }

    fn multiplicative(&mut self) -> Result<Expr> {
        let mut e = self.unary()?;
        loop {
            let op = if self.eat_sym("*") {
                BinOp::Mul
            } else if self.eat_sym("/") {
                BinOp::Div
            } else if self.eat_sym("%") {
                BinOp::Mod
            } else {
                break;
            };
            let r = self.unary()?;
            e = Expr::Binary { op, left: Box::new(e), right: Box::new(r) };
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.eat_sym("-") {
            // `-` and a number are one literal (the smallest BIGINT only
            // exists that way).
            if let Tok::Number(n) = self.peek().clone() {
                self.pos += 1;
                return Ok(Expr::Literal(number_literal(&n, true).map_err(|m| self.error_at_previous(m))?));
            }
            return Ok(match self.unary()? {
                Expr::Literal(Literal::Integer(v)) => Expr::Literal(Literal::Integer(-v)),
                Expr::Literal(Literal::Double(v)) => Expr::Literal(Literal::Double(-v)),
                Expr::Literal(Literal::Decimal(d)) => Expr::Literal(Literal::Decimal(format!("-{d}"))),
                e => Expr::Negate(Box::new(e)),
            });
        }
        if self.eat_sym("+") {
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat_sym("[") {
                let idx = self.expr()?;
                self.expect_sym("]")?;
                e = Expr::Subscript { expr: Box::new(e), index: Box::new(idx) };
            } else if self.eat_sym("->") {
                let f = self.ident()?;
                e = Expr::Field { expr: Box::new(e), field: f };
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr> {
        match self.peek().clone() {
            Tok::Number(n) => {
                self.pos += 1;
                Ok(Expr::Literal(number_literal(&n, false).map_err(|m| self.error_at_previous(m))?))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Literal(Literal::String(s)))
            }
            Tok::Sym("(") => {
                // `(a, b) => body` lambda?
                if let Some(params) = self.try_lambda_params() {
                    let body = self.expr()?;
                    return Ok(Expr::Lambda { params, body: Box::new(body) });
                }
                self.pos += 1;
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Ident { text, quoted } => {
                self.pos += 1;
                if !quoted {
                    match text.as_str() {
                        "NULL" => return Ok(Expr::Literal(Literal::Null)),
                        "TRUE" => return Ok(Expr::Literal(Literal::Boolean(true))),
                        "FALSE" => return Ok(Expr::Literal(Literal::Boolean(false))),
                        "CASE" => return self.case_expr(),
                        "CAST" if self.is_sym("(") => {
                            self.pos += 1;
                            let e = self.expr()?;
                            self.expect_kw("AS")?;
                            let ty = self.data_type()?;
                            self.expect_sym(")")?;
                            return Ok(Expr::Cast { expr: Box::new(e), ty });
                        }
                        "ARRAY" if self.is_sym("[") => {
                            self.pos += 1;
                            let mut items = Vec::new();
                            if !self.is_sym("]") {
                                loop {
                                    items.push(self.expr()?);
                                    if !self.eat_sym(",") {
                                        break;
                                    }
                                }
                            }
                            self.expect_sym("]")?;
                            return Ok(Expr::Array(items));
                        }
                        "MAP" if self.is_sym("(") => {
                            self.pos += 1;
                            let mut entries = Vec::new();
                            if !self.is_sym(")") {
                                loop {
                                    let k = self.expr()?;
                                    self.expect_sym(":=")?;
                                    let v = self.expr()?;
                                    entries.push((k, v));
                                    if !self.eat_sym(",") {
                                        break;
                                    }
                                }
                            }
                            self.expect_sym(")")?;
                            return Ok(Expr::Map(entries));
                        }
                        "STRUCT" if self.is_sym("(") => {
                            self.pos += 1;
                            let mut fields = Vec::new();
                            if !self.is_sym(")") {
                                loop {
                                    let n = self.ident()?;
                                    self.expect_sym(":=")?;
                                    let v = self.expr()?;
                                    fields.push((n, v));
                                    if !self.eat_sym(",") {
                                        break;
                                    }
                                }
                            }
                            self.expect_sym(")")?;
                            return Ok(Expr::Struct(fields));
                        }
                        _ => {}
                    }
                }
                if self.is_sym("(") && !quoted {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.eat_sym("*") {
                        args.push(Expr::Star);
                    } else if !self.is_sym(")") {
                        self.eat_kw("DISTINCT");
                        loop {
                            args.push(self.expr()?);
                            if !self.eat_sym(",") {
                                break;
                            }
                        }
                    }
                    self.expect_sym(")")?;
                    return Ok(Expr::Function { name: text, args });
                }
                if self.is_sym(".") && matches!(self.peek_at(1), Tok::Ident { .. }) {
                    self.pos += 1;
                    let name = self.ident()?;
                    return Ok(Expr::Column { qualifier: Some(text), name });
                }
                Ok(Expr::Column { qualifier: None, name: text })
            }
            _ => Err(self.error(format!("extraneous input '{}'", self.peek_text()))),
        }
    }

    /// At `(`: if this is `(a, b) => …`, consumes through `=>` and returns
    /// the parameter names.
    fn try_lambda_params(&mut self) -> Option<Vec<String>> {
        let mut i = 1;
        let mut params = Vec::new();
        loop {
            match self.peek_at(i) {
                Tok::Ident { text, .. } => params.push(text.clone()),
                _ => return None,
            }
            i += 1;
            match self.peek_at(i) {
                Tok::Sym(",") => i += 1,
                Tok::Sym(")") => break,
                _ => return None,
            }
        }
        if !matches!(self.peek_at(i + 1), Tok::Sym("=>")) {
            return None;
        }
        self.pos += i + 2;
        Some(params)
    }

    fn case_expr(&mut self) -> Result<Expr> {
        let operand = if self.is_kw("WHEN") { None } else { Some(Box::new(self.expr()?)) };
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let w = self.expr()?;
            self.expect_kw("THEN")?;
            let t = self.expr()?;
            whens.push((w, t));
        }
        if whens.is_empty() {
            return Err(self.error("CASE needs at least one WHEN"));
        }
        let else_expr = if self.eat_kw("ELSE") { Some(Box::new(self.expr()?)) } else { None };
        self.expect_kw("END")?;
        Ok(Expr::Case { operand, whens, else_expr })
    }
}

/// `a IS [NOT] DISTINCT FROM b` as null-safe comparisons: equal when both
/// are NULL or both are set and `=`.
fn distinct_from(a: Expr, b: Expr, negated: bool) -> Expr {
    let is_null = |e: &Expr, negated| Expr::IsNull { expr: Box::new(e.clone()), negated };
    let and = |l, r| Expr::Binary { op: BinOp::And, left: Box::new(l), right: Box::new(r) };
    let or = |l, r| Expr::Binary { op: BinOp::Or, left: Box::new(l), right: Box::new(r) };
    let both_null = and(is_null(&a, false), is_null(&b, false));
    let both_equal = and(
        and(is_null(&a, true), is_null(&b, true)),
        Expr::Binary { op: BinOp::Eq, left: Box::new(a.clone()), right: Box::new(b.clone()) },
    );
    let same = or(both_null, both_equal);
    if negated {
        same
    } else {
        Expr::Not(Box::new(same))
    }
}

/// A numeric literal, as ksqlDB types it: an exponent makes a DOUBLE, a
/// decimal point a DECIMAL, digits alone an INT/BIGINT. `Err` says why the
/// text is no number (ksqlDB's wording).
fn number_literal(n: &str, neg: bool) -> std::result::Result<Literal, String> {
    let text = if neg { format!("-{n}") } else { n.to_string() };
    if text.contains(['e', 'E']) {
        return match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Literal::Double(v)),
            Ok(_) => Err(format!("Number overflows DOUBLE: {text}")),
            Err(_) => Err(format!("bad number '{text}'")),
        };
    }
    if text.contains('.') {
        return Ok(Literal::Decimal(text));
    }
    text.parse::<i64>().map(Literal::Integer).map_err(|_| format!("Invalid numeric literal: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Statement {
        parse_statement(s, &BTreeMap::new()).unwrap()
    }

    #[test]
    fn numeric_literals_are_typed_and_checked_as_ksqldb_does() {
        let select = |lit: &str| parse_statement(&format!("CREATE STREAM O AS SELECT {lit} AS X FROM I;"), &BTreeMap::new());
        let first = |s: Statement| {
            let Statement::CreateAsSelect { query, .. } = s else { panic!("{s:?}") };
            format!("{:?}", query.select[0])
        };
        assert!(first(select("-9223372036854775808").unwrap()).contains("Integer(-9223372036854775808)"));
        assert!(first(select("1.50").unwrap()).contains("Decimal(\"1.50\")"));
        assert!(first(select("-2e3").unwrap()).contains("Double(-2000.0)"));
        for (lit, msg) in [
            ("9223372036854775808", "Invalid numeric literal: 9223372036854775808"),
            ("-9223372036854775809", "Invalid numeric literal: -9223372036854775809"),
            ("1.7976931348623159E308", "Number overflows DOUBLE: 1.7976931348623159E308"),
            ("-1.8E308", "Number overflows DOUBLE: -1.8E308"),
        ] {
            let e = select(lit).unwrap_err().to_string();
            assert!(e.ends_with(msg), "{lit}: {e}");
        }
    }

    #[test]
    fn create_stream_with_keys_and_props() {
        let s = parse("CREATE STREAM TEST (K STRING KEY, ID bigint, M MAP<STRING, ARRAY<INT>>) WITH (kafka_topic='t', value_format='JSON');");
        let Statement::CreateSource { name, columns, props, .. } = s else { panic!("{s:?}") };
        assert_eq!(name, "TEST");
        assert!(columns[0].key && !columns[1].key);
        assert_eq!(columns[2].ty, SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Array(Box::new(SqlType::Int)))));
        assert_eq!(props[0], ("KAFKA_TOPIC".into(), Literal::String("t".into())));
    }

    #[test]
    fn windowed_aggregate_query() {
        let s = parse(
            "CREATE TABLE T AS SELECT id, COUNT(*) AS c FROM s WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES) \
             WHERE x->y[1] > 2 GROUP BY id EMIT FINAL;",
        );
        let Statement::CreateAsSelect { query, .. } = s else { panic!() };
        assert_eq!(
            query.window,
            Some(WindowClause { kind: WindowKind::Tumbling { size_ms: 3_600_000 }, retention_ms: None, grace_ms: Some(600_000) })
        );
        assert_eq!(query.emit, Some(Emit::Final));
        assert_eq!(query.group_by.len(), 1);
    }

    #[test]
    fn joins_and_lambdas() {
        let s = parse("SELECT * FROM a JOIN b WITHIN 10 SECONDS ON a.id = b.id LEFT JOIN c ON a.x = c.x EMIT CHANGES;");
        let Statement::Select(q) = s else { panic!() };
        assert!(matches!(q.from, Relation::Join { kind: JoinType::Left, .. }));
        let e = parse_expr("TRANSFORM(xs, (k, v) => k + v)").unwrap();
        assert!(matches!(e, Expr::Function { ref args, .. } if matches!(args[1], Expr::Lambda { .. })));
    }

    #[test]
    fn errors_carry_positions() {
        let e = parse_statement("CREATE STREAM INPUT (K INT (KEY)) WITH (kafka_topic='input');", &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().starts_with("line 1:"), "{e}");
        assert!(e.to_string().contains("Syntax Error"));
        let e = parse_statement("RUN SCRIPT 'x';", &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("Unknown statement 'RUN'"), "{e}");
    }

    #[test]
    fn splits_scripts() {
        let v = split_statements("CREATE STREAM a (x INT) WITH (k='a;b'); SELECT * FROM a;\n").unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].contains("'a;b'"));
    }
}
