//! Kubernetes manifests for pitfall: YAML files (multi-document, `kind: List`,
//! rendered Helm output with `# Source:` comments) read into objects that
//! keep the position of every key, and the workload model the manifest rules
//! and the cross-checks read (pod specs, containers, Services).
//!
//! YAML that does not describe Kubernetes objects (no `apiVersion` and `kind`)
//! is ignored. Unrendered Helm templates are recognised and skipped.

pub mod yaml;

use std::sync::Arc;
pub use yaml::{Node, Pos, Value};

/// One Kubernetes object of a manifest file.
#[derive(Debug)]
pub struct Object {
    /// The path findings are reported under: the file as shown to the user,
    /// or the template named by Helm's `# Source:` comment.
    pub path: String,
    /// Subtract from a node's line to get the reported line (non-zero under
    /// a `# Source:` comment: lines then count from that comment).
    pub line_base: u32,
    /// The whole text the object was read from (for byte columns).
    pub src: Arc<str>,
    /// Byte offset of each line of `src`.
    line_starts: Arc<[usize]>,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub node: Node,
    /// Rule or category names from the `pitfall.dev/ignore` annotation.
    pub ignore: Vec<String>,
}

/// The annotation that silences rules for one object.
pub const IGNORE_ANNOTATION: &str = "pitfall.dev/ignore";

/// What reading one file gave.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Object>,
    /// (reported path, text whose lines match the reported lines), for code frames.
    pub sources: Vec<(String, SourceText)>,
    /// The file is an unrendered Helm/Go template and was skipped.
    pub template: bool,
    /// Malformed YAML or a limit hit, for a file that looks like Kubernetes YAML.
    pub error: Option<String>,
}

/// A part of a shared text — a whole file, or the lines under one Helm
/// `# Source:` comment — without a copy of its own (a rendered chart can be
/// tens of MB). Reads as a `str`.
#[derive(Clone, Debug)]
pub struct SourceText {
    text: Arc<str>,
    range: std::ops::Range<usize>,
}

impl SourceText {
    pub fn whole(text: Arc<str>) -> SourceText {
        let range = 0..text.len();
        SourceText { text, range }
    }
}

impl std::ops::Deref for SourceText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text[self.range.clone()]
    }
}

/// Whether the text is an unrendered template: a line that starts with an
/// action (`{{- if ...}}`), or `{{` anywhere when the YAML does not parse.
fn template_lines(src: &str) -> bool {
    src.lines().any(|l| l.trim_start().starts_with("{{"))
}

fn looks_like_kubernetes(src: &str) -> bool {
    src.contains("apiVersion") && src.contains("kind")
}

/// Reads the Kubernetes objects of one YAML text. `path` is the name shown
/// for it; `in_templates_dir` marks a file under a chart's `templates/`.
pub fn load(path: &str, src: &str) -> Loaded {
    load_with(path, src, &yaml::Limits::default())
}

/// [`load`] within the given YAML limits.
pub fn load_with(path: &str, src: &str, limits: &yaml::Limits) -> Loaded {
    load_shared(path, Arc::from(src), limits)
}

