//! The engine of the Kubernetes rules: manifest rules ([`Check::Manifest`])
//! see every workload and Service of the run; cross-checks ([`Check::Cross`])
//! see the containers linked to a Go `main` package, with what the code does
//! about its life in a container ([`Lifecycle`]) and its route map.
//!
//! Suppression: the object annotation `pitfall.dev/ignore: "rule-a,rule-b"`
//! (rule or category names, or `all`), or `# nolint[:names]` on the line.

use crate::Reported;
use crate::{Category, Check, FileResult, Finding, Rule, Settings, Severity};
use pitfall_go::index::{Package, ProjectIndex};
use pitfall_go::lifecycle::Lifecycle;
use pitfall_go::routes::{Listener, Route, RouteMap};
use pitfall_k8s::{Container, Node, Object, Pos, Service, Workload};
use std::collections::HashMap;

/// A container whose program is one of the run's Go `main` packages.
pub struct Link<'a> {
    pub workload: &'a Workload<'a>,
    pub container: &'a Container<'a>,
    pub main: &'a Package<'a>,
    pub lifecycle: &'a Lifecycle,
    pub routes: &'a RouteMap,
    /// How the link was made, for messages (e.g. "container name `orders` = cmd/orders").
    pub how: &'a str,
}

impl<'a> Link<'a> {
    /// The main package's directory, for messages.
    pub fn main_dir(&self) -> &str {
        &self.main.src.dir
    }

    /// Each listener of the code with the port it listens on in this
    /// container (an address read from an env variable takes the container's
    /// value). `None` when the route map is uncertain, has no listener, or a
    /// port cannot be known.
    pub fn listener_ports(&self) -> Option<Vec<(&'a Listener, i64)>> {
        let m = self.routes;
        if !m.uncertain.is_empty() || m.listeners.is_empty() {
            return None;
        }
        let c = self.container;
        let mut out = Vec::new();
        for l in &m.listeners {
            if let Some(var) = &l.env {
                match c.env_var(var) {
                    Some(e) => {
                        let value = e.literal()?;
                        let port = value.rsplit(':').next()?.trim().parse().ok()?;
                        out.push((l, port));
                        continue;
                    }
                    None if c.has_env_from() => return None,
                    None => {}
                }
            }
            out.push((l, i64::from(l.port?)));
        }
        Some(out)
    }

    /// Numbers in the container's command line that may be ports given as
    /// flags (`-addr=:9090`, `--port 9090`): a flag can override the address
    /// the code falls back to.
    pub fn command_line_ports(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for item in self.container.command_line() {
            let text = item.as_str().unwrap_or("");
            for word in text.split(|ch: char| !ch.is_ascii_digit()) {
                if let Ok(n) = word.parse::<i64>() {
                    if (1..=65535).contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        out
    }

    /// The probes of the container: (kind, key node, probe node).
    pub fn probes(&self) -> Vec<(&'static str, &'a Node, &'a Node)> {
        ["readinessProbe", "livenessProbe", "startupProbe"]
            .into_iter()
            .filter_map(|k| self.container.entry(k).map(|(key, p)| (k, key, p)))
            .collect()
    }
}

/// Whether a route of the route map answers a probe's GET on `path`.
pub fn route_serves(route: &Route, path: &str) -> bool {
    if route.method.as_deref().is_some_and(|m| m != "GET") {
        return false;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let prefix_routes = matches!(route.router, "net/http" | "default");
    let pat: Vec<&str> = route.path.trim_start_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, seg) in pat.iter().enumerate() {
        let last = i + 1 == pat.len();
        if seg.is_empty() && last && prefix_routes {
            return true; // `/debug/` matches everything below it
        }
        let Some(have) = got.get(i) else {
            return false;
        };
        let wildcard_rest = (seg.starts_with('{') && seg.ends_with("...}")) || seg.starts_with('*');
        if wildcard_rest {
            return true;
        }
        let wildcard_one = (seg.starts_with('{') && seg.ends_with('}')) || seg.starts_with(':');
        if wildcard_one {
            if have.is_empty() {
                return false;
            }
            continue;
        }
        if seg != have {
            return false;
        }
    }
    got.len() == pat.len()
}

/// What a manifest rule or a cross-check works with.
pub struct ManifestChecker<'a> {
    pub objects: &'a [Object],
    pub workloads: &'a [Workload<'a>],
    pub services: &'a [Service<'a>],
    /// Empty for manifest rules.
    pub links: &'a [Link<'a>],
    pub rule: &'static Rule,
    options: &'a HashMap<String, String>,
    severity: Severity,
    findings: Vec<Finding>,
    suppressed: Vec<Finding>,
}

