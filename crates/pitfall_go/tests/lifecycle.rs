//! What a main package does about its life in a container (lifecycle.rs).

use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::lifecycle::{lifecycle, Lifecycle};
use pitfall_go::module::GoMod;
use pitfall_go::parse_file;
use std::sync::Arc;

fn facts(files: &[(&str, &str, &str)]) -> Lifecycle {
    let gomod = Arc::new(GoMod::parse("module example.com/svc\n\ngo 1.23\n"));
    let pkgs: Vec<SourcePackage> = files
        .iter()
        .map(|(dir, path, src)| {
            let f = parse_file(&format!("{dir}/x.go"), src.to_string()).unwrap();
            SourcePackage {
                dir: dir.to_string(),
                name: f.ast.package.as_ref().unwrap().name.to_string(),
                import_path: path.to_string(),
                gomod: gomod.clone(),
                files: vec![f],
            }
        })
        .collect();
    let index = ProjectIndex::new(&pkgs);
    let main = index
        .packages
        .iter()
        .find(|p| p.src.name == "main")
        .unwrap();
    lifecycle(&index, main)
}

#[test]
fn shutdown_timeout_from_a_constant_in_another_package_file() {
    let lc = facts(&[(
        "cmd/api",
        "example.com/svc/cmd/api",
        r#"package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	stdtime "time"
)

const grace = 25 * stdtime.Second

func main() {
	srv := &http.Server{}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	<-ch
	stdtime.Sleep(3 * stdtime.Second)
	ctx, cancel := context.WithTimeout(context.Background(), grace+stdtime.Duration(500)*stdtime.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
"#,
    )]);
    assert!(lc.sigterm.is_some());
    assert_eq!(lc.go_version, Some((1, 23)));
    assert_eq!(lc.shutdowns.len(), 1);
    assert_eq!(lc.shutdowns[0].timeout_secs, Some(25.5));
    assert!(lc.shutdowns[0].delayed);
}

#[test]
fn unknown_timeout_and_sigint_only() {
    let lc = facts(&[(
        "cmd/api",
        "example.com/svc/cmd/api",
        r#"package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/signal"
)

func main() {
	d := flag.Duration("grace", 0, "")
	srv := &http.Server{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	_ = srv.Shutdown(sctx)
	_ = os.Getenv("GOMEMLIMIT")
}
"#,
    )]);
    assert!(lc.sigterm.is_none());
    assert!(lc.other_signals.is_some());
    assert_eq!(lc.shutdowns[0].timeout_secs, None);
    assert!(!lc.shutdowns[0].delayed);
    assert!(lc.reads_gomemlimit.is_some());
    assert!(lc.sets_memory_limit.is_none());
}

#[test]
fn runtime_settings_in_an_imported_package() {
    let lc = facts(&[
        (
            "cmd/api",
            "example.com/svc/cmd/api",
            "package main\n\nimport \"example.com/svc/internal/boot\"\n\nfunc main() { boot.Init() }\n",
        ),
        (
            "internal/boot",
            "example.com/svc/internal/boot",
            "package boot\n\nimport (\n\t\"runtime\"\n\t\"runtime/debug\"\n\n\t_ \"go.uber.org/fx\"\n)\n\nfunc Init() {\n\tdebug.SetMemoryLimit(1 << 30)\n\truntime.GOMAXPROCS(2)\n}\n",
        ),
        (
            "internal/unused",
            "example.com/svc/internal/unused",
            "package unused\n\nimport \"syscall\"\n\nvar S = syscall.SIGTERM\n",
        ),
    ]);
    assert!(lc.sets_memory_limit.is_some());
    assert!(lc.sets_gomaxprocs.is_some());
    assert_eq!(lc.signal_framework.as_deref(), Some("go.uber.org/fx"));
    // A package main does not import does not count.
    assert!(lc.sigterm.is_none());
}