/// [`load_with`] for a text the caller already shares: the objects keep
/// `src` itself, not a copy (a rendered chart can be tens of MB).
pub fn load_shared(path: &str, shared: Arc<str>, limits: &yaml::Limits) -> Loaded {
    let src: &str = &shared;
    let mut out = Loaded::default();
    let in_chart_templates = path.split('/').any(|c| c == "templates");
    if template_lines(src) || (in_chart_templates && src.contains("{{")) {
        out.template = looks_like_kubernetes(src);
        return out;
    }
    let docs = match yaml::parse_with(src, limits) {
        Ok(d) => d,
        Err(e) => {
            if src.contains("{{") {
                out.template = looks_like_kubernetes(src);
            } else if looks_like_kubernetes(src) {
                out.error = Some(format!("{path}:{e} (YAML not read)"));
            }
            return out;
        }
    };
    let starts: Arc<[usize]> = std::iter::once(0)
        .chain(src.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let sources = helm_sources(src);
    let mut source_texts: Vec<(String, SourceText)> = Vec::new();
    let mut texts_seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut previous_end = 0;
    for doc in docs {
        let first_line = doc.root.pos.line;
        // The `# Source:` comment closest above the document, below the previous one.
        // (Documents come in order: a binary search keeps big rendered
        // charts linear.)
        let above = sources.partition_point(|(l, _)| *l < first_line);
        let source = above
            .checked_sub(1)
            .map(|i| (i, &sources[i]))
            .filter(|(_, (l, _))| *l >= previous_end);
        previous_end = doc.root.end.line.max(first_line);
        let (shown, base) = match source {
            Some((_, (l, name))) => (name.clone(), *l),
            None => (path.to_string(), 0),
        };
        if base > 0 && texts_seen.insert(shown.clone()) {
            // The lines after the comment, up to the next `# Source:` (or the
            // end): the frames of this document's findings.
            let line_start = |line: usize| {
                starts
                    .get(line)
                    .copied()
                    .unwrap_or(src.len())
                    .min(src.len())
            };
            let from = line_start(base as usize);
            let next = source
                .and_then(|(i, _)| sources.get(i + 1))
                .map(|(l, _)| *l as usize);
            let to = next
                .map(|l| line_start(l.saturating_sub(1)))
                .unwrap_or(src.len())
                .max(from);
            let to = if src[from..to].ends_with('\n') {
                to - 1
            } else {
                to
            };
            source_texts.push((
                shown.clone(),
                SourceText {
                    text: shared.clone(),
                    range: from..to,
                },
            ));
        }
        let mut push = |node: Node| {
            if let Some(o) = object(node, &shown, base, &shared, &starts) {
                out.objects.push(o);
            }
        };
        if is_list(&doc.root) {
            let Value::Map(entries) = doc.root.value else {
                continue;
            };
            for (k, v) in entries.into_vec() {
                if k.as_str() == Some("items") {
                    if let Value::Seq(items) = v.value {
                        items.into_vec().into_iter().for_each(&mut push);
                    }
                }
            }
        } else {
            push(doc.root);
        }
    }
    out.sources = source_texts;
    out
}

/// `kind: List` (or `FooList`) with an `items` sequence.
fn is_list(n: &Node) -> bool {
    n.get("kind")
        .and_then(Node::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && n.get("items")
            .is_some_and(|i| matches!(i.value, Value::Seq(_)))
}

/// `# Source: chart/templates/x.yaml` lines: (line, name).
fn helm_sources(src: &str) -> Vec<(u32, String)> {
    src.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let name = l.strip_prefix("# Source:")?.trim();
            (!name.is_empty()).then(|| (i as u32 + 1, name.to_string()))
        })
        .collect()
}

fn object(
    node: Node,
    path: &str,
    base: u32,
    src: &Arc<str>,
    line_starts: &Arc<[usize]>,
) -> Option<Object> {
    let api_version = node.get("apiVersion")?.as_str()?.to_string();
    let kind = node.get("kind")?.as_str()?.to_string();
    let meta = node.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string();
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Node::as_str)
        .map(str::to_string);
    let ignore = meta
        .and_then(|m| m.path(&["annotations", IGNORE_ANNOTATION]))
        .and_then(Node::as_str)
        .map(split_names)
        .unwrap_or_default();
    Some(Object {
        path: path.to_string(),
        line_base: base,
        src: src.clone(),
        line_starts: line_starts.clone(),
        api_version,
        kind,
        name,
        namespace,
        node,
        ignore,
    })
}

/// `"a, b,c"` -> `["a", "b", "c"]`.
pub fn split_names(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

impl Object {
    /// The reported (line, byte column), both 1-based, of a position.
    pub fn line_col(&self, p: Pos) -> (u32, u32) {
        let byte_col: usize = self
            .source_line(p)
            .chars()
            .take(p.col as usize)
            .map(char::len_utf8)
            .sum();
        (
            p.line.saturating_sub(self.line_base).max(1),
            byte_col as u32 + 1,
        )
    }

    /// The source line of a position (for `# nolint` comments).
    pub fn source_line(&self, p: Pos) -> &str {
        let i = p.line.saturating_sub(1) as usize;
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self
            .line_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.src.len());
        self.src[start..end].trim_end_matches(['\n', '\r'])
    }

    /// `metadata.labels`.
    pub fn labels(&self) -> Vec<(&str, &str)> {
        string_map(self.node.path(&["metadata", "labels"]))
    }
}

fn string_map(n: Option<&Node>) -> Vec<(&str, &str)> {
    n.map(|n| {
        n.as_map()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v.as_str().unwrap_or(""))))
            .collect()
    })
    .unwrap_or_default()
}

/// An object that runs pods: its pod spec and containers.
#[derive(Debug)]
pub struct Workload<'o> {
    pub object: &'o Object,
    pub pod_spec: &'o Node,
    /// Labels of the pods it creates (template labels; the object's own for a Pod).
    pub pod_labels: Vec<(&'o str, &'o str)>,
    /// Runs until stopped and restarted when it dies (Deployment-like), as
    /// opposed to Jobs, CronJobs and bare Pods.
    pub long_running: bool,
    pub containers: Vec<Container<'o>>,
}

