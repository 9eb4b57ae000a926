//! The route map: which HTTP routes a `main` package serves, and where it listens.
//!
//! Read from registration calls (`http.HandleFunc`, `ServeMux.Handle[Func]`
//! with Go 1.22 method patterns, gorilla/mux, chi, gin, echo, fiber) and from
//! serving calls (`ListenAndServe`, `http.Server{Addr}`, `Run`/`Start`/`Listen`),
//! in the main package and the packages of the tree it imports. Addresses are
//! evaluated from literals, constants, concatenation, `fmt.Sprintf` and
//! `os.Getenv` with an `if v == "" { v = "8080" }` fallback.
//!
//! What cannot be read (a pattern built at run time, a router handed to code
//! outside the tree, several custom muxes served on several ports) is listed in
//! [`RouteMap::uncertain`]: cross-checks must stay silent rather than guess.

use crate::ast::*;
use crate::index::{Package, ProjectIndex};
use crate::types::{Env, Scope, Ty};
use crate::walk::{walk, Node};
use crate::GoFile;
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `None` for any method.
    pub method: Option<String>,
    /// The full path, sub-router prefixes included.
    pub path: String,
    /// `net/http` (ServeMux), `default` (http.DefaultServeMux), `gorilla`, `chi`, `gin`, `echo`, `fiber`.
    pub router: &'static str,
    /// Where the router value was created (file:line), to tell muxes apart.
    pub origin: String,
    pub file: String,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The serving call, e.g. `http.ListenAndServe` or `(*http.Server).ListenAndServe`.
    pub call: String,
    /// The address as far as it can be read (env fallback substituted).
    pub addr: Option<String>,
    pub port: Option<u16>,
    /// The environment variable the address or port comes from, if any.
    pub env: Option<String>,
    /// Origin of the router it serves (`default` for the DefaultServeMux),
    /// `None` when the handler could not be followed.
    pub serves: Option<String>,
    pub file: String,
    pub line: u32,
}

#[derive(Clone, Debug, Default)]
pub struct RouteMap {
    /// Directory of the main package.
    pub dir: String,
    pub import_path: String,
    pub listeners: Vec<Listener>,
    pub routes: Vec<Route>,
    /// Reasons the map may be incomplete.
    pub uncertain: Vec<String>,
}

impl RouteMap {
    /// The routes a listener serves (all routes of its router).
    pub fn routes_of<'m>(&'m self, l: &'m Listener) -> impl Iterator<Item = &'m Route> + 'm {
        self.routes
            .iter()
            .filter(move |r| l.serves.as_deref() == Some(r.origin.as_str()))
    }
}

/// Route maps of every `main` package of the project.
pub fn route_maps(project: &ProjectIndex) -> Vec<RouteMap> {
    let mut maps = Vec::new();
    for pkg in &project.packages {
        if pkg.src.name != "main" {
            continue;
        }
        maps.push(route_map(project, pkg));
    }
    maps
}

