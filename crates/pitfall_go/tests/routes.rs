//! The route map read from code using net/http and the common routers.

use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use pitfall_go::parse_file;
use pitfall_go::routes::{route_maps, RouteMap};
use std::sync::Arc;

fn project(files: &[(&str, &str, &str)]) -> Vec<SourcePackage> {
    // (dir, import path, source); one file per package is enough here.
    files
        .iter()
        .map(|(dir, path, src)| {
            let f = parse_file(&format!("{dir}/x.go"), src.to_string()).unwrap();
            SourcePackage {
                dir: dir.to_string(),
                name: f.ast.package.as_ref().unwrap().name.to_string(),
                import_path: path.to_string(),
                gomod: Arc::new(GoMod::default()),
                files: vec![f],
            }
        })
        .collect()
}

fn summary(m: &RouteMap) -> Vec<String> {
    let mut out = Vec::new();
    for l in &m.listeners {
        out.push(format!(
            "listen {} port={:?} env={:?}",
            l.call, l.port, l.env
        ));
        for r in m.routes_of(l) {
            out.push(format!(
                "  {} {} ({})",
                r.method.as_deref().unwrap_or("*"),
                r.path,
                r.router
            ));
        }
    }
    out
}

#[test]
fn servemux_in_a_helper_package_with_env_port() {
    let pkgs = project(&[
        (
            "cmd/api",
            "example.com/svc/cmd/api",
            r#"package main

import (
	"net/http"
	"os"

	"example.com/svc/internal/web"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	web.Register(mux)
	srv := &http.Server{Addr: ":" + port, Handler: logging(mux)}
	srv.ListenAndServe()
}
"#,
        ),
        (
            "internal/web",
            "example.com/svc/internal/web",
            r#"package web

import "net/http"

func Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /health/live", live)
	mux.Handle("/metrics", metrics())
}
"#,
        ),
    ]);
    let index = ProjectIndex::new(&pkgs);
    let maps = route_maps(&index);
    assert_eq!(maps.len(), 1);
    assert_eq!(
        summary(&maps[0]),
        vec![
            "listen (*http.Server).ListenAndServe port=Some(8080) env=Some(\"PORT\")",
            "  GET /health/live (net/http)",
            "  * /metrics (net/http)",
        ]
    );
    assert!(maps[0].uncertain.is_empty(), "{:?}", maps[0].uncertain);
}

#[test]
fn default_mux_pprof_and_two_listeners() {
    let pkgs = project(&[(
        "cmd/x",
        "example.com/x",
        r#"package main

import (
	"net/http"
	_ "net/http/pprof"
)

const adminAddr = "127.0.0.1:6060"

func main() {
	http.HandleFunc("/healthz", ok)
	go http.ListenAndServe(adminAddr, nil)
	api := http.NewServeMux()
	api.HandleFunc("POST /orders", create)
	http.ListenAndServe(":9000", api)
}
"#,
    )]);
    let index = ProjectIndex::new(&pkgs);
    let maps = route_maps(&index);
    assert_eq!(
        summary(&maps[0]),
        vec![
            "listen http.ListenAndServe port=Some(6060) env=None",
            "  * /debug/pprof/ (default)",
            "  * /healthz (default)",
            "listen http.ListenAndServe port=Some(9000) env=None",
            "  POST /orders (net/http)",
        ]
    );
}

#[test]
fn routers_with_prefixes() {
    let pkgs = project(&[(
        "cmd/x",
        "example.com/x",
        r#"package main

import (
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	"net/http"
)

func gorilla() {
	r := mux.NewRouter()
	r.HandleFunc("/ready", ready).Methods("GET")
	api := r.PathPrefix("/api").Subrouter()
	api.HandleFunc("/users", users)
	http.ListenAndServe(":8081", r)
}

func chiRoutes() {
	r := chi.NewRouter()
	r.Get("/live", live)
	r.Route("/v1", func(r chi.Router) {
		r.Post("/items", create)
	})
	http.ListenAndServe(":8082", r)
}

func ginRoutes() {
	e := gin.Default()
	g := e.Group("/admin")
	g.GET("/stats", stats)
	e.Run(":8083")
}

func main() {}
"#,
    )]);
    let index = ProjectIndex::new(&pkgs);
    let maps = route_maps(&index);
    assert_eq!(
        summary(&maps[0]),
        vec![
            "listen http.ListenAndServe port=Some(8081) env=None",
            "  GET /ready (gorilla)",
            "  * /api/users (gorilla)",
            "listen http.ListenAndServe port=Some(8082) env=None",
            "  GET /live (chi)",
            "  POST /v1/items (chi)",
            "listen gin.Run port=Some(8083) env=None",
            "  GET /admin/stats (gin)",
        ]
    );
}

#[test]
fn unreadable_things_are_marked_uncertain() {
    let pkgs = project(&[(
        "cmd/x",
        "example.com/x",
        r#"package main

import "net/http"

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc(prefix+"/x", h)
	http.ListenAndServe(addrFromSomewhere(), mux)
}
"#,
    )]);
    let index = ProjectIndex::new(&pkgs);
    let m = &route_maps(&index)[0];
    assert_eq!(m.listeners[0].port, None);
    assert_eq!(m.uncertain.len(), 2, "{:?}", m.uncertain);
}
