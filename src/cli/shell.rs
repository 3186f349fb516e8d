//! `riffle sql`: an interactive SQL shell in the manner of the ksql CLI.
//!
//! Statements end with `;` and may span lines; history lives in
//! `~/.riffle_history`. Results print as aligned tables; a push query
//! (`EMIT CHANGES`) streams rows until its `LIMIT` or Ctrl-C.
//! `RUN SCRIPT 'file.sql';` runs a file. Without `--server` the shell starts
//! an embedded server on `--data-dir` (loopback, a free port) and talks to
//! it the same way.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use riffle::server::{RestClient, Server, ServerConfig};
use riffle_log::LogConfig;
use serde_json::{json, Value as Json};

use super::{open_log, DataDirArg, DirMode};

/// Options of `riffle sql`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// A running server (`http://HOST:PORT`); without it the shell runs an
    /// embedded one on --data-dir.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    #[command(flatten)]
    dir: DataDirArg,
    /// Run the statements in FILE, then exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Run STATEMENT(S), then exit.
    #[arg(short = 'e', long = "execute", value_name = "STATEMENT")]
    execute: Option<String>,
}

/// Runs the shell.
///
/// # Errors
/// No server to talk to; in non-interactive mode, the first failing
/// statement (exit 1).
pub async fn run(a: ShellArgs) -> anyhow::Result<()> {
    let mut embedded = None;
    let client = match &a.server {
        Some(url) => RestClient::from_url(url)?,
        None => {
            let log = open_log(&a.dir.data_dir, DirMode::Create, LogConfig::default())?;
            let config = ServerConfig { rest: "127.0.0.1:0".parse()?, kafka: None, ..ServerConfig::default() };
            let server = Server::start(log.clone(), &a.dir.data_dir, config).await?;
            let c = RestClient::new(server.rest_addr());
            embedded = Some((server, log));
            c
        }
    };
    let mut shell = Shell { client, properties: serde_json::Map::new() };
    let result = if let Some(sql) = &a.execute {
        shell.run_script(sql).await
    } else if let Some(f) = &a.file {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        shell.run_script(&text).await
    } else if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        shell.run_script(&text).await
    } else {
        shell.interactive().await
    };
    if let Some((server, log)) = embedded {
        server.shutdown().await;
        log.close().context("closing the log")?;
    }
    result
}

struct Shell {
    client: RestClient,
    /// `SET` properties, sent with every request (as the ksql CLI does).
    properties: serde_json::Map<String, Json>,
}