pub fn route_map<'a>(project: &'a ProjectIndex<'a>, main: &'a Package<'a>) -> RouteMap {
    let mut map = RouteMap {
        dir: main.src.dir.clone(),
        import_path: main.src.import_path.clone(),
        ..Default::default()
    };
    let mut cx = Collector {
        project,
        map: &mut map,
        param_routes: Vec::new(),
        passes: Vec::new(),
    };
    for pkg in project.reachable_from(main) {
        for file in pkg.files().iter().filter(|f| !f.is_test) {
            for decl in &file.ast.decls {
                if let Decl::Func(fd) = decl {
                    cx.function(pkg, file, fd);
                }
            }
        }
    }
    cx.resolve_params();
    // Packages that register on the DefaultServeMux when imported.
    for pkg in project.reachable_from(main) {
        for file in pkg.files().iter().filter(|f| !f.is_test) {
            for imp in &file.ast.imports {
                let paths: &[&str] = match imp.path.as_str() {
                    "net/http/pprof" => &["/debug/pprof/"],
                    "expvar" => &["/debug/vars"],
                    _ => continue,
                };
                let line = file.line_col(imp.span.start).0;
                for p in paths {
                    map.routes.push(Route {
                        method: None,
                        path: p.to_string(),
                        router: "default",
                        origin: "default".into(),
                        file: file.path.clone(),
                        line,
                    });
                }
            }
        }
    }
    map.routes
        .sort_by(|a, b| (&a.file, a.line, &a.path).cmp(&(&b.file, b.line, &b.path)));
    map.routes.dedup();
    let customs: BTreeSet<_> = map
        .routes
        .iter()
        .map(|r| r.origin.clone())
        .filter(|o| o != "default")
        .collect();
    // One custom router and one listener we could not follow: that is the one.
    if customs.len() == 1 {
        let only = customs.iter().next().unwrap().clone();
        let unresolved: Vec<_> = map
            .listeners
            .iter_mut()
            .filter(|l| l.serves.is_none())
            .collect();
        if unresolved.len() == 1 {
            unresolved
                .into_iter()
                .for_each(|l| l.serves = Some(only.clone()));
        }
    }
    for l in &map.listeners {
        if l.serves.is_none() {
            map.uncertain.push(format!(
                "{}:{}: cannot tell which router {} serves",
                l.file, l.line, l.call
            ));
        }
        if l.port.is_none() {
            map.uncertain.push(format!(
                "{}:{}: cannot read the address of {}",
                l.file, l.line, l.call
            ));
        }
    }
    map.uncertain.sort();
    map.uncertain.dedup();
    map
}

#[derive(Clone, Debug)]
struct Router {
    kind: &'static str,
    prefix: String,
    origin: String,
}

/// A route registered on a function parameter, resolved through call sites.
struct ParamRoute {
    func: (String, String),
    param: usize,
    route: Route,
}

/// A call passing a router to a function of the tree.
struct Pass {
    func: (String, String),
    param: usize,
    router: Router,
}

struct Collector<'m, 'a> {
    project: &'a ProjectIndex<'a>,
    map: &'m mut RouteMap,
    param_routes: Vec<ParamRoute>,
    passes: Vec<Pass>,
}

const ROUTER_PKGS: &[(&str, &str)] = &[
    ("github.com/gorilla/mux", "gorilla"),
    ("github.com/go-chi/chi", "chi"),
    ("github.com/go-chi/chi/v5", "chi"),
    ("github.com/gin-gonic/gin", "gin"),
    ("github.com/labstack/echo/v4", "echo"),
    ("github.com/labstack/echo", "echo"),
    ("github.com/gofiber/fiber/v2", "fiber"),
    ("github.com/gofiber/fiber/v3", "fiber"),
];

fn router_kind_of_pkg(path: &str) -> Option<&'static str> {
    ROUTER_PKGS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, k)| *k)
}

const UPPER_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

/// The HTTP method of a chi/fiber/gin/echo registration method name.
fn method_of(kind: &str, name: &str) -> Option<Option<String>> {
    let upper = name.to_ascii_uppercase();
    let is_method = UPPER_METHODS.contains(&upper.as_str());
    match kind {
        "gin" | "echo" if is_method && name == upper => Some(Some(upper)),
        "chi" | "fiber" if is_method && name != upper => Some(Some(upper)),
        "gin" | "echo" if name == "Any" => Some(None),
        "fiber" if name == "All" => Some(None),
        "chi" | "gorilla" | "net/http" if name == "Handle" || name == "HandleFunc" => Some(None),
        _ => None,
    }
}

/// Splits a Go 1.22 ServeMux pattern `[METHOD ][HOST]/PATH`.
pub fn split_pattern(p: &str) -> (Option<String>, String) {
    let (method, rest) = match p.split_once(' ') {
        Some((m, r)) if !m.is_empty() && m.chars().all(|c| c.is_ascii_uppercase()) => {
            (Some(m.to_string()), r.trim())
        }
        _ => (None, p),
    };
    let path = match rest.find('/') {
        Some(i) => &rest[i..],
        None => rest,
    };
    (method, path.to_string())
}

fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        return path.to_string();
    }
    format!(
        "{}/{}",
        prefix.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
    .trim_end_matches('/')
    .to_string()
}