impl<'a> ManifestChecker<'a> {
    /// Reports a finding on `node` (a key, or a container when a field is missing).
    pub fn report(
        &mut self,
        obj: &Object,
        node: &Node,
        message: impl Into<String>,
    ) -> Reported<'_> {
        // A mapping (a container, a port entry) is marked on its first line.
        let end = if node.is_map() && node.end.line > node.pos.line {
            Pos {
                line: node.pos.line,
                col: u32::MAX,
            }
        } else {
            node.end
        };
        self.report_at(obj, node.pos, end, message)
    }

    pub fn report_at(
        &mut self,
        obj: &Object,
        pos: Pos,
        end: Pos,
        message: impl Into<String>,
    ) -> Reported<'_> {
        let (line, column) = obj.line_col(pos);
        let end = if end > pos { end } else { pos };
        let (end_line, end_column) = obj.line_col(end);
        let f = Finding {
            rule: self.rule.name,
            category: self.rule.category,
            severity: self.severity,
            path: obj.path.clone(),
            line,
            column,
            end_line,
            end_column: if end_line == line && end_column <= column {
                column + 1
            } else {
                end_column
            },
            message: message.into(),
            fix: None,
            applicability: None,
            edits: Vec::new(),
            related: Vec::new(),
            span: (0, 0),
        };
        let silenced = names_match(&obj.ignore, self.rule)
            || nolint_names(obj.source_line(pos)).is_some_and(|n| names_match(&n, self.rule));
        let list = if silenced {
            &mut self.suppressed
        } else {
            &mut self.findings
        };
        list.push(f);
        Reported(list.last_mut().expect("just pushed"), None)
    }

    /// A numeric option from `[rules.<name>]`, or its declared default.
    pub fn option_u64(&self, name: &str) -> u64 {
        self.rule.option_u64(Some(self.options), name)
    }

    /// Whether a container receives traffic: it declares a port, or a
    /// Service of the run selects its pods.
    pub fn receives_traffic(&self, w: &Workload, c: &Container) -> bool {
        !c.ports().is_empty() || self.services.iter().any(|s| s.selects(w))
    }

    /// Long-running workloads and their regular (not init) containers: what
    /// probes and traffic rules are about.
    pub fn serving_containers(&self) -> Vec<(&'a Workload<'a>, &'a Container<'a>)> {
        let mut out = Vec::new();
        for w in self.workloads.iter().filter(|w| w.long_running) {
            for c in w.containers.iter().filter(|c| !c.init) {
                if self.receives_traffic(w, c) {
                    out.push((w, c));
                }
            }
        }
        out
    }
}

/// Whether a list of names (annotation or `# nolint:`) covers the rule.
fn names_match(names: &[String], rule: &Rule) -> bool {
    names
        .iter()
        .any(|n| n == "all" || n == rule.name || Category::parse(n) == Some(rule.category))
}

/// The names of a `# nolint` / `# nolint:a,b` comment on a YAML line
/// (`["all"]` for a bare one).
pub fn nolint_names(line: &str) -> Option<Vec<String>> {
    let mut rest = line;
    loop {
        let i = rest.find('#')?;
        let before_ok = i == 0 || rest[..i].ends_with([' ', '\t']);
        let comment = rest[i + 1..].trim_start();
        if before_ok {
            if let Some(after) = comment.strip_prefix("nolint") {
                if let Some(list) = after.strip_prefix(':') {
                    let list = list.split_whitespace().next().unwrap_or("");
                    return Some(pitfall_k8s::split_names(list));
                }
                if after.is_empty() || after.starts_with(char::is_whitespace) {
                    return Some(vec!["all".into()]);
                }
            }
        }
        rest = &rest[i + 1..];
    }
}

/// A container-to-main link forced in pitfall.toml: `[kubernetes.link]`,
/// key a container name or `workload/container`, value a main package's
/// directory or import path.
pub type LinkOverride = (String, String);

/// Runs the enabled manifest rules, and the cross-checks on the containers
/// linked to the project's main packages.
pub fn check_manifests(
    objects: &[Object],
    project: &ProjectIndex,
    settings: &Settings,
    overrides: &[LinkOverride],
) -> FileResult {
    check_manifests_with(objects, project, settings, overrides, &|main| {
        program_facts(project, main)
    })
}