#[derive(Debug)]
pub struct Container<'o> {
    pub node: &'o Node,
    pub name: &'o str,
    pub init: bool,
}

impl<'o> Workload<'o> {
    /// The workload model of an object, if it has a pod spec.
    pub fn of(object: &'o Object) -> Option<Workload<'o>> {
        let n = &object.node;
        let has_containers = |s: &Node| s.get("containers").is_some_and(|c| !c.as_seq().is_empty());
        let (pod_spec, labels, long_running) = if let Some(s) = n
            .path(&["spec", "template", "spec"])
            .filter(|s| has_containers(s))
        {
            let labels = n.path(&["spec", "template", "metadata", "labels"]);
            (s, string_map(labels), object.kind != "Job")
        } else if let Some(s) = n
            .path(&["spec", "jobTemplate", "spec", "template", "spec"])
            .filter(|s| has_containers(s))
        {
            let labels = n.path(&[
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "metadata",
                "labels",
            ]);
            (s, string_map(labels), false)
        } else if let Some(s) = n.get("spec").filter(|s| has_containers(s)) {
            (s, object.labels(), false)
        } else if let Some(s) = n.path(&["template", "spec"]).filter(|s| has_containers(s)) {
            // PodTemplate
            (
                s,
                string_map(n.path(&["template", "metadata", "labels"])),
                false,
            )
        } else {
            return None;
        };
        let mut containers = Vec::new();
        for (key, init) in [("initContainers", true), ("containers", false)] {
            for c in pod_spec.get(key).map(Node::as_seq).unwrap_or(&[]) {
                if !c.is_map() {
                    continue;
                }
                let name = c.get("name").and_then(Node::as_str).unwrap_or("");
                containers.push(Container {
                    node: c,
                    name,
                    init,
                });
            }
        }
        Some(Workload {
            object,
            pod_spec,
            pod_labels: labels,
            long_running,
            containers,
        })
    }

    /// `terminationGracePeriodSeconds` (key node and value) when set.
    pub fn grace_period(&self) -> Option<(&'o Node, i64)> {
        let (k, v) = self.pod_spec.entry("terminationGracePeriodSeconds")?;
        Some((k, v.as_i64()?))
    }
}

/// One declared container port.
#[derive(Debug)]
pub struct Port<'o> {
    pub node: &'o Node,
    pub number: Option<i64>,
    pub name: Option<&'o str>,
}

impl<'o> Container<'o> {
    pub fn get(&self, key: &str) -> Option<&'o Node> {
        self.node.get(key)
    }

    pub fn entry(&self, key: &str) -> Option<(&'o Node, &'o Node)> {
        self.node.entry(key)
    }

    pub fn image(&self) -> Option<&'o str> {
        self.get("image").and_then(Node::as_str)
    }

    pub fn ports(&self) -> Vec<Port<'o>> {
        self.get("ports")
            .map(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .map(|p| Port {
                node: p,
                number: p.get("containerPort").and_then(Node::as_i64),
                name: p.get("name").and_then(Node::as_str),
            })
            .collect()
    }

    /// The number of a probe or Service port: a number, or a port name.
    pub fn resolve_port(&self, port: &Node) -> Option<i64> {
        if let Some(n) = port.as_i64() {
            return Some(n);
        }
        let name = port.as_str()?;
        self.ports()
            .into_iter()
            .find(|p| p.name == Some(name))
            .and_then(|p| p.number)
    }

    /// The container's env entries: (entry node, name, literal value, valueFrom node).
    pub fn env(&self) -> Vec<EnvVar<'o>> {
        self.get("env")
            .map(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| {
                Some(EnvVar {
                    node: e,
                    name: e.get("name")?.as_str()?,
                    value: e.entry("value"),
                    value_from: e.get("valueFrom"),
                })
            })
            .collect()
    }

    /// The env entry named `name`, if any.
    pub fn env_var(&self, name: &str) -> Option<EnvVar<'o>> {
        self.env().into_iter().rev().find(|e| e.name == name)
    }

    /// Whether `envFrom` is used (the variables are then unknown).
    pub fn has_env_from(&self) -> bool {
        self.get("envFrom").is_some_and(|e| !e.as_seq().is_empty())
    }

    /// `command` and `args` scalars, in order.
    pub fn command_line(&self) -> Vec<&'o Node> {
        ["command", "args"]
            .iter()
            .filter_map(|k| self.get(k))
            .flat_map(|n| n.as_seq().iter())
            .filter(|n| n.as_str().is_some())
            .collect()
    }

    /// `resources.limits.<what>` / `resources.requests.<what>`.
    pub fn resource(&self, kind: &str, what: &str) -> Option<&'o Node> {
        self.node
            .path(&["resources", kind, what])
            .filter(|n| !n.is_null())
    }
}