/// A string value read from the code: its text (env fallback substituted)
/// and the environment variable it comes from.
#[derive(Clone, Debug, Default)]
struct Str {
    text: Option<String>,
    env: Option<String>,
}

impl<'m, 'a> Collector<'m, 'a> {
    fn function(&mut self, pkg: &'a Package<'a>, file: &'a GoFile, fd: &'a FuncDecl) {
        let Some(body) = &fd.body else { return };
        let sc = Scope {
            project: self.project,
            pkg,
            file,
        };
        let env = Env::build(&sc, Node::FuncDecl(fd));
        let func_key = (pkg.src.import_path.clone(), fd.name.name.clone());
        let mut routers: HashMap<String, Router> = HashMap::new();
        // Routers received as parameters: routes on them are attributed later.
        let mut params: HashMap<String, usize> = HashMap::new();
        let mut index = 0;
        for field in &fd.ty.params {
            let kind = router_type_kind(&sc.type_expr(&field.ty));
            for name in &field.names {
                if let Some(kind) = kind {
                    params.insert(name.name.clone(), index);
                    routers.insert(
                        name.name.clone(),
                        Router {
                            kind,
                            prefix: String::new(),
                            origin: format!("param:{index}"),
                        },
                    );
                }
                index += 1;
            }
        }
        let mut handled: BTreeSet<Span> = BTreeSet::new();
        let mut servers: HashMap<String, &'a CompositeLit> = HashMap::new();
        walk(Node::Block(body), &mut |n, _| {
            match n {
                Node::Stmt(Stmt::Assign(a)) => {
                    for (lhs, rhs) in a.lhs.iter().zip(&a.rhs) {
                        let Some(name) = lhs.ident_name() else {
                            continue;
                        };
                        if let Some(r) = self.router_value(&sc, &env, file, &routers, rhs) {
                            routers.insert(name.to_string(), r);
                        }
                        if let Some(lit) = server_literal(&env, file, rhs) {
                            servers.insert(name.to_string(), lit);
                        }
                    }
                }
                Node::ValueSpec(v) => {
                    for (id, rhs) in v.names.iter().zip(&v.values) {
                        if let Some(r) = self.router_value(&sc, &env, file, &routers, rhs) {
                            routers.insert(id.name.clone(), r);
                        }
                    }
                }
                Node::Expr(Expr::Call(c)) => {
                    self.call(
                        &sc,
                        &env,
                        file,
                        &func_key,
                        &params,
                        &mut routers,
                        &servers,
                        &mut handled,
                        c,
                    );
                }
                _ => {}
            }
            true
        });
    }

