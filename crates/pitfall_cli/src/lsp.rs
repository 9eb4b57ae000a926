//! `pitfall lsp`: a Language Server over stdio.
//!
//! Diagnostics for Go files and Kubernetes YAML on open, change and save;
//! the rule name is the diagnostic's code, hovering it shows the rule's page,
//! and the findings' machine edits are offered as quick fixes. For a Go file
//! the whole package (its directory, with the unsaved text of open documents)
//! is read, so package-level rules see the edit; the other open files of that
//! package get fresh diagnostics too. `pitfall.toml` is found from each file.
//!
//! Messages are framed and parsed here (not by lsp-server's stdio threads) so
//! that a malformed message costs an error reply, never the server; a panic
//! while checking costs that request. lsp-server's `Message` and lsp-types'
//! structures carry the protocol.

use crate::config::Config;
use lsp_server::{Message, Notification, Request, RequestId, Response};
use lsp_types as lt;
use pitfall_report::{Finding, Severity};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

#[derive(clap::Args, Clone)]
pub struct LspArgs {
    /// Ignored: the server always speaks over stdin/stdout (editors pass it)
    #[arg(long)]
    stdio: bool,
}

/// Largest message accepted (a document of a few MB, JSON-escaped).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub fn run(_args: LspArgs) -> Result<u8, String> {
    // Rules recurse on deep code: the same stack the checker's workers get.
    let server = std::thread::Builder::new()
        .name("pitfall-lsp".into())
        .stack_size(64 * 1024 * 1024)
        .spawn(|| {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let mut output = std::io::stdout().lock();
            serve(&mut input, &mut output)
        })
        .map_err(|e| e.to_string())?;
    server
        .join()
        .map_err(|_| "the language server crashed".to_string())?
}

/// Runs the server until `exit` (or the end of the input). Exit status 0
/// after `shutdown`, 1 otherwise, as the protocol asks.
pub fn serve(input: &mut dyn BufRead, output: &mut dyn Write) -> Result<u8, String> {
    let mut server = Server::default();
    loop {
        let raw = match read_frame(input) {
            Ok(Some(raw)) => raw,
            Ok(None) => return Ok(1),
            Err(Frame::Bad(why)) => {
                // A broken header or body: answer with a parse error, go on.
                send(
                    output,
                    Message::Response(error(RequestId::from(0), -32700, why)),
                )?;
                continue;
            }
            Err(Frame::Io(e)) => return Err(format!("reading stdin: {e}")),
        };
        let msg = match serde_json::from_slice::<Value>(&raw) {
            Ok(v) => classify(v),
            Err(e) => Err(format!("not JSON: {e}")),
        };
        let msg = match msg {
            Ok(m) => m,
            Err(why) => {
                send(output, parse_error_reply(&raw, why))?;
                continue;
            }
        };
        let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
        let replies =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.handle(msg.clone())))
                .unwrap_or_else(|_| match &msg {
                    Message::Request(r) => vec![Message::Response(error(
                        r.id.clone(),
                        -32603,
                        format!("internal error while handling {}", r.method),
                    ))],
                    _ => Vec::new(),
                });
        for r in replies {
            send(output, r)?;
        }
        if exit {
            return Ok(if server.shut_down { 0 } else { 1 });
        }
    }
}

enum Frame {
    Bad(String),
    Io(std::io::Error),
}

