//! Debug switches left on in a deployed manifest.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "debug-settings",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Debug switch left on: ENABLE_PPROF/DEBUG env, trace/debug log level, debug flag or debug image",
    reports_on: "the env entry's `value:`, the flag in `args`/`command`, or the `image:` key",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
In any container of a workload:
- an env variable that switches debugging on: `DEBUG`, `ENABLE_PPROF`,
  `PPROF_ENABLED`, `ENABLE_DEBUG`, or any `*_DEBUG` / `DEBUG_*` name, set to
  `true`, `1`, `yes`, `on` or `enabled`; `GIN_MODE=debug`;
- a log level variable (`LOG_LEVEL`, `LOGLEVEL`, `LOG_LVL`, `LOGGING_LEVEL`,
  `*_LOG_LEVEL`) set to `trace` or `debug`;
- a flag in `command`/`args`: `--debug`, `-debug`, `--debug=true`, `--pprof`,
  `--enable-pprof`, `--log-level=debug|trace` (also `-log-level`,
  `--log.level`, `--loglevel`, `-v=debug`);
- an image whose tag contains `debug` (`distroless/static:debug`,
  `api:1.4.0-debug`).

## Why it matters in production
Debug logging multiplies log volume (and cost) and often prints request
bodies, headers and tokens. Debug switches tend to enable pprof handlers,
verbose error pages or test-only shortcuts. Debug images ship a shell and
tools an attacker can use.

## Bad
```yaml
        image: registry.example.com/api:2.4.1-debug
        env:
          - name: LOG_LEVEL
            value: debug
          - name: ENABLE_PPROF
            value: "true"
```

## Good
```yaml
        image: registry.example.com/api:2.4.1
        env:
          - name: LOG_LEVEL
            value: info
```

## How to fix
Keep debug values in a development overlay (kustomize) or values file (Helm)
and out of the manifests that reach production; switch log levels at run
time when you need them.

## How to suppress
`# nolint:debug-settings` at the end of the reported line, or the annotation
`pitfall.dev/ignore: "debug-settings"` on the object (e.g. for a staging-only
manifest).

## Compared with kube-linter and kube-score
Neither tool looks at env values, flags or image tags for debug settings.
kube-linter's `env-var-secret` is the only env-based check (about secrets in
plain env values).
"#,
    check: Check::Manifest(check),
};

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on" | "enabled"
    )
}

fn is_switch(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    matches!(
        n.as_str(),
        "DEBUG" | "ENABLE_PPROF" | "PPROF_ENABLED" | "ENABLE_DEBUG" | "PPROF"
    ) || n.ends_with("_DEBUG")
        || n.starts_with("DEBUG_")
}

fn is_log_level(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    matches!(
        n.as_str(),
        "LOG_LEVEL" | "LOGLEVEL" | "LOG_LVL" | "LOGGING_LEVEL"
    ) || n.ends_with("_LOG_LEVEL")
}

fn debug_level(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "debug" | "trace")
}

/// A command-line flag that turns debugging on.
fn debug_flag(arg: &str) -> bool {
    let a = arg.trim();
    let Some(flag) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
        return false;
    };
    let (name, value) = match flag.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (flag, None),
    };
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "debug" | "pprof" | "enable-pprof" | "enable-debug" => value.is_none_or(truthy),
        "log-level" | "log.level" | "loglevel" | "log_level" | "v" => {
            value.is_some_and(debug_level)
        }
        _ => false,
    }
}

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        for c in &w.containers {
            for e in c.env() {
                let Some((key, value)) = e.value else {
                    continue;
                };
                let Some(v) = value.as_str() else { continue };
                let hit = (is_switch(e.name) && truthy(v))
                    || (is_log_level(e.name) && debug_level(v))
                    || (e.name == "GIN_MODE" && v == "debug");
                if hit {
                    cx.report(
                        w.object,
                        key,
                        format!(
                            "`{}={v}` in container `{}` leaves debugging on in a deployed manifest: verbose logs (often with request data) and debug endpoints",
                            e.name, c.name
                        ),
                    )
                    .fix("move debug values to a development overlay and set the production value here");
                }
            }
            for item in c.command_line() {
                let text = item.as_str().unwrap_or("");
                if let Some(flag) = text.split_whitespace().find(|t| debug_flag(t)) {
                    cx.report(
                        w.object,
                        item,
                        format!("flag `{flag}` of container `{}` leaves debugging on in a deployed manifest", c.name),
                    )
                    .fix("drop the debug flag from the deployed manifest (keep it in a development overlay)");
                }
            }
            if let Some((key, value)) = c.entry("image") {
                let image = value.as_str().unwrap_or("");
                let (_, tag, _) = pitfall_k8s::parse_image(image);
                if tag.is_some_and(|t| t.to_ascii_lowercase().contains("debug")) {
                    cx.report(
                        w.object,
                        key,
                        format!("image `{image}` of container `{}` is a debug build: it ships a shell and debugging tools", c.name),
                    )
                    .fix("deploy the non-debug variant of the image");
                }
            }
        }
    }
}