/// A main package's lifecycle and route map, read from the code of
/// `project` it reaches: what the cross-checks know of a program.
pub fn program_facts<'a>(
    project: &'a ProjectIndex<'a>,
    main: &'a Package<'a>,
) -> (Lifecycle, RouteMap) {
    (
        pitfall_go::lifecycle::lifecycle(project, main),
        pitfall_go::routes::route_map(project, main),
    )
}

/// What the cross-checks read of a main package: its lifecycle and route
/// map, from the code it reaches.
pub type ProgramFacts<'f> = dyn Fn(&Package) -> (Lifecycle, RouteMap) + 'f;

/// [`check_manifests`] where `program` computes a linked main's facts: a
/// run that keeps only skeletons in `project` parses the main's code again
/// for them, one program at a time.
pub fn check_manifests_with(
    objects: &[Object],
    project: &ProjectIndex,
    settings: &Settings,
    overrides: &[LinkOverride],
    program: &ProgramFacts,
) -> FileResult {
    let workloads: Vec<Workload> = objects.iter().filter_map(Workload::of).collect();
    let services: Vec<Service> = objects.iter().filter_map(Service::of).collect();
    let wants_cross = settings
        .enabled
        .iter()
        .any(|r| matches!(r.check, Check::Cross(_)));
    let mut result = FileResult::default();
    let plan = if wants_cross {
        plan_links(&workloads, project, overrides, &mut result.warnings)
    } else {
        Vec::new()
    };
    // Facts once per linked main package.
    let mut facts: Vec<(usize, Lifecycle, RouteMap)> = Vec::new();
    for p in &plan {
        if !facts.iter().any(|(i, _, _)| *i == p.main) {
            let (lifecycle, routes) = program(&project.packages[p.main]);
            facts.push((p.main, lifecycle, routes));
        }
    }
    let links: Vec<Link> = plan
        .iter()
        .map(|p| {
            let (_, lc, routes) = facts
                .iter()
                .find(|(i, _, _)| *i == p.main)
                .expect("computed");
            let w = &workloads[p.workload];
            Link {
                workload: w,
                container: &w.containers[p.container],
                main: &project.packages[p.main],
                lifecycle: lc,
                routes,
                how: &p.how,
            }
        })
        .collect();
    static NO_OPTIONS: std::sync::OnceLock<HashMap<String, String>> = std::sync::OnceLock::new();
    for rule in &settings.enabled {
        let check = match rule.check {
            Check::Manifest(f) => f,
            Check::Cross(f) if !links.is_empty() => f,
            _ => continue,
        };
        let mut cx = ManifestChecker {
            objects,
            workloads: &workloads,
            services: &services,
            links: if matches!(rule.check, Check::Cross(_)) {
                &links
            } else {
                &[]
            },
            rule,
            options: settings
                .options
                .get(rule.name)
                .unwrap_or_else(|| NO_OPTIONS.get_or_init(HashMap::new)),
            severity: settings
                .severity
                .get(rule.name)
                .copied()
                .unwrap_or(rule.severity),
            findings: Vec::new(),
            suppressed: Vec::new(),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mut cx)));
        match outcome {
            Ok(()) => result.findings.append(&mut cx.findings),
            Err(_) => result.warnings.push(format!(
                "internal error in rule {} (skipped for the manifests)",
                rule.name
            )),
        }
    }
    result
        .findings
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    result
        .findings
        .dedup_by(|a, b| a.sort_key() == b.sort_key());
    result
}

struct PlannedLink {
    workload: usize,
    container: usize,
    main: usize,
    how: String,
}

/// Names a main package answers to: its directory's base name (`cmd/orders`
/// -> `orders`), and the module's base name when it sits at the module root.
fn main_names(p: &Package) -> Vec<String> {
    let mut out = Vec::new();
    let dir = p.src.dir.trim_end_matches('/');
    let base = dir.rsplit('/').next().unwrap_or(dir);
    if !base.is_empty() && base != "." {
        out.push(base.to_string());
    }
    if let Some(m) = &p.src.gomod.module {
        let module_base = m.rsplit('/').next().unwrap_or(m);
        let at_root = p.src.import_path == *m;
        if at_root && !module_base.is_empty() {
            out.push(module_base.to_string());
        }
    }
    out
}

fn path_matches(p: &Package, want: &str) -> bool {
    let want = want.trim_start_matches("./").trim_end_matches('/');
    let dir = p.src.dir.trim_end_matches('/');
    dir == want
        || dir.ends_with(&format!("/{want}"))
        || p.src.import_path == want
        || p.src.import_path.ends_with(&format!("/{want}"))
}