/// One `Content-Length:`-framed message body; `None` at the end of input.
fn read_frame(input: &mut dyn BufRead) -> Result<Option<Vec<u8>>, Frame> {
    let mut length: Option<usize> = None;
    let mut saw_header = false;
    loop {
        let mut line = String::new();
        let n = input.read_line(&mut line).map_err(Frame::Io)?;
        if n == 0 {
            return if saw_header {
                Err(Frame::Bad("input ended inside a header".into()))
            } else {
                Ok(None)
            };
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if !saw_header {
                continue; // stray blank line between messages
            }
            break;
        }
        saw_header = true;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    let Some(len) = length else {
        return Err(Frame::Bad("message without a valid Content-Length".into()));
    };
    if len > MAX_MESSAGE {
        // Skip the body so the next message is still found.
        std::io::copy(&mut input.take(len as u64), &mut std::io::sink()).map_err(Frame::Io)?;
        return Err(Frame::Bad(format!(
            "message of {len} bytes is over the limit"
        )));
    }
    let mut body = vec![0; len];
    input.read_exact(&mut body).map_err(Frame::Io)?;
    Ok(Some(body))
}

/// A JSON-RPC value as a request, notification or response.
fn classify(v: Value) -> Result<Message, String> {
    if !v.is_object() {
        return Err("a JSON-RPC message must be an object".into());
    }
    serde_json::from_value::<Message>(v).map_err(|e| format!("not a JSON-RPC message: {e}"))
}

/// The error reply to an unreadable message: with its id when one can be found.
fn parse_error_reply(raw: &[u8], why: String) -> Message {
    let id = serde_json::from_slice::<Value>(raw)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .and_then(|id| serde_json::from_value::<RequestId>(id).ok());
    let (id, code) = match id {
        Some(id) => (id, -32600),
        None => (RequestId::from(0), -32700),
    };
    Message::Response(error(id, code, why))
}

fn error(id: RequestId, code: i32, message: String) -> Response {
    Response::new_err(id, code, message)
}

fn send(output: &mut dyn Write, msg: Message) -> Result<(), String> {
    msg.write(&mut WriteAdapter(output))
        .map_err(|e| format!("writing stdout: {e}"))
}

/// lsp-server writes to `impl Write`; ours is a trait object.
struct WriteAdapter<'w>(&'w mut dyn Write);

impl Write for WriteAdapter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// An open document.
struct Doc {
    uri: String,
    text: String,
    version: Option<i32>,
    /// The findings last published for it (code actions and hovers read them).
    findings: Vec<Finding>,
}

#[derive(Default)]
struct Server {
    initialized: bool,
    shut_down: bool,
    utf8: bool,
    /// Open documents by absolute path.
    docs: BTreeMap<PathBuf, Doc>,
    parsed: ParseCache,
}

impl Server {
    fn handle(&mut self, msg: Message) -> Vec<Message> {
        match msg {
            Message::Request(r) => self.request(r),
            Message::Notification(n) => self.notification(n),
            Message::Response(_) => Vec::new(),
        }
    }

    fn request(&mut self, r: Request) -> Vec<Message> {
        let reply = |result: Result<Value, (i32, String)>| {
            vec![Message::Response(match result {
                Ok(v) => Response::new_ok(r.id.clone(), v),
                Err((code, why)) => error(r.id.clone(), code, why),
            })]
        };
        if !self.initialized && r.method != "initialize" {
            return reply(Err((-32002, "the server is not initialized".into())));
        }
        if self.shut_down {
            return reply(Err((-32600, "the server is shutting down".into())));
        }
        match r.method.as_str() {
            "initialize" => reply(Ok(self.initialize(&r.params))),
            "shutdown" => {
                self.shut_down = true;
                reply(Ok(Value::Null))
            }
            "textDocument/hover" => {
                reply(parse::<lt::HoverParams>(&r.params).map(|p| self.hover(&p)))
            }
            "textDocument/codeAction" => {
                reply(parse::<lt::CodeActionParams>(&r.params).map(|p| self.code_actions(&p)))
            }
            other => reply(Err((-32601, format!("method not supported: {other}")))),
        }
    }