    /// A router created or derived by `e`.
    fn router_value(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        file: &GoFile,
        routers: &HashMap<String, Router>,
        e: &'a Expr,
    ) -> Option<Router> {
        let call = e.unparen().as_call()?;
        let origin = || {
            let (l, _) = file.line_col(call.span.start);
            format!("{}:{l}", file.path)
        };
        if let Some((pkg, name)) = env.pkg_member(file, &call.fun) {
            return match (pkg, name) {
                ("net/http", "NewServeMux") => Some(Router {
                    kind: "net/http",
                    prefix: String::new(),
                    origin: origin(),
                }),
                (p, "NewRouter" | "NewMux" | "New" | "Default") => {
                    router_kind_of_pkg(p).map(|kind| Router {
                        kind,
                        prefix: String::new(),
                        origin: origin(),
                    })
                }
                _ => None,
            };
        }
        let sel = call.fun.as_selector()?;
        // r.PathPrefix("/api").Subrouter()  (gorilla)
        if sel.sel.name == "Subrouter" {
            let inner = sel.x.as_call()?;
            let isel = inner.fun.as_selector()?;
            let base = routers.get(isel.x.ident_name()?)?;
            if isel.sel.name == "PathPrefix" {
                let p = inner.args.first()?.as_string_lit()?;
                return Some(Router {
                    prefix: join(&base.prefix, &p),
                    ..base.clone()
                });
            }
            return None;
        }
        // g := r.Group("/api")  (gin, echo, fiber)
        if sel.sel.name == "Group" {
            let base = routers.get(sel.x.ident_name()?)?;
            if matches!(base.kind, "gin" | "echo" | "fiber") {
                let p = call.args.first()?.as_string_lit()?;
                return Some(Router {
                    prefix: join(&base.prefix, &p),
                    ..base.clone()
                });
            }
        }
        let _ = sc;
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        file: &'a GoFile,
        func_key: &(String, String),
        params: &HashMap<String, usize>,
        routers: &mut HashMap<String, Router>,
        servers: &HashMap<String, &'a CompositeLit>,
        handled: &mut BTreeSet<Span>,
        c: &'a CallExpr,
    ) {
        if handled.contains(&c.span) {
            return;
        }
        let line = file.line_col(c.span.start).0;
        // Package-level helpers of net/http.
        if let Some((pkg, name)) = env.pkg_member(file, &c.fun) {
            match (pkg, name) {
                ("net/http", "HandleFunc" | "Handle") => {
                    let default = Router {
                        kind: "default",
                        prefix: String::new(),
                        origin: "default".into(),
                    };
                    self.register(
                        file,
                        line,
                        &default,
                        None,
                        c.args.first(),
                        true,
                        func_key,
                        params,
                        None,
                    );
                }
                ("net/http", "ListenAndServe" | "ListenAndServeTLS") => {
                    let addr = self.eval(sc, env, file, c.args.first(), 0);
                    let handler = c.args.last().filter(|_| c.args.len() >= 2);
                    let serves = self.handler_origin(env, file, routers, handler);
                    self.listen(file, line, format!("http.{name}"), addr, serves);
                }
                _ => {}
            }
            // Routers passed to functions of the tree.
            self.note_passes(env, file, routers, c);
            return;
        }
        self.note_passes(env, file, routers, c);
        let Some(sel) = c.fun.as_selector() else {
            return;
        };
        let method = sel.sel.name.as_str();
        // gorilla: r.HandleFunc("/x", h).Methods("GET", "POST")
        if method == "Methods" {
            if let Some(inner) = sel.x.as_call() {
                if let Some(r) = inner
                    .fun
                    .as_selector()
                    .and_then(|s| s.x.ident_name())
                    .and_then(|n| routers.get(n))
                {
                    if r.kind == "gorilla" {
                        handled.insert(inner.span);
                        let r = r.clone();
                        for m in c.args.iter().filter_map(|a| a.as_string_lit()) {
                            self.register(
                                file,
                                line,
                                &r,
                                Some(m),
                                inner.args.first(),
                                false,
                                func_key,
                                params,
                                recv_name(inner),
                            );
                        }
                    }
                }
            }
            return;
        }
        // Serving a server literal: srv.ListenAndServe()
        if matches!(method, "ListenAndServe" | "ListenAndServeTLS") {
            if let Some(lit) = sel.x.ident_name().and_then(|n| servers.get(n)) {
                let addr = self.eval(sc, env, file, crate::http_facts::field(lit, "Addr"), 0);
                let serves = self.handler_origin(
                    env,
                    file,
                    routers,
                    crate::http_facts::field(lit, "Handler"),
                );
                self.listen(file, line, format!("(*http.Server).{method}"), addr, serves);
                return;
            }
            if env.type_of(sc, &sel.x).is_named("net/http", "Server") {
                self.listen(
                    file,
                    line,
                    format!("(*http.Server).{method}"),
                    Str::default(),
                    None,
                );
            }
            return;
        }
        let Some(recv) = sel.x.ident_name() else {
            return;
        };
        let Some(r) = routers.get(recv).cloned() else {
            return;
        };
        // chi: r.Route("/api", func(r chi.Router) { ... }); r.Group(func(r chi.Router) {...})
        if r.kind == "chi" && matches!(method, "Route" | "Group") {
            let (prefix, f) = match method {
                "Route" => (
                    c.args.first().and_then(|a| a.as_string_lit()),
                    c.args.get(1),
                ),
                _ => (Some(String::new()), c.args.first()),
            };
            if let (Some(prefix), Some(Expr::FuncLit(fl))) = (prefix, f.map(|f| f.unparen())) {
                if let Some(p) = fl.ty.params.first().and_then(|p| p.names.first()) {
                    routers.insert(
                        p.name.clone(),
                        Router {
                            prefix: join(&r.prefix, &prefix),
                            ..r.clone()
                        },
                    );
                }
            }
            return;
        }
        // Serving calls of the frameworks.
        match (r.kind, method) {
            ("gin", "Run") | ("echo", "Start") | ("fiber", "Listen") => {
                let addr = match c.args.first() {
                    Some(a) => self.eval(sc, env, file, Some(a), 0),
                    // gin's Run() without an address reads $PORT, else :8080.
                    None => Str {
                        text: Some(":8080".into()),
                        env: Some("PORT".into()),
                    },
                };
                self.listen(
                    file,
                    line,
                    format!("{}.{method}", r.kind),
                    addr,
                    Some(r.origin.clone()),
                );
                return;
            }
            _ => {}
        }
        match (r.kind, method) {
            // A method name as the first argument: chi Method, gin/echo/fiber Handle/Add.
            ("chi", "Method" | "MethodFunc") | ("gin" | "echo" | "fiber", "Handle" | "Add") => {
                let m = c.args.first().and_then(|a| a.as_string_lit());
                self.register(
                    file,
                    line,
                    &r,
                    m,
                    c.args.get(1),
                    false,
                    func_key,
                    params,
                    Some(recv),
                );
            }
            (kind, name) => {
                if let Some(m) = method_of(kind, name) {
                    self.register(
                        file,
                        line,
                        &r,
                        m,
                        c.args.first(),
                        kind == "net/http",
                        func_key,
                        params,
                        Some(recv),
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        file: &GoFile,
        line: u32,
        r: &Router,
        method: Option<String>,
        pattern: Option<&'a Expr>,
        go122: bool,
        func_key: &(String, String),
        params: &HashMap<String, usize>,
        recv: Option<&str>,
    ) {
        let Some(text) = pattern.and_then(|p| p.as_string_lit()) else {
            self.map.uncertain.push(format!(
                "{}:{line}: a route pattern that is not a literal",
                file.path
            ));
            return;
        };
        let (m2, path) = if go122 {
            split_pattern(&text)
        } else {
            (None, text)
        };
        let route = Route {
            method: method.or(m2),
            path: join(&r.prefix, &path),
            router: r.kind,
            origin: r.origin.clone(),
            file: file.path.clone(),
            line,
        };
        if let Some(&param) = recv
            .and_then(|n| params.get(n))
            .filter(|_| r.origin.starts_with("param:"))
        {
            self.param_routes.push(ParamRoute {
                func: func_key.clone(),
                param,
                route,
            });
        } else {
            self.map.routes.push(route);
        }
    }

    fn listen(
        &mut self,
        file: &GoFile,
        line: u32,
        call: String,
        addr: Str,
        serves: Option<String>,
    ) {
        let port = addr.text.as_deref().and_then(port_of);
        self.map.listeners.push(Listener {
            call,
            addr: addr.text,
            port,
            env: addr.env,
            serves,
            file: file.path.clone(),
            line,
        });
    }

    /// Records routers handed to a function of the tree (`setupRoutes(mux)`).
    fn note_passes(
        &mut self,
        env: &Env<'a>,
        file: &GoFile,
        routers: &HashMap<String, Router>,
        c: &'a CallExpr,
    ) {
        let target = match c.fun.unparen() {
            Expr::Ident(id) if env.resolve(id).is_none() => None.or(Some((None, id.name.clone()))),
            e => env
                .pkg_member(file, e)
                .map(|(p, n)| (Some(p.to_string()), n.to_string())),
        };
        self.note_foreign_registration(env, file, routers, c, target.as_ref());
        let Some((pkg, name)) = target else { return };
        for (i, a) in c.args.iter().enumerate() {
            if let Some(r) = a.ident_name().and_then(|n| routers.get(n)) {
                let pkg = pkg.clone().unwrap_or_default();
                self.passes.push(Pass {
                    func: (pkg, name.clone()),
                    param: i,
                    router: r.clone(),
                });
            }
        }
    }

    /// A router handed to a registering function outside the checked tree
    /// (`health.Register(mux)` from another module, `svc.Mount(mux)`): it
    /// may add routes pitfall cannot see.
    fn note_foreign_registration(
        &mut self,
        env: &Env<'a>,
        file: &GoFile,
        routers: &HashMap<String, Router>,
        c: &'a CallExpr,
        target: Option<&(Option<String>, String)>,
    ) {
        const REGISTERS: &[&str] = &[
            "Register",
            "Setup",
            "Mount",
            "Add",
            "Install",
            "Attach",
            "Init",
            "Route",
            "Handle",
            "Configure",
            "Expose",
            "Bind",
            "Use",
        ];
        let passes_router = c
            .args
            .iter()
            .any(|a| a.ident_name().is_some_and(|n| routers.contains_key(n)));
        if !passes_router {
            return;
        }
        let (what, name) = match target {
            Some((Some(pkg), name)) => {
                let std = !pkg.split('/').next().unwrap_or("").contains('.');
                if std || self.project.package(pkg).is_some() {
                    return;
                }
                (format!("{pkg}.{name}"), name.clone())
            }
            Some((None, _)) => return,
            None => {
                // A method on a value that is not itself a router of ours.
                let Some(sel) = c.fun.as_selector() else {
                    return;
                };
                if sel.x.ident_name().is_some_and(|n| routers.contains_key(n))
                    || env.pkg_member(file, &c.fun).is_some()
                {
                    return;
                }
                (format!("method {}", sel.sel.name), sel.sel.name.clone())
            }
        };
        if REGISTERS.iter().any(|p| name.starts_with(p)) {
            let (line, _) = file.line_col(c.span.start);
            self.map.uncertain.push(format!(
                "{}:{line}: a router is handed to {what}, which may register routes outside the checked tree",
                file.path
            ));
        }
    }

    /// Routes registered on parameters go to the routers passed at call sites.
    fn resolve_params(&mut self) {
        for pr in std::mem::take(&mut self.param_routes) {
            let mut found = false;
            for pass in &self.passes {
                let same_func = pass.func.1 == pr.func.1
                    && (pass.func.0.is_empty() || pass.func.0 == pr.func.0);
                if same_func && pass.param == pr.param && !pass.router.origin.starts_with("param:")
                {
                    found = true;
                    let mut route = pr.route.clone();
                    route.path = join(&pass.router.prefix, &route.path);
                    route.origin = pass.router.origin.clone();
                    route.router = pass.router.kind;
                    self.map.routes.push(route);
                }
            }
            if !found {
                self.map.uncertain.push(format!(
                    "{}:{}: route {} registered on a router received as a parameter, caller not found",
                    pr.route.file, pr.route.line, pr.route.path
                ));
            }
        }
    }

    fn handler_origin(
        &self,
        env: &Env<'a>,
        file: &GoFile,
        routers: &HashMap<String, Router>,
        handler: Option<&'a Expr>,
    ) -> Option<String> {
        let Some(h) = handler else {
            return Some("default".into());
        };
        let h = h.unparen();
        if h.ident_name() == Some("nil") {
            return Some("default".into());
        }
        if env.pkg_member(file, h) == Some(("net/http", "DefaultServeMux")) {
            return Some("default".into());
        }
        if let Some(r) = h.ident_name().and_then(|n| routers.get(n)) {
            return Some(r.origin.clone());
        }
        // A middleware wrapping a router: logging(mux), otelhttp.NewHandler(mux, "x").
        if let Some(c) = h.as_call() {
            let inner: Vec<_> = c
                .args
                .iter()
                .filter_map(|a| a.ident_name())
                .filter_map(|n| routers.get(n))
                .collect();
            if inner.len() == 1 {
                return Some(inner[0].origin.clone());
            }
        }
        None
    }

    /// Evaluates a string expression as far as the code shows it.
    fn eval(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        file: &'a GoFile,
        e: Option<&'a Expr>,
        depth: u32,
    ) -> Str {
        let Some(e) = e else { return Str::default() };
        if depth > 8 {
            return Str::default();
        }
        match e.unparen() {
            Expr::BasicLit(l) => Str {
                text: l
                    .string_value()
                    .or_else(|| l.int_value().map(|v| v.to_string())),
                env: None,
            },
            Expr::Binary(b) if b.op == "+" => {
                let x = self.eval(sc, env, file, Some(&b.x), depth + 1);
                let y = self.eval(sc, env, file, Some(&b.y), depth + 1);
                Str {
                    text: x.text.zip(y.text).map(|(a, b)| a + &b),
                    env: x.env.or(y.env),
                }
            }
            Expr::Ident(id) => {
                if let Some(b) = env.resolve(id) {
                    let mut v = self.eval(sc, env, file, b.init, depth + 1);
                    // `if port == "" { port = "8080" }`: the fallback.
                    if let Some(fallback) = fallback_assignment(env, file, id) {
                        if v.env.is_some() && v.text.as_deref().is_none_or(str::is_empty) {
                            v.text = Some(fallback);
                        }
                    }
                    return v;
                }
                let Some(def) = sc.pkg.vars.get(id.name.as_str()) else {
                    return Str::default();
                };
                let fsc = Scope {
                    file: def.file,
                    ..*sc
                };
                let init = def.spec.values.get(def.index);
                self.eval(&fsc, &Env::default(), def.file, init, depth + 1)
            }
            Expr::Call(c) => match env.pkg_member(file, &c.fun) {
                Some(("os", "Getenv")) => Str {
                    text: None,
                    env: c.args.first().and_then(|a| a.as_string_lit()),
                },
                Some(("fmt", "Sprintf")) => {
                    let Some(format) = c.args.first().and_then(|a| a.as_string_lit()) else {
                        return Str::default();
                    };
                    let mut out = String::new();
                    let mut args = c.args.iter().skip(1);
                    let mut var = None;
                    let mut chars = format.chars().peekable();
                    while let Some(ch) = chars.next() {
                        if ch == '%' && chars.peek().is_some_and(|n| matches!(n, 's' | 'd' | 'v')) {
                            chars.next();
                            let v = self.eval(sc, env, file, args.next(), depth + 1);
                            var = var.or(v.env);
                            match v.text {
                                Some(t) => out.push_str(&t),
                                None => {
                                    return Str {
                                        text: None,
                                        env: var,
                                    }
                                }
                            }
                        } else {
                            out.push(ch);
                        }
                    }
                    Str {
                        text: Some(out),
                        env: var,
                    }
                }
                Some(("net", "JoinHostPort")) => {
                    let h = self.eval(sc, env, file, c.args.first(), depth + 1);
                    let p = self.eval(sc, env, file, c.args.get(1), depth + 1);
                    Str {
                        text: h.text.zip(p.text).map(|(h, p)| format!("{h}:{p}")),
                        env: h.env.or(p.env),
                    }
                }
                Some(("strconv", "Itoa")) => self.eval(sc, env, file, c.args.first(), depth + 1),
                // flag.String("addr", ":8080", "usage"): the default.
                Some(("flag", "String" | "Int" | "Uint")) => {
                    self.eval(sc, env, file, c.args.get(1), depth + 1)
                }
                Some(_) => Str::default(),
                None => self.env_helper(sc, env, file, c, depth),
            },
            Expr::Star(s) => self.eval(sc, env, file, Some(&s.x), depth + 1),
            _ => Str::default(),
        }
    }
}

impl<'m, 'a> Collector<'m, 'a> {
    /// `envOr("PORT", "8080")`: a function of this package that reads the
    /// environment variable named by its first parameter, with the second as
    /// fallback.
    fn env_helper(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        file: &'a GoFile,
        c: &'a CallExpr,
        depth: u32,
    ) -> Str {
        let Some(name) = c.fun.ident_name() else {
            return Str::default();
        };
        let Some(def) = sc.pkg.funcs.get(name) else {
            return Str::default();
        };
        let Some(first) = def.decl.ty.params.first().and_then(|p| p.names.first()) else {
            return Str::default();
        };
        let Some(body) = &def.decl.body else {
            return Str::default();
        };
        let mut reads_env = false;
        walk(Node::Block(body), &mut |n, _| {
            if let Node::Expr(Expr::Call(inner)) = n {
                let is_getenv = inner.fun.as_selector().is_some_and(|s| {
                    s.x.ident_name().and_then(|p| def.file.import_path(p)) == Some("os")
                        && matches!(s.sel.name.as_str(), "Getenv" | "LookupEnv")
                });
                if is_getenv
                    && inner.args.first().and_then(|a| a.ident_name()) == Some(first.name.as_str())
                {
                    reads_env = true;
                }
            }
            !reads_env
        });
        if !reads_env {
            return Str::default();
        }
        let var = c.args.first().and_then(|a| a.as_string_lit());
        let fallback = self.eval(sc, env, file, c.args.get(1), depth + 1);
        Str {
            text: fallback.text,
            env: var,
        }
    }
}

fn recv_name(c: &CallExpr) -> Option<&str> {
    c.fun.as_selector().and_then(|s| s.x.ident_name())
}

/// `x = "literal"` inside an `if x == ""` block of the same function.
fn fallback_assignment(env: &Env<'_>, file: &GoFile, id: &Ident) -> Option<String> {
    let binding = env.resolve(id)?;
    let root = file
        .ast
        .decls
        .iter()
        .find(|d| d.span().encloses(binding.scope))?;
    let Decl::Func(fd) = root else { return None };
    let mut found = None;
    walk(Node::FuncDecl(fd), &mut |n, _| {
        if let Node::Stmt(Stmt::If(i)) = n {
            if let Expr::Binary(b) = i.cond.unparen() {
                if b.op == "=="
                    && b.x.ident_name() == Some(binding.name)
                    && b.y.as_string_lit().as_deref() == Some("")
                {
                    for s in &i.then.stmts {
                        if let Stmt::Assign(a) = s {
                            if a.lhs.first().and_then(|l| l.ident_name()) == Some(binding.name) {
                                found = a.rhs.first().and_then(|r| r.as_string_lit());
                            }
                        }
                    }
                }
            }
        }
        found.is_none()
    });
    found
}

/// `&http.Server{...}` or `http.Server{...}`.
fn server_literal<'a>(env: &Env<'a>, file: &'a GoFile, e: &'a Expr) -> Option<&'a CompositeLit> {
    let e = match e.unparen() {
        Expr::Unary(u) if u.op == "&" => u.x.unparen(),
        other => other,
    };
    let Expr::CompositeLit(lit) = e else {
        return None;
    };
    let ty = lit.ty.as_ref()?;
    (env.pkg_member(file, ty) == Some(("net/http", "Server"))).then_some(&**lit)
}

fn router_type_kind(t: &Ty) -> Option<&'static str> {
    match t.deref() {
        Ty::Named("net/http", "ServeMux") => Some("net/http"),
        Ty::Named(p, _) => router_kind_of_pkg(p),
        _ => None,
    }
}

/// The port of `":8080"`, `"0.0.0.0:8080"`, `"[::]:8080"` or `"8080"`.
pub fn port_of(addr: &str) -> Option<u16> {
    let p = match addr.rfind(':') {
        Some(i) => &addr[i + 1..],
        None => addr,
    };
    p.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_ports() {
        assert_eq!(
            split_pattern("GET /health/live"),
            (Some("GET".into()), "/health/live".into())
        );
        assert_eq!(split_pattern("example.com/x"), (None, "/x".into()));
        assert_eq!(split_pattern("/x"), (None, "/x".into()));
        assert_eq!(port_of(":8080"), Some(8080));
        assert_eq!(port_of("[::1]:9090"), Some(9090));
        assert_eq!(port_of("localhost"), None);
        assert_eq!(join("/api/", "/v1"), "/api/v1");
        assert_eq!(join("", "/v1"), "/v1");
    }
}
