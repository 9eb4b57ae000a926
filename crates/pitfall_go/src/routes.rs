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
use crate::walk::{self, walk, Node};
use crate::GoFile;
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `None` for any method.
    pub method: Option<String>,
    /// The full path, sub-router prefixes included.
    pub path: String,
    /// `net/http` (ServeMux), `default` (http.DefaultServeMux), `gorilla`,
    /// `chi`, `gin`, `echo`, `fiber`; `grpc` for a gRPC service registered on
    /// a `grpc.Server` (its path is `/<package.Service>/`).
    pub router: &'static str,
    /// A prefix read from configuration at run time (`baseUrl + "/cart"`
    /// with `baseUrl = os.Getenv("BASE_URL")`): the environment variable
    /// whose value goes before `path`. `path` holds the rest.
    pub config_prefix: Option<String>,
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
    /// The environment variable the port comes from, if any.
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

/// The gRPC health service (`grpc.health.v1.Health`), which `grpc:` probes call.
pub const GRPC_HEALTH: &str = "/grpc.health.v1.Health/";

impl Listener {
    /// Whether this listener serves gRPC (`(*grpc.Server).Serve`).
    pub fn is_grpc(&self) -> bool {
        self.call.starts_with("(*grpc.Server)")
    }
}

impl Route {
    /// The path with its configuration prefix shown as `$VAR`.
    pub fn shown_path(&self) -> String {
        match &self.config_prefix {
            Some(v) => format!("${v}{}", self.path),
            None => self.path.clone(),
        }
    }
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
        for file in pkg.files().iter().filter(|f| !f.is_test && !f.is_generated) {
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
                        config_prefix: None,
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
    /// A handler wrapping the router (`logging(r)`, `otelhttp.NewHandler(r, "x")`,
    /// `&logHandler{next: r}`): it serves the router's routes, but calls
    /// on it do not register on the router.
    wrapped: bool,
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
        let func_key = (pkg.src.import_path.clone(), fd.name.name.to_string());
        let mut routers: HashMap<String, Router> = HashMap::new();
        // Routers received as parameters: routes on them are attributed later.
        let mut params: HashMap<String, usize> = HashMap::new();
        let mut index = 0;
        for field in &fd.ty.params {
            let kind = router_type_kind(&sc.type_expr(&field.ty));
            for name in &field.names {
                if let Some(kind) = kind {
                    params.insert(name.name.to_string(), index);
                    routers.insert(
                        name.name.to_string(),
                        Router {
                            kind,
                            prefix: String::new(),
                            origin: format!("param:{index}"),
                            wrapped: false,
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
                            routers.insert(id.name.to_string(), r);
                        }
                    }
                }
                Node::Expr(Expr::Call(c)) => {
                    self.call(
                        &sc,
                        &env,
                        file,
                        Node::FuncDecl(fd),
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
        if let Some(r) = self.wrapped_router(env, file, routers, e) {
            return Some(r);
        }
        let call = e.unparen().as_call()?;
        let origin = || {
            let (l, _) = file.line_col(call.span.start);
            format!("{}:{l}", file.path)
        };
        if let Some((pkg, name)) = env.pkg_member(file, &call.fun) {
            return match (pkg, name) {
                ("google.golang.org/grpc", "NewServer") => Some(Router {
                    kind: "grpc",
                    prefix: String::new(),
                    origin: origin(),
                    wrapped: false,
                }),
                ("net/http", "NewServeMux") => Some(Router {
                    kind: "net/http",
                    prefix: String::new(),
                    origin: origin(),
                    wrapped: false,
                }),
                (p, "NewRouter" | "NewMux" | "New" | "Default") => {
                    router_kind_of_pkg(p).map(|kind| Router {
                        kind,
                        prefix: String::new(),
                        origin: origin(),
                        wrapped: false,
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
        root: Node<'a>,
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
                        wrapped: false,
                    };
                    self.register(
                        sc,
                        env,
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
                (_, _)
                    if self.grpc_register(file, line, func_key, params, routers, pkg, name, c) =>
                {
                    return;
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
                    if r.kind == "gorilla" && !r.wrapped {
                        handled.insert(inner.span);
                        let r = r.clone();
                        // "GET" or http.MethodGet; one we cannot read counts as any method.
                        let methods: Vec<Option<String>> =
                            c.args.iter().map(|a| method_value(env, file, a)).collect();
                        let methods = if methods.iter().any(Option::is_none) {
                            vec![None]
                        } else {
                            methods
                        };
                        for m in methods {
                            self.register(
                                sc,
                                env,
                                file,
                                line,
                                &r,
                                m,
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
        // gorilla: r.PathPrefix("/static/").Handler(h): everything below the prefix.
        if matches!(method, "Handler" | "HandlerFunc") {
            if let Some(inner) = sel.x.as_call() {
                let isel = inner.fun.as_selector();
                let r = isel
                    .filter(|s| s.sel.name == "PathPrefix")
                    .and_then(|s| s.x.ident_name())
                    .and_then(|n| routers.get(n))
                    .filter(|r| r.kind == "gorilla" && !r.wrapped)
                    .cloned();
                if let (Some(r), Some(p)) = (r, inner.args.first()) {
                    match self.pattern(sc, env, p, 0) {
                        Some((config_prefix, text)) => {
                            let path = format!("{}/{{rest...}}", text.trim_end_matches('/'));
                            let route = Route {
                                method: None,
                                path: join(&r.prefix, &path),
                                router: r.kind,
                                config_prefix,
                                origin: r.origin.clone(),
                                file: file.path.clone(),
                                line,
                            };
                            self.add_route(route, &r, func_key, params, recv_name(inner));
                        }
                        None => self.map.uncertain.push(format!(
                            "{}:{line}: a route pattern that is not a literal",
                            file.path
                        )),
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
        let Some(r) = routers.get(recv).filter(|r| !r.wrapped).cloned() else {
            return;
        };
        if r.kind == "grpc" {
            self.grpc_method(sc, env, file, root, func_key, params, &r, recv, method, c);
            return;
        }
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
                        p.name.to_string(),
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
                    sc,
                    env,
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
                        sc,
                        env,
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
        sc: &Scope<'a>,
        env: &Env<'a>,
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
        let Some((config_prefix, text)) = pattern.and_then(|p| self.pattern(sc, env, p, 0)) else {
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
            config_prefix,
            origin: r.origin.clone(),
            file: file.path.clone(),
            line,
        };
        self.add_route(route, r, func_key, params, recv);
    }

    /// Records a route, or keeps it for the callers when it is registered
    /// on a router received as a parameter.
    fn add_route(
        &mut self,
        route: Route,
        r: &Router,
        func_key: &(String, String),
        params: &HashMap<String, usize>,
        recv: Option<&str>,
    ) {
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
            Expr::Ident(id) if env.resolve(id).is_none() => {
                None.or(Some((None, id.name.to_string())))
            }
            e => env
                .pkg_member(file, e)
                .map(|(p, n)| (Some(p.to_string()), n.to_string())),
        };
        self.note_foreign_registration(env, file, routers, c, target.as_ref());
        let Some((pkg, name)) = target else { return };
        for (i, a) in c.args.iter().enumerate() {
            if let Some(r) = a
                .ident_name()
                .and_then(|n| routers.get(n))
                .filter(|r| !r.wrapped)
            {
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
        let passes_router = c.args.iter().any(|a| {
            a.ident_name()
                .and_then(|n| routers.get(n))
                .is_some_and(|r| !r.wrapped)
        });
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
                (format!("method {}", sel.sel.name), sel.sel.name.to_string())
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
                // The port is at the end: `host + ":" + port`. A right side
                // that already holds the port makes the left one's variable
                // (a host) irrelevant to it.
                let y_has_port = y.text.as_deref().is_some_and(|t| {
                    t.rsplit_once(':')
                        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                });
                let env = match y.env {
                    Some(v) => Some(v),
                    None if y_has_port => None,
                    None => x.env,
                };
                Str {
                    text: x.text.zip(y.text).map(|(a, b)| a + &b),
                    env,
                }
            }
            Expr::Ident(id) => {
                if let Some(b) = env.resolve(id) {
                    let mut v = self.eval(sc, env, file, b.init, depth + 1);
                    match fallback_assignment(env, file, id) {
                        // `if port == "" { port = "8080" }`: the fallback.
                        Some(Fallback::Default(fallback)) => {
                            if v.env.is_some() && v.text.as_deref().is_none_or(str::is_empty) {
                                v.text = Some(fallback);
                            }
                        }
                        // `if os.Getenv("PORT") != "" { port = os.Getenv("PORT") }`:
                        // the initial value is the default, the variable overrides it.
                        Some(Fallback::Override(var)) => v.env = Some(var),
                        None => {}
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
                // Unset, the variable reads as "".
                Some(("os", "Getenv")) => Str {
                    text: Some(String::new()),
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

/// gRPC services whose registering function lives outside the checked tree.
const KNOWN_GRPC_SERVICES: &[(&str, &str, &str)] = &[
    (
        "google.golang.org/grpc/health/grpc_health_v1",
        "RegisterHealthServer",
        "grpc.health.v1.Health",
    ),
    (
        "google.golang.org/grpc/reflection",
        "Register",
        "grpc.reflection.v1.ServerReflection",
    ),
    (
        "google.golang.org/grpc/reflection/grpc_reflection_v1",
        "RegisterServerReflectionServer",
        "grpc.reflection.v1.ServerReflection",
    ),
    (
        "google.golang.org/grpc/channelz/service",
        "RegisterChannelzServiceToServer",
        "grpc.channelz.v1.Channelz",
    ),
];

impl<'m, 'a> Collector<'m, 'a> {
    /// A value that stands for a router already known: the router itself
    /// (`var handler http.Handler = r`), or a middleware wrapping it
    /// (`logging(r)`, `otelhttp.NewHandler(r, "x")`, `&logHandler{next: r}`).
    fn wrapped_router(
        &self,
        env: &Env<'a>,
        file: &GoFile,
        routers: &HashMap<String, Router>,
        e: &'a Expr,
    ) -> Option<Router> {
        let e = match e.unparen() {
            Expr::Unary(u) if u.op == "&" => u.x.unparen(),
            other => other,
        };
        let inner: Vec<&Expr> = match e {
            Expr::Ident(id) => return routers.get(id.name.as_str()).cloned(),
            Expr::Call(c) => {
                if env.pkg_member(file, &c.fun) == Some(("google.golang.org/grpc", "NewServer")) {
                    return None;
                }
                c.args.iter().collect()
            }
            Expr::CompositeLit(lit) => {
                let ty = lit.ty.as_ref()?;
                if env.pkg_member(file, ty) == Some(("net/http", "Server")) {
                    return None;
                }
                lit.elts
                    .iter()
                    .map(|el| match el {
                        Expr::KeyValue(kv) => &kv.value,
                        other => other,
                    })
                    .collect()
            }
            _ => return None,
        };
        let found: Vec<&Router> = inner
            .iter()
            .filter_map(|a| a.ident_name())
            .filter_map(|n| routers.get(n))
            .collect();
        match found.as_slice() {
            [r] if r.kind != "grpc" => Some(Router {
                wrapped: true,
                ..(*r).clone()
            }),
            _ => None,
        }
    }

    /// `pb.RegisterOrdersServer(s, impl)`, `healthpb.RegisterHealthServer(s, h)`,
    /// `reflection.Register(s)`: a service registered on a gRPC server.
    #[allow(clippy::too_many_arguments)]
    fn grpc_register(
        &mut self,
        file: &GoFile,
        line: u32,
        func_key: &(String, String),
        params: &HashMap<String, usize>,
        routers: &HashMap<String, Router>,
        pkg: &str,
        name: &str,
        c: &'a CallExpr,
    ) -> bool {
        if !name.starts_with("Register") {
            return false;
        }
        let Some(recv) = c.args.first().and_then(|a| a.ident_name()) else {
            return false;
        };
        let Some(r) = routers.get(recv).filter(|r| r.kind == "grpc").cloned() else {
            return false;
        };
        // A registering function of the tree's own (not generated) code is
        // followed like any function the server is handed to.
        let own = self
            .project
            .package(pkg)
            .and_then(|p| p.funcs.get(name))
            .is_some_and(|f| !f.file.is_generated);
        if own {
            return false;
        }
        let service = self.grpc_service_name(pkg, name);
        let route = Route {
            method: None,
            path: format!("/{service}/"),
            router: "grpc",
            config_prefix: None,
            origin: r.origin.clone(),
            file: file.path.clone(),
            line,
        };
        self.add_route(route, &r, func_key, params, Some(recv));
        true
    }

    /// The full name of the service a `Register...` function registers: from
    /// the generated `ServiceDesc` when the package is in the tree, from a
    /// table for the services grpc-go ships, else the name of the function
    /// without `Register`/`Server` (package unknown).
    fn grpc_service_name(&self, pkg: &str, name: &str) -> String {
        if let Some((_, _, s)) = KNOWN_GRPC_SERVICES
            .iter()
            .find(|(p, n, _)| *p == pkg && *n == name)
        {
            return s.to_string();
        }
        if let Some(s) = self.generated_service_name(pkg, name) {
            return s;
        }
        let short = name.trim_start_matches("Register");
        let short = short.strip_suffix("Server").unwrap_or(short);
        format!("?.{short}")
    }

    /// Follows `func RegisterXServer(s grpc.ServiceRegistrar, srv XServer) {
    /// s.RegisterService(&X_ServiceDesc, srv) }` to the descriptor's `ServiceName`.
    fn generated_service_name(&self, pkg: &str, name: &str) -> Option<String> {
        let p = self.project.package(pkg)?;
        let def = p.funcs.get(name)?;
        let mut name = None;
        walk(Node::FuncDecl(def.decl), &mut |n, _| {
            if let Node::Expr(Expr::Call(c)) = n {
                if c.method_name() == Some("RegisterService") {
                    name = c.args.first().and_then(|a| desc_service_name(p, a));
                }
            }
            name.is_none()
        });
        name
    }

    /// A method called on a gRPC server: `Serve(lis)` listens,
    /// `RegisterService(&desc, impl)` registers.
    #[allow(clippy::too_many_arguments)]
    fn grpc_method(
        &mut self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        file: &'a GoFile,
        root: Node<'a>,
        func_key: &(String, String),
        params: &HashMap<String, usize>,
        r: &Router,
        recv: &str,
        method: &str,
        c: &'a CallExpr,
    ) {
        let line = file.line_col(c.span.start).0;
        match method {
            "Serve" => {
                let addr = match c.args.first() {
                    Some(l) => {
                        let e = crate::http_facts::listener_addr_expr(sc, env, root, l);
                        self.eval(sc, env, file, e, 0)
                    }
                    None => Str::default(),
                };
                self.listen(
                    file,
                    line,
                    "(*grpc.Server).Serve".into(),
                    addr,
                    Some(r.origin.clone()),
                );
            }
            "RegisterService" => {
                let desc = c.args.first().and_then(|a| desc_service_name(sc.pkg, a));
                let route = Route {
                    method: None,
                    path: format!("/{}/", desc.unwrap_or_else(|| "?".into())),
                    router: "grpc",
                    config_prefix: None,
                    origin: r.origin.clone(),
                    file: file.path.clone(),
                    line,
                };
                self.add_route(route, r, func_key, params, Some(recv));
            }
            _ => {}
        }
    }

    /// A route pattern: its configuration prefix (an environment variable)
    /// and the constant rest. `None` when it cannot be read.
    fn pattern(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        e: &'a Expr,
        depth: u32,
    ) -> Option<(Option<String>, String)> {
        if depth > 8 {
            return None;
        }
        if let Some(t) = crate::http_facts::const_string(sc, env, e) {
            return Some((None, t));
        }
        match e.unparen() {
            Expr::Binary(b) if b.op == "+" => {
                let (var, x) = self.pattern(sc, env, &b.x, depth + 1)?;
                let (none, y) = self.pattern(sc, env, &b.y, depth + 1)?;
                if none.is_some() {
                    return None;
                }
                Some((var, x + &y))
            }
            other => self
                .config_var(sc, env, other)
                .map(|v| (Some(v), String::new())),
        }
    }

    /// The environment variable a prefix comes from: `os.Getenv("X")`, a
    /// local initialised from it, or a package variable whose only
    /// assignments (initialiser included) are `""` and `os.Getenv("X")`.
    fn config_var(&self, sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> Option<String> {
        let getenv = |file: &GoFile, env: &Env<'_>, e: &Expr| getenv_name(env, file, e);
        if let Some(v) = getenv(sc.file, env, e) {
            return Some(v);
        }
        let id = e.unparen().as_ident()?;
        if let Some(b) = env.resolve(id) {
            return getenv(sc.file, env, b.init?);
        }
        let def = sc.pkg.vars.get(id.name.as_str())?;
        if def.is_const {
            return None;
        }
        let mut var = match def.spec.values.get(def.index) {
            Some(init) if init.as_string_lit().as_deref() == Some("") => None,
            Some(init) => Some(getenv(def.file, &Env::default(), init)?),
            None => None,
        };
        let mut other = false;
        for f in sc.pkg.files().iter().filter(|f| !f.is_test) {
            walk::walk_file(&f.ast, &mut |n, _| {
                if let Node::Stmt(Stmt::Assign(a)) = n {
                    for (i, l) in a.lhs.iter().enumerate() {
                        if l.ident_name() != Some(id.name.as_str()) {
                            continue;
                        }
                        match a.rhs.get(i).and_then(|r| getenv(f, &Env::default(), r)) {
                            Some(v) if var.as_ref().is_none_or(|w| *w == v) => var = Some(v),
                            _ => other = true,
                        }
                    }
                }
                !other
            });
        }
        if other {
            return None;
        }
        var
    }
}

/// The `ServiceName` of `&desc`, a package-level `grpc.ServiceDesc` of `pkg`.
fn desc_service_name(pkg: &Package, arg: &Expr) -> Option<String> {
    let Expr::Unary(u) = arg.unparen() else {
        return None;
    };
    let v = pkg.vars.get(u.x.ident_name()?)?;
    let Expr::CompositeLit(lit) = v.spec.values.get(v.index)?.unparen() else {
        return None;
    };
    crate::http_facts::field(lit, "ServiceName")?.as_string_lit()
}

/// An HTTP method written as `"GET"` or `http.MethodGet`.
fn method_value(env: &Env<'_>, file: &GoFile, e: &Expr) -> Option<String> {
    if let Some(s) = e.as_string_lit() {
        return Some(s.to_ascii_uppercase());
    }
    match env.pkg_member(file, e) {
        Some(("net/http", name)) => name.strip_prefix("Method").map(str::to_ascii_uppercase),
        _ => None,
    }
}

fn recv_name(c: &CallExpr) -> Option<&str> {
    c.fun.as_selector().and_then(|s| s.x.ident_name())
}

/// How a local address or port is completed by an `if` after its declaration.
enum Fallback {
    /// `if x == "" { x = "8080" }`
    Default(String),
    /// `if os.Getenv("PORT") != "" { x = os.Getenv("PORT") }`: the variable.
    Override(String),
}

/// The environment variable of `os.Getenv("X")`, with the file's imports.
fn getenv_name(env: &Env<'_>, file: &GoFile, e: &Expr) -> Option<String> {
    let c = e.unparen().as_call()?;
    match env.pkg_member(file, &c.fun) {
        Some(("os", "Getenv")) => c.args.first()?.as_string_lit(),
        _ => None,
    }
}

/// `x = "literal"` inside an `if x == ""` block of the same function, or
/// `x = os.Getenv("X")` inside `if os.Getenv("X") != ""`.
fn fallback_assignment(env: &Env<'_>, file: &GoFile, id: &Ident) -> Option<Fallback> {
    let binding = env.resolve(id)?;
    let root = file
        .ast
        .decls
        .iter()
        .find(|d| d.span().encloses(binding.scope))?;
    let Decl::Func(fd) = root else { return None };
    let mut found = None;
    fn assigned_in<'e>(i: &'e IfStmt, name: &str) -> Option<&'e Expr> {
        i.then.stmts.iter().find_map(|s| match s {
            Stmt::Assign(a) if a.lhs.first().and_then(|l| l.ident_name()) == Some(name) => {
                a.rhs.first()
            }
            _ => None,
        })
    }
    let assigned = |i| assigned_in(i, binding.name);
    walk(Node::FuncDecl(fd), &mut |n, _| {
        if let Node::Stmt(Stmt::If(i)) = n {
            if let Expr::Binary(b) = i.cond.unparen() {
                if b.op == "=="
                    && b.x.ident_name() == Some(binding.name)
                    && b.y.as_string_lit().as_deref() == Some("")
                {
                    found = assigned(i)
                        .and_then(|r| r.as_string_lit())
                        .map(Fallback::Default);
                }
                if b.op == "!=" && b.y.as_string_lit().as_deref() == Some("") {
                    if let Some(var) = getenv_name(env, file, &b.x) {
                        if assigned(i)
                            .and_then(|r| getenv_name(env, file, r))
                            .as_deref()
                            == Some(var.as_str())
                        {
                            found = Some(Fallback::Override(var));
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
        Ty::Named("google.golang.org/grpc", "Server" | "ServiceRegistrar") => Some("grpc"),
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