    fn initialize(&mut self, params: &Value) -> Value {
        self.initialized = true;
        let offered: Vec<String> = params
            .pointer("/capabilities/general/positionEncodings")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        self.utf8 = offered.iter().any(|e| e == "utf-8");
        let caps = lt::ServerCapabilities {
            position_encoding: Some(if self.utf8 {
                lt::PositionEncodingKind::UTF8
            } else {
                lt::PositionEncodingKind::UTF16
            }),
            text_document_sync: Some(lt::TextDocumentSyncCapability::Options(
                lt::TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(lt::TextDocumentSyncKind::FULL),
                    save: Some(lt::TextDocumentSyncSaveOptions::SaveOptions(
                        lt::SaveOptions {
                            include_text: Some(true),
                        },
                    )),
                    ..Default::default()
                },
            )),
            hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
            code_action_provider: Some(lt::CodeActionProviderCapability::Options(
                lt::CodeActionOptions {
                    code_action_kinds: Some(vec![lt::CodeActionKind::QUICKFIX]),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        json!({
            "capabilities": caps,
            "serverInfo": {"name": "pitfall", "version": crate::VERSION},
        })
    }

    fn notification(&mut self, n: Notification) -> Vec<Message> {
        if !self.initialized {
            return Vec::new();
        }
        let path_of = |uri: &lt::Uri| uri_to_path(uri.as_str());
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = parse::<lt::DidOpenTextDocumentParams>(&n.params) else {
                    return self.log("ignored a malformed didOpen");
                };
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Vec::new();
                };
                self.docs.insert(
                    path.clone(),
                    Doc {
                        uri: p.text_document.uri.as_str().to_string(),
                        text: p.text_document.text,
                        version: Some(p.text_document.version),
                        findings: Vec::new(),
                    },
                );
                self.recheck(&path)
            }
            "textDocument/didChange" => {
                let Ok(p) = parse::<lt::DidChangeTextDocumentParams>(&n.params) else {
                    return self.log("ignored a malformed didChange");
                };
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Vec::new();
                };
                let utf8 = self.utf8;
                let Some(doc) = self.docs.get_mut(&path) else {
                    return self.log("ignored didChange of a document that is not open");
                };
                for change in p.content_changes {
                    match change.range {
                        None => doc.text = change.text,
                        Some(range) => {
                            let s = offset_of(&doc.text, range.start, utf8);
                            let e = offset_of(&doc.text, range.end, utf8).max(s);
                            doc.text.replace_range(s..e, &change.text);
                        }
                    }
                }
                doc.version = Some(p.text_document.version);
                self.recheck(&path)
            }
            "textDocument/didSave" => {
                let Ok(p) = parse::<lt::DidSaveTextDocumentParams>(&n.params) else {
                    return self.log("ignored a malformed didSave");
                };
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Vec::new();
                };
                if let (Some(doc), Some(text)) = (self.docs.get_mut(&path), p.text) {
                    doc.text = text;
                }
                if !self.docs.contains_key(&path) {
                    // Saved but not open here: check what is on disk.
                    return match std::fs::read_to_string(&path) {
                        Ok(text) => {
                            let uri = p.text_document.uri.as_str().to_string();
                            let findings = self.check(&path, &text);
                            vec![publish(&uri, None, &text, &findings, self.utf8)]
                        }
                        Err(_) => vec![publish(
                            p.text_document.uri.as_str(),
                            None,
                            "",
                            &[],
                            self.utf8,
                        )],
                    };
                }
                self.recheck(&path)
            }
            "textDocument/didClose" => {
                let Ok(p) = parse::<lt::DidCloseTextDocumentParams>(&n.params) else {
                    return self.log("ignored a malformed didClose");
                };
                if let Some(path) = path_of(&p.text_document.uri) {
                    self.docs.remove(&path);
                }
                vec![publish(
                    p.text_document.uri.as_str(),
                    None,
                    "",
                    &[],
                    self.utf8,
                )]
            }
            _ => Vec::new(), // `initialized`, `$/...`, and anything unknown
        }
    }

    /// A message for the editor's log.
    fn log(&self, text: &str) -> Vec<Message> {
        vec![Message::Notification(Notification::new(
            "window/logMessage".into(),
            json!({"type": 3, "message": format!("pitfall: {text}")}),
        ))]
    }

    /// Checks the document at `path` and the other open documents of its
    /// package, and publishes their diagnostics.
    fn recheck(&mut self, path: &Path) -> Vec<Message> {
        let mut targets = vec![path.to_path_buf()];
        if is_go(path) {
            targets.extend(
                self.docs
                    .keys()
                    .filter(|p| *p != path && is_go(p) && p.parent() == path.parent())
                    .cloned(),
            );
        }
        let mut out = Vec::new();
        for t in targets {
            let Some(text) = self.docs.get(&t).map(|d| d.text.clone()) else {
                continue;
            };
            let findings = self.check(&t, &text);
            let doc = self.docs.get_mut(&t).expect("open");
            out.push(publish(
                &doc.uri,
                doc.version,
                &doc.text,
                &findings,
                self.utf8,
            ));
            doc.findings = findings;
        }
        out
    }

    /// The findings of one file, with the unsaved text of every open document.
    fn check(&mut self, path: &Path, text: &str) -> Vec<Finding> {
        let Some((settings, links, excluded)) = settings_for(path) else {
            return Vec::new();
        };
        if excluded {
            return Vec::new();
        }
        let shown = path.to_string_lossy().into_owned();
        if is_go(path) {
            let overlay: HashMap<&Path, &str> = self
                .docs
                .iter()
                .map(|(p, d)| (p.as_path(), d.text.as_str()))
                .chain(std::iter::once((path, text)))
                .collect();
            check_go(path, &overlay, &settings, &mut self.parsed)
        } else if is_yaml(path) {
            let loaded = pitfall_k8s::load(&shown, text);
            let index = pitfall_go::index::ProjectIndex::new(&[]);
            let r = pitfall_rules::manifest::check_manifests(
                &loaded.objects,
                &index,
                &settings,
                &links,
            );
            r.findings.into_iter().filter(|f| f.path == shown).collect()
        } else {
            Vec::new()
        }
    }

    fn hover(&self, p: &lt::HoverParams) -> Value {
        let pos = &p.text_document_position_params;
        let Some(doc) =
            uri_to_path(pos.text_document.uri.as_str()).and_then(|path| self.docs.get(&path))
        else {
            return Value::Null;
        };
        let at = offset_of(&doc.text, pos.position, self.utf8);
        let mut pages = Vec::new();
        for f in &doc.findings {
            if f.span.0 <= at
                && at <= f.span.1.max(f.span.0 + 1)
                && !pages.iter().any(|(n, _)| *n == f.rule)
            {
                if let Some(rule) = pitfall_rules::find(f.rule) {
                    pages.push((
                        f.rule,
                        format!(
                            "**{}** — {}\n\n{}",
                            rule.name,
                            rule.summary,
                            rule.doc.trim()
                        ),
                    ));
                }
            }
        }
        if pages.is_empty() {
            return Value::Null;
        }
        let text: Vec<String> = pages.into_iter().map(|(_, t)| t).collect();
        json!(lt::Hover {
            contents: lt::HoverContents::Markup(lt::MarkupContent {
                kind: lt::MarkupKind::Markdown,
                value: text.join("\n\n---\n\n"),
            }),
            range: None,
        })
    }

    fn code_actions(&self, p: &lt::CodeActionParams) -> Value {
        let Some(doc) =
            uri_to_path(p.text_document.uri.as_str()).and_then(|path| self.docs.get(&path))
        else {
            return json!([]);
        };
        let (start, end) = (
            offset_of(&doc.text, p.range.start, self.utf8),
            offset_of(&doc.text, p.range.end, self.utf8),
        );
        let mut actions = Vec::new();
        for f in &doc.findings {
            let touches = f.span.0 <= end && start <= f.span.1;
            if !touches || f.edits.is_empty() {
                continue;
            }
            let edits: Vec<lt::TextEdit> = f
                .edits
                .iter()
                .map(|e| lt::TextEdit {
                    range: lt::Range {
                        start: position_of(&doc.text, e.start_byte, self.utf8),
                        end: position_of(&doc.text, e.end_byte, self.utf8),
                    },
                    new_text: e.replacement.clone(),
                })
                .collect();
            let safe = f.applicability == Some(pitfall_report::Applicability::Safe);
            let hint = f.fix.clone().unwrap_or_else(|| "apply the fix".into());
            let title = if safe {
                format!("pitfall: {hint}")
            } else {
                format!("pitfall (unsafe: check the result): {hint}")
            };
            let Ok(uri) = lt::Uri::from_str(&doc.uri) else {
                continue;
            };
            actions.push(lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
                title,
                kind: Some(lt::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic(&doc.text, f, self.utf8)]),
                edit: Some(lt::WorkspaceEdit {
                    changes: Some(HashMap::from([(uri, edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(safe),
                ..Default::default()
            }));
        }
        json!(actions)
    }
}

fn parse<T: serde::de::DeserializeOwned>(params: &Value) -> Result<T, (i32, String)> {
    serde_json::from_value(params.clone()).map_err(|e| (-32602, format!("invalid params: {e}")))
}

fn is_go(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "go")
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Rule settings from the `pitfall.toml` that governs `path`, its manifest
/// link overrides, and whether the config excludes the file. `None` when the
/// config cannot be read (then nothing is reported rather than a guess).
fn settings_for(path: &Path) -> Option<(pitfall_rules::Settings, Vec<(String, String)>, bool)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let cfg = match Config::discover(dir) {
        Some(p) => Config::load(&p).ok()?,
        None => Config::default(),
    };
    let settings = cfg.settings(&[], &[]).ok()?;
    let globs = crate::discover::build_globs(&cfg.exclude).ok()?;
    let base = std::path::absolute(&cfg.dir).unwrap_or_else(|_| cfg.dir.clone());
    let excluded = path
        .strip_prefix(&base)
        .is_ok_and(|rel| globs.is_match(rel));
    Some((settings, cfg.link_overrides(), excluded))
}

/// Parsed files read from disk, reused while their size and modification
/// time stay the same (a package of 500 files is not parsed again on each
/// keystroke in one of them).
#[derive(Default)]
struct ParseCache {
    files: HashMap<PathBuf, (Stamp, pitfall_go::GoFile)>,
}

type Stamp = (u64, Option<std::time::SystemTime>);

/// Files kept at most; past it the cache starts again.
const MAX_CACHED_FILES: usize = 20_000;

fn stamp(p: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(p).ok()?;
    m.is_file().then(|| (m.len(), m.modified().ok()))
}

/// Checks the Go file at `path` within its package: the `.go` files of its
/// directory with the same `package` clause, open documents taking the place
/// of the files on disk.
fn check_go(
    path: &Path,
    overlay: &HashMap<&Path, &str>,
    settings: &pitfall_rules::Settings,
    cache: &mut ParseCache,
) -> Vec<Finding> {
    use rayon::prelude::*;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_go(p))
                .collect()
        })
        .unwrap_or_default();
    paths.extend(
        overlay
            .keys()
            .filter(|p| p.parent() == Some(dir) && is_go(p))
            .map(|p| p.to_path_buf()),
    );
    paths.sort();
    paths.dedup();
    if cache.files.len() > MAX_CACHED_FILES {
        cache.files.clear();
    }
    // (path, stamp when read from disk, the parsed file): cached or parsed now.
    enum Source<'t> {
        Cached(Stamp, pitfall_go::GoFile),
        Text(&'t str),
        Disk(Stamp),
    }
    let sources: Vec<(PathBuf, Source)> = paths
        .into_iter()
        .filter_map(|p| {
            if let Some(t) = overlay.get(p.as_path()) {
                return Some((p, Source::Text(t)));
            }
            let st = stamp(&p)?;
            match cache.files.remove(&p) {
                Some((old, f)) if old == st => Some((p, Source::Cached(st, f))),
                _ => Some((p, Source::Disk(st))),
            }
        })
        .collect();
    let mut files: Vec<(PathBuf, Option<Stamp>, pitfall_go::GoFile)> = sources
        .into_par_iter()
        .filter_map(|(p, s)| {
            let (st, src) = match s {
                Source::Cached(st, f) => return Some((p, Some(st), f)),
                Source::Text(t) => (None, t.to_string()),
                Source::Disk(st) => match std::fs::read(&p) {
                    Ok(b)
                        if b.len() as u64 <= crate::discover::DEFAULT_MAX_FILE_SIZE
                            && !b.contains(&0) =>
                    {
                        (Some(st), String::from_utf8_lossy(&b).into_owned())
                    }
                    _ => return None,
                },
            };
            let f = pitfall_go::parse_file(&p.to_string_lossy(), src).ok()?;
            Some((p, st, f))
        })
        .collect();
    let pkg_name = |f: &pitfall_go::GoFile| {
        f.ast
            .package
            .as_ref()
            .map(|p| p.name.to_string())
            .unwrap_or_default()
    };
    let Some(name) = files
        .iter()
        .find(|(p, _, _)| p == path)
        .map(|(_, _, f)| pkg_name(f))
    else {
        return Vec::new();
    };
    // Files of another package (`main` beside `x_test`) go straight back.
    let (mine, others): (Vec<_>, Vec<_>) =
        files.drain(..).partition(|(_, _, f)| pkg_name(f) == name);
    for (p, st, f) in others {
        if let Some(st) = st {
            cache.files.insert(p, (st, f));
        }
    }
    let (meta, files): (Vec<(PathBuf, Option<Stamp>)>, Vec<pitfall_go::GoFile>) =
        mine.into_iter().map(|(p, st, f)| ((p, st), f)).unzip();
    let (gomod, import_path) = module_of(dir);
    let pkg = pitfall_go::index::SourcePackage {
        dir: dir.to_string_lossy().into_owned(),
        name,
        import_path,
        gomod,
        files,
    };
    let packages = [pkg];
    let shown = path.to_string_lossy();
    let mut out = Vec::new();
    {
        let index = pitfall_go::index::ProjectIndex::new(&packages);
        for pkg in &index.packages {
            for f in pkg.files() {
                if f.path == shown {
                    out.extend(pitfall_rules::check_file(f, pkg, &index, settings).findings);
                }
            }
        }
    }
    let [pkg] = packages;
    for ((p, st), f) in meta.into_iter().zip(pkg.files) {
        if let Some(st) = st {
            cache.files.insert(p, (st, f));
        }
    }
    out
}