/// Splits `text` into statements (quotes and comments respected); a
/// trailing part without `;` is returned as the remainder.
fn complete_statements(text: &str) -> (Vec<String>, String) {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '-') if chars.peek().is_some_and(|(_, n)| *n == '-') => {
                for (_, n) in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            (None, ';') => {
                let s = strip_comment_lines(&text[start..=i]);
                if s != ";" {
                    out.push(s);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    (out, text[start..].to_string())
}

/// `s` without its leading `--` comment lines, trimmed.
fn strip_comment_lines(s: &str) -> String {
    let mut rest = s.trim_start();
    while rest.starts_with("--") {
        rest = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
    }
    rest.trim().to_string()
}

impl Shell {
    async fn interactive(&mut self) -> anyhow::Result<()> {
        let mut rl = rustyline::DefaultEditor::new().context("cannot start line editing")?;
        let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".riffle_history"));
        if let Some(h) = &history {
            let _ = rl.load_history(h);
        }
        println!("riffle sql — statements end with ';'. Try: SHOW STREAMS; · RUN SCRIPT 'file.sql'; · exit");
        let mut pending = String::new();
        loop {
            let prompt = if pending.trim().is_empty() { "riffle> " } else { "     > " };
            let line = match tokio::task::block_in_place(|| rl.readline(prompt)) {
                Ok(l) => l,
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    pending.clear();
                    continue;
                }
                Err(rustyline::error::ReadlineError::Eof) => break,
                Err(e) => return Err(e).context("reading input"),
            };
            if pending.trim().is_empty() && matches!(line.trim().to_ascii_lowercase().as_str(), "exit" | "quit" | "exit;" | "quit;") {
                break;
            }
            pending.push_str(&line);
            pending.push('\n');
            let (statements, rest) = complete_statements(&pending);
            if statements.is_empty() {
                continue;
            }
            let _ = rl.add_history_entry(pending.trim());
            pending = rest;
            for s in statements {
                if let Err(e) = self.statement(&s).await {
                    eprintln!("{e:#}");
                }
            }
        }
        if let Some(h) = &history {
            let _ = rl.save_history(h);
        }
        Ok(())
    }

    async fn run_script(&mut self, text: &str) -> anyhow::Result<()> {
        let (mut statements, rest) = complete_statements(text);
        if !rest.trim().is_empty() {
            statements.push(rest.trim().to_string());
        }
        for s in statements {
            self.statement(&s).await?;
        }
        Ok(())
    }

    async fn statement(&mut self, s: &str) -> anyhow::Result<()> {
        let upper = s.trim_start().to_ascii_uppercase();
        if upper.starts_with("RUN SCRIPT") {
            let path = s.trim_start()[10..].trim().trim_end_matches(';').trim().trim_matches('\'').to_string();
            let text = std::fs::read_to_string(&path).with_context(|| format!("RUN SCRIPT: cannot read {path}"))?;
            return Box::pin(self.run_script(&text)).await;
        }
        if upper.starts_with("SET ") || upper.starts_with("UNSET ") {
            return self.set(s);
        }
        if upper.starts_with("SELECT") {
            return self.query(s).await;
        }
        let resp = self.client.ksql(s, &Json::Object(self.properties.clone())).await?;
        if resp.status >= 400 {
            anyhow::bail!("{}", resp.body.get("message").and_then(Json::as_str).unwrap_or("request failed"));
        }
        for entity in resp.body.as_array().into_iter().flatten() {
            print_entity(entity);
        }
        Ok(())
    }

    fn set(&mut self, s: &str) -> anyhow::Result<()> {
        let body = s.trim().trim_end_matches(';').trim();
        let quoted: Vec<&str> = body.split('\'').collect();
        if body.to_ascii_uppercase().starts_with("SET ") && quoted.len() >= 4 {
            self.properties.insert(quoted[1].to_string(), json!(quoted[3]));
            println!("Successfully changed local property '{}' to '{}'.", quoted[1], quoted[3]);
        } else if quoted.len() >= 2 {
            self.properties.remove(quoted[1]);
            println!("Successfully unset local property '{}'.", quoted[1]);
        } else {
            anyhow::bail!("usage: SET 'property' = 'value'; or UNSET 'property';");
        }
        Ok(())
    }

    async fn query(&mut self, s: &str) -> anyhow::Result<()> {
        let mut rows = self.client.query_stream(s, &Json::Object(self.properties.clone())).await?;
        let Some(meta) = rows.next().await? else { return Ok(()) };
        let names: Vec<String> = meta["columnNames"]
            .as_array()
            .map(|a| a.iter().map(|n| n.as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default();
        let push = s.to_ascii_uppercase().contains("EMIT CHANGES") || s.to_ascii_uppercase().contains("EMIT FINAL");
        if !push {
            let mut all = Vec::new();
            while let Some(r) = rows.next().await? {
                all.push(row_cells(&r));
            }
            print_table(&names, &all);
            println!("Query terminated");
            return Ok(());
        }
        // Push: a header, then rows as they come, until the end or Ctrl-C.
        let widths: Vec<usize> = names.iter().map(|n| n.len().max(16)).collect();
        print_row(&widths, &names);
        println!("{}", separator(&widths));
        loop {
            tokio::select! {
                r = rows.next() => match r? {
                    Some(r) => print_row(&widths, &row_cells(&r)),
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => {
                    if let Some(id) = meta["queryId"].as_str() {
                        let _ = self.client.close_query(id).await;
                    }
                    break;
                }
            }
        }
        println!("Query terminated");
        Ok(())
    }
}

fn row_cells(row: &Json) -> Vec<String> {
    row.as_array()
        .map(|a| a.iter().map(|v| if let Json::String(s) = v { s.clone() } else { v.to_string() }).collect())
        .unwrap_or_default()
}

fn separator(widths: &[usize]) -> String {
    let mut s = String::from("+");
    for w in widths {
        s.push_str(&"-".repeat(w + 2));
        s.push('+');
    }
    s
}

fn print_row(widths: &[usize], cells: &[String]) {
    let mut s = String::from("|");
    for (i, w) in widths.iter().enumerate() {
        let c = cells.get(i).map_or("", String::as_str);
        s.push_str(&format!(" {c:<w$} |"));
    }
    println!("{s}");
}

/// Prints rows as an aligned table.
fn print_table(names: &[String], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = names.iter().map(String::len).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    println!("{}", separator(&widths));
    print_row(&widths, names);
    println!("{}", separator(&widths));
    for r in rows {
        print_row(&widths, r);
    }
    println!("{}", separator(&widths));
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Prints one `/ksql` entity the way the ksql CLI does.
fn print_entity(e: &Json) {
    let list = |key: &str, cols: &[(&str, &str)]| {
        let names: Vec<String> = cols.iter().map(|(h, _)| (*h).to_string()).collect();
        let rows: Vec<Vec<String>> = e[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| cols.iter().map(|(_, f)| text(&item[*f])).collect())
            .collect();
        print_table(&names, &rows);
    };
    match e["@type"].as_str().unwrap_or("") {
        "currentStatus" => println!("{}", text(&e["commandStatus"]["message"])),
        "streams" => list("streams", &[("Stream Name", "name"), ("Kafka Topic", "topic"), ("Key Format", "keyFormat"), ("Value Format", "valueFormat"), ("Windowed", "isWindowed")]),
        "tables" => list("tables", &[("Table Name", "name"), ("Kafka Topic", "topic"), ("Key Format", "keyFormat"), ("Value Format", "valueFormat"), ("Windowed", "isWindowed")]),
        "queries" => list("queries", &[("Query ID", "id"), ("Status", "state"), ("Sink Name", "sinks"), ("Query String", "queryString")]),
        "kafka_topics" => list("topics", &[("Kafka Topic", "name"), ("Partitions", "replicaInfo")]),
        "properties" => list("properties", &[("Property", "name"), ("Value", "value")]),
        "function_names" => list("functions", &[("Function Name", "name"), ("Type", "type")]),
        "variables" => list("variables", &[("Variable Name", "name"), ("Value", "value")]),
        "sourceDescription" => {
            let d = &e["sourceDescription"];
            println!("Name                 : {}", text(&d["name"]));
            println!("Type                 : {}", text(&d["type"]));
            println!("Kafka topic          : {} (partitions: {})", text(&d["topic"]), text(&d["partitions"]));
            println!("Key format           : {}", text(&d["keyFormat"]));
            println!("Value format         : {}", text(&d["valueFormat"]));
            let rows: Vec<Vec<String>> = d["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let key = if f["type"] == "KEY" { " (key)" } else { "" };
                    vec![text(&f["name"]), format!("{}{key}", text(&f["schema"]["type"]))]
                })
                .collect();
            print_table(&["Field".into(), "Type".into()], &rows);
        }
        _ => println!("{}", serde_json::to_string_pretty(e).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::complete_statements;

    #[test]
    fn statements_split_on_semicolons_outside_quotes_and_comments() {
        let (s, rest) = complete_statements("SELECT 'a;b' FROM x; -- c;\nSHOW STREAMS;\nCREATE");
        assert_eq!(s, vec!["SELECT 'a;b' FROM x;".to_string(), "SHOW STREAMS;".to_string()]);
        assert_eq!(rest.trim(), "CREATE");
    }
}