fn plan_links(
    workloads: &[Workload],
    project: &ProjectIndex,
    overrides: &[LinkOverride],
    warnings: &mut Vec<String>,
) -> Vec<PlannedLink> {
    let mains: Vec<usize> = project
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.src.name == "main" && p.files().iter().any(|f| !f.is_test))
        .map(|(i, _)| i)
        .collect();
    let containers: Vec<(usize, usize)> = workloads
        .iter()
        .enumerate()
        .flat_map(|(wi, w)| {
            w.containers
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.init)
                .map(move |(ci, _)| (wi, ci))
        })
        .collect();
    let mut out = Vec::new();
    for &(wi, ci) in &containers {
        let w = &workloads[wi];
        let c = &w.containers[ci];
        let qualified = format!("{}/{}", w.object.name, c.name);
        if let Some((_, target)) = overrides
            .iter()
            .find(|(k, _)| *k == qualified)
            .or_else(|| overrides.iter().find(|(k, _)| k == c.name))
        {
            match mains.iter().find(|&&m| path_matches(&project.packages[m], target)) {
                Some(&m) => out.push(PlannedLink {
                    workload: wi,
                    container: ci,
                    main: m,
                    how: format!("linked to {} in pitfall.toml", project.packages[m].src.dir),
                }),
                None => warnings.push(format!(
                    "pitfall.toml links container `{qualified}` to `{target}`, which is not a main package of the checked tree"
                )),
            }
            continue;
        }
        let image_base = c.image().map(pitfall_k8s::image_base_name).unwrap_or("");
        let mut hits: Vec<(usize, String)> = Vec::new();
        for &m in &mains {
            let names = main_names(&project.packages[m]);
            let dir = &project.packages[m].src.dir;
            if !c.name.is_empty() && names.iter().any(|n| n == c.name) {
                hits.push((m, format!("container name `{}` = {dir}", c.name)));
            } else if !image_base.is_empty() && names.iter().any(|n| n == image_base) {
                hits.push((m, format!("image `{image_base}` = {dir}")));
            }
        }
        if hits.len() == 1 {
            let (m, how) = hits.pop().expect("one");
            out.push(PlannedLink {
                workload: wi,
                container: ci,
                main: m,
                how,
            });
        }
    }
    // One service and one container: they belong together.
    if out.is_empty() && mains.len() == 1 && containers.len() == 1 && overrides.is_empty() {
        let (wi, ci) = containers[0];
        out.push(PlannedLink {
            workload: wi,
            container: ci,
            main: mains[0],
            how: format!(
                "the only container and the only main package, {}",
                project.packages[mains[0]].src.dir
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{nolint_names, route_serves};
    use pitfall_go::routes::Route;

    fn route(router: &'static str, method: Option<&str>, path: &str) -> Route {
        Route {
            method: method.map(str::to_string),
            path: path.into(),
            router,
            config_prefix: None,
            origin: String::new(),
            file: String::new(),
            line: 0,
        }
    }

    #[test]
    fn probe_paths_against_routes() {
        assert!(route_serves(
            &route("net/http", Some("GET"), "/healthz"),
            "/healthz"
        ));
        assert!(route_serves(
            &route("net/http", None, "/healthz"),
            "/healthz?full=1"
        ));
        assert!(!route_serves(
            &route("net/http", Some("POST"), "/healthz"),
            "/healthz"
        ));
        assert!(!route_serves(
            &route("net/http", None, "/healthz"),
            "/health"
        ));
        assert!(route_serves(
            &route("net/http", None, "/"),
            "/anything/at/all"
        ));
        assert!(route_serves(&route("default", None, "/debug/"), "/debug/x"));
        assert!(!route_serves(&route("chi", None, "/"), "/healthz"));
        assert!(route_serves(
            &route("chi", None, "/health/{kind}"),
            "/health/live"
        ));
        assert!(route_serves(
            &route("gin", None, "/files/*path"),
            "/files/a/b"
        ));
        assert!(route_serves(
            &route("net/http", None, "/s/{rest...}"),
            "/s/a/b"
        ));
        assert!(!route_serves(&route("gorilla", None, "/a/{id}"), "/a/1/2"));
    }

    #[test]
    fn nolint_comments() {
        assert_eq!(
            nolint_names("image: x # nolint:unpinned-image"),
            Some(vec!["unpinned-image".into()])
        );
        assert_eq!(nolint_names("  # nolint"), Some(vec!["all".into()]));
        assert_eq!(nolint_names("image: a#nolint"), None);
        assert_eq!(
            nolint_names("x: 1 # nolint:a,b // why"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(nolint_names("x: 1 # nolintx"), None);
        assert_eq!(nolint_names("x: 1"), None);
    }
}