/// The nearest go.mod above `dir` and the import path of `dir` under it.
fn module_of(dir: &Path) -> (Arc<pitfall_go::module::GoMod>, String) {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if let Ok(text) = std::fs::read_to_string(d.join("go.mod")) {
            let m = pitfall_go::module::GoMod::parse(&text);
            let rel = dir
                .strip_prefix(d)
                .unwrap_or(Path::new(""))
                .to_string_lossy()
                .replace('\\', "/");
            let base = m.module.clone().filter(|m| m != "std").unwrap_or_default();
            let path = match (base.is_empty(), rel.is_empty()) {
                (_, true) => base,
                (true, false) => rel,
                (false, false) => format!("{base}/{rel}"),
            };
            return (Arc::new(m), path);
        }
        cur = d.parent();
    }
    (Arc::default(), dir.to_string_lossy().into_owned())
}

/// `publishDiagnostics` for one document.
fn publish(
    uri: &str,
    version: Option<i32>,
    text: &str,
    findings: &[Finding],
    utf8: bool,
) -> Message {
    let diagnostics: Vec<lt::Diagnostic> =
        findings.iter().map(|f| diagnostic(text, f, utf8)).collect();
    Message::Notification(Notification::new(
        "textDocument/publishDiagnostics".into(),
        json!({"uri": uri, "version": version, "diagnostics": diagnostics}),
    ))
}

