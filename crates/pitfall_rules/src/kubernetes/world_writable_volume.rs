//! `chmod 777` (or `a+w`) on a mounted path in a container command.
use crate::prelude::*;
use pitfall_k8s::Node;

pub static RULE: Rule = Rule {
    name: "world-writable-volume",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Container command makes a mounted volume world-writable (chmod 777, a+w)",
    reports_on: "the `command`/`args` item that holds the `chmod`",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A `chmod` in a container's `command` or `args` (init containers included,
shell strings such as `sh -c "mkdir -p /data && chmod 777 /data"` too) that
grants write permission to everyone — a numeric mode whose last digit has the
write bit (`777`, `0666`, `1777`) or a symbolic one for `o` or `a` (`a+w`,
`o+rwx`, `ugo=rwx`) — on a path at or below one of that container's
`volumeMounts`.

## Why it matters in production
A volume is shared: other containers of the pod, and any process running as
another user, can then replace what the service reads back (templates,
plugins, cached data, sockets). It is usually a workaround for a user-id
mismatch that `fsGroup` solves properly.

## Bad
```yaml
    initContainers:
      - name: prepare
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /data/cache && chmod -R 777 /data"]
        volumeMounts: [{name: data, mountPath: /data}]
```

## Good
```yaml
    securityContext:
      fsGroup: 65532          # the volume becomes group-writable for the service's group
```

## How to fix
Set `securityContext.fsGroup` (and `runAsUser`/`runAsGroup`) on the pod so
the volume belongs to the service's group, or `chmod 770`/`g+w` with the
right owner.

## How to suppress
`# nolint:world-writable-volume` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "world-writable-volume"` on the object.

## Compared with kube-linter and kube-score
Neither tool reads container commands. kube-linter's `writable-host-mount`
is about `hostPath` volumes mounted writable, a different problem.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        for c in &w.containers {
            let mounts: Vec<&str> = c
                .get("volumeMounts")
                .map(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(|m| m.get("mountPath").and_then(Node::as_str))
                .map(|p| p.trim_end_matches('/'))
                .collect();
            if mounts.is_empty() {
                continue;
            }
            // Tokens of the whole command line, each with the item it came from.
            let mut tokens: Vec<(&str, &Node)> = Vec::new();
            for item in c.command_line() {
                let text = item.as_str().unwrap_or("");
                for t in text.split(|ch: char| {
                    ch.is_whitespace()
                        || ch == ';'
                        || ch == '&'
                        || ch == '|'
                        || ch == '('
                        || ch == ')'
                }) {
                    if !t.is_empty() {
                        tokens.push((t, item));
                    }
                }
                if text.trim().contains(char::is_whitespace) {
                    tokens.push((";", item)); // a shell string ends its commands
                }
            }
            let mut reported = false;
            for (i, (t, at)) in tokens.iter().enumerate() {
                if reported || (*t != "chmod" && !t.ends_with("/chmod")) {
                    continue;
                }
                let mut args = tokens[i + 1..]
                    .iter()
                    .map(|(t, _)| *t)
                    .take_while(|t| *t != ";");
                let mut mode = None;
                let mut paths = Vec::new();
                for a in args.by_ref() {
                    if a.starts_with('-') && mode.is_none() {
                        continue;
                    }
                    if mode.is_none() {
                        mode = Some(a);
                    } else {
                        let p = a.trim_matches(['"', '\'']);
                        paths.push(if p.len() > 1 {
                            p.trim_end_matches('/')
                        } else {
                            p
                        });
                    }
                }
                let Some(mode) = mode else { continue };
                if !world_writable(mode) {
                    continue;
                }
                let Some(path) = paths.iter().find(|p| {
                    mounts
                        .iter()
                        .any(|m| *p == m || p.starts_with(&format!("{m}/")))
                }) else {
                    continue;
                };
                cx.report(
                    w.object,
                    at,
                    format!(
                        "`chmod {mode}` makes `{path}` (a mounted volume of container `{}`) writable by every user: other processes can replace what the service reads",
                        c.name
                    ),
                )
                .fix("set the pod's securityContext.fsGroup (and runAsUser/runAsGroup) instead, or grant group write only");
                reported = true;
            }
        }
    }
}

/// Whether a chmod mode gives write permission to others.
fn world_writable(mode: &str) -> bool {
    let mode = mode.trim_matches(['"', '\'']);
    if !mode.is_empty() && mode.len() <= 4 && mode.chars().all(|c| ('0'..='7').contains(&c)) {
        let last = mode.chars().last().and_then(|c| c.to_digit(8)).unwrap_or(0);
        return mode.len() >= 3 && last & 2 != 0;
    }
    mode.split(',').any(|clause| {
        let Some(op) = clause.find(['+', '=']) else {
            return false;
        };
        let (who, perms) = clause.split_at(op);
        (who.contains('a') || who.contains('o')) && perms[1..].contains('w')
    })
}