#[derive(Debug)]
pub struct EnvVar<'o> {
    pub node: &'o Node,
    pub name: &'o str,
    pub value: Option<(&'o Node, &'o Node)>,
    pub value_from: Option<&'o Node>,
}

impl EnvVar<'_> {
    pub fn literal(&self) -> Option<&str> {
        self.value.and_then(|(_, v)| v.as_str())
    }
}

/// A Service: its selector and ports.
#[derive(Debug)]
pub struct Service<'o> {
    pub object: &'o Object,
    pub selector: Vec<(&'o str, &'o str)>,
    pub ports: &'o [Node],
}

impl<'o> Service<'o> {
    pub fn of(object: &'o Object) -> Option<Service<'o>> {
        if object.kind != "Service" || object.api_version != "v1" {
            return None;
        }
        Some(Service {
            object,
            selector: string_map(object.node.path(&["spec", "selector"])),
            ports: object
                .node
                .path(&["spec", "ports"])
                .map(Node::as_seq)
                .unwrap_or(&[]),
        })
    }

    /// Whether this Service sends traffic to the pods of `w`.
    pub fn selects(&self, w: &Workload) -> bool {
        !self.selector.is_empty()
            && self.object.namespace == w.object.namespace
            && self
                .selector
                .iter()
                .all(|(k, v)| w.pod_labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }
}

/// Splits an image reference into (repository, tag, digest).
pub fn parse_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

/// The last path segment of an image's repository (`registry/shop/orders:1` -> `orders`).
pub fn image_base_name(image: &str) -> &str {
    let (repo, _, _) = parse_image(image);
    repo.rsplit('/').next().unwrap_or(repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert_eq!(parse_image("nginx"), ("nginx", None, None));
        assert_eq!(
            parse_image("r:5000/a/b:1.2"),
            ("r:5000/a/b", Some("1.2"), None)
        );
        assert_eq!(parse_image("r:5000/a/b"), ("r:5000/a/b", None, None));
        assert_eq!(parse_image("a@sha256:ab"), ("a", None, Some("sha256:ab")));
        assert_eq!(
            image_base_name("reg.io/shop/orders-service:1.8"),
            "orders-service"
        );
    }

    #[test]
    fn list_and_helm_sources() {
        let src = "---\n# Source: chart/templates/a.yaml\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: s}\n  - {foo: bar}\n---\nnot: kubernetes\n";
        let l = load("x.yaml", src);
        assert_eq!(l.objects.len(), 1);
        let o = &l.objects[0];
        assert_eq!(o.path, "chart/templates/a.yaml");
        assert_eq!(o.name, "s");
        assert_eq!(o.line_col(o.node.pos), (4, 5));
        assert_eq!(l.sources[0].1.lines().nth(3), Some("  - apiVersion: v1"));
        // A `# Source:` names only the document right below it.
        let l = load("s.yaml", "# Source: a.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n");
        let paths: Vec<_> = l
            .objects
            .iter()
            .map(|o| (o.path.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(paths, [("a.yaml", "a"), ("s.yaml", "b")]);
    }

    #[test]
    fn templates_are_skipped() {
        let l = load(
            "c/templates/d.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.name }}\n",
        );
        assert!(l.template && l.objects.is_empty() && l.error.is_none());
        let l = load(
            "d.yaml",
            "{{- if .Values.x }}\napiVersion: v1\nkind: Pod\n{{- end }}\n",
        );
        assert!(l.template);
    }

    #[test]
    fn errors_only_for_kubernetes_looking_files() {
        assert!(load("a.yaml", "a: [").error.is_none());
        let l = load("a.yaml", "apiVersion: v1\nkind: [\n");
        assert!(l.error.unwrap().starts_with("a.yaml:"));
    }

    #[test]
    fn workloads() {
        let src = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: i, image: x}]\n          containers:\n            - name: m\n              image: y\n";
        let l = load("a.yaml", src);
        let w = Workload::of(&l.objects[0]).unwrap();
        assert!(!w.long_running);
        let names: Vec<_> = w.containers.iter().map(|c| (c.name, c.init)).collect();
        assert_eq!(names, [("i", true), ("m", false)]);
    }
}