fn diagnostic(text: &str, f: &Finding, utf8: bool) -> lt::Diagnostic {
    let at = |line: u32, col: u32| {
        let start = line_start(text, line);
        position_of(
            text,
            (start + col.saturating_sub(1) as usize).min(text.len()),
            utf8,
        )
    };
    let mut message = f.message.clone();
    if let Some(fix) = &f.fix {
        message.push_str("\nfix: ");
        message.push_str(fix);
    }
    lt::Diagnostic {
        range: lt::Range {
            start: at(f.line, f.column),
            end: at(f.end_line, f.end_column),
        },
        severity: Some(match f.severity {
            Severity::Error => lt::DiagnosticSeverity::ERROR,
            Severity::Warning => lt::DiagnosticSeverity::WARNING,
            Severity::Info => lt::DiagnosticSeverity::INFORMATION,
        }),
        code: Some(lt::NumberOrString::String(f.rule.to_string())),
        source: Some("pitfall".into()),
        message,
        ..Default::default()
    }
}

/// The byte offset where 1-based `line` starts (the end of the text past it).
fn line_start(text: &str, line: u32) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line as usize - 2)
        .map(|(i, _)| i + 1)
        .unwrap_or(text.len())
}

/// The LSP position of a byte offset (character in UTF-16 units, or bytes).
fn position_of(text: &str, offset: usize, utf8: bool) -> lt::Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32;
    let start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = &text[start..offset];
    let character = if utf8 {
        col.len()
    } else {
        col.encode_utf16().count()
    } as u32;
    lt::Position { line, character }
}

/// The byte offset of an LSP position (clamped to the line and the text).
fn offset_of(text: &str, pos: lt::Position, utf8: bool) -> usize {
    let start = line_start(text, pos.line + 1);
    let end = text[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(text.len());
    let line = &text[start..end];
    if utf8 {
        let mut o = (pos.character as usize).min(line.len());
        while !line.is_char_boundary(o) {
            o -= 1;
        }
        return start + o;
    }
    let mut units = 0u32;
    for (i, ch) in line.char_indices() {
        if units >= pos.character {
            return start + i;
        }
        units += ch.len_utf16() as u32;
    }
    end
}

/// A `file://` URI as a path (percent-decoded); `None` for other schemes.
fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    let path = PathBuf::from(String::from_utf8(out).ok()?);
    path.is_absolute().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_or_bytes() {
        let text = "a\né😀x\n";
        let p = position_of(text, text.find('x').unwrap(), false);
        assert_eq!((p.line, p.character), (1, 3));
        let p = position_of(text, text.find('x').unwrap(), true);
        assert_eq!((p.line, p.character), (1, 6));
        assert_eq!(
            offset_of(
                text,
                lt::Position {
                    line: 1,
                    character: 3
                },
                false
            ),
            text.find('x').unwrap()
        );
        assert_eq!(
            offset_of(
                text,
                lt::Position {
                    line: 9,
                    character: 3
                },
                false
            ),
            text.len()
        );
    }

    #[test]
    fn file_uris_decode() {
        assert_eq!(
            uri_to_path("file:///tmp/a%20b.go"),
            Some(PathBuf::from("/tmp/a b.go"))
        );
        assert_eq!(uri_to_path("untitled:x"), None);
        assert_eq!(
            uri_to_path("file:///tmp/%zz"),
            Some(PathBuf::from("/tmp/%zz"))
        );
    }
}
