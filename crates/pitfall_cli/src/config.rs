//! `pitfall.toml`: which rules run, their options and severities, and which
//! paths are excluded. Found by walking up from the checked path; `--config`
//! names one explicitly.

use pitfall_rules::{Category, Rule, Settings, Severity};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "pitfall.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rule names, category names or "all". Empty means all.
    #[serde(default)]
    pub select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Glob patterns (relative to the config file's directory) of paths to skip.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// rule name -> "error" | "warning" | "info"
    #[serde(default)]
    pub severity: HashMap<String, String>,
    /// rule name -> its option table
    #[serde(default)]
    pub rules: HashMap<String, toml::Table>,
    /// `[kubernetes]`: how containers are linked to Go main packages.
    #[serde(default)]
    pub kubernetes: KubernetesConfig,
    /// Directory the config was found in (for `exclude`).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// `[kubernetes.link]`: container name (or `workload/container`) -> the
/// main package's directory or import path, when names do not tell.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    #[serde(default)]
    pub link: std::collections::BTreeMap<String, String>,
}

impl Config {
    /// The `[kubernetes.link]` table as (container, main package) pairs.
    pub fn link_overrides(&self) -> Vec<(String, String)> {
        self.kubernetes
            .link
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut cfg = Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        cfg.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(cfg)
    }

    /// Parses the text of a `pitfall.toml` (what `load` reads from the file).
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The nearest `pitfall.toml` at or above `start`.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        let abs = std::path::absolute(start).ok()?;
        let mut dir = if abs.is_dir() {
            Some(abs.as_path())
        } else {
            abs.parent()
        };
        while let Some(d) = dir {
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                return Some(candidate);
            }
            dir = d.parent();
        }
        None
    }

    /// Turns the config plus command-line selections into rule settings.
    pub fn settings(
        &self,
        cli_select: &[String],
        cli_ignore: &[String],
    ) -> Result<Settings, String> {
        let select: Vec<String> = if !cli_select.is_empty() {
            cli_select.to_vec()
        } else {
            self.select.clone()
        };
        let ignore: Vec<String> = self.ignore.iter().chain(cli_ignore).cloned().collect();
        for name in select.iter().chain(&ignore) {
            check_selector(name)?;
        }
        let enabled: Vec<&'static Rule> = pitfall_rules::ALL
            .iter()
            .copied()
            .filter(|r| select.is_empty() || select.iter().any(|s| matches(s, r)))
            .filter(|r| !ignore.iter().any(|s| matches(s, r)))
            .collect();
        let mut severity = HashMap::new();
        for (rule, sev) in &self.severity {
            check_rule(rule)?;
            let s = Severity::parse(sev).ok_or_else(|| {
                format!("severity of {rule}: `{sev}` is not one of error, warning, info")
            })?;
            severity.insert(rule.clone(), s);
        }
        let mut options = HashMap::new();
        for (rule, table) in &self.rules {
            let r = check_rule(rule)?;
            let mut opts = HashMap::new();
            for (k, v) in table {
                if !r.options.iter().any(|o| o.name == k) {
                    let known: Vec<_> = r.options.iter().map(|o| o.name).collect();
                    return Err(format!(
                        "rule {rule} has no option `{k}` (options: {})",
                        known.join(", ")
                    ));
                }
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                opts.insert(k.clone(), text);
            }
            options.insert(rule.clone(), opts);
        }
        Ok(Settings {
            enabled,
            severity,
            options,
        })
    }
}

fn matches(selector: &str, rule: &Rule) -> bool {
    selector == "all" || selector == rule.name || Category::parse(selector) == Some(rule.category)
}

fn check_selector(s: &str) -> Result<(), String> {
    if s == "all" || Category::parse(s).is_some() || pitfall_rules::find(s).is_some() {
        Ok(())
    } else {
        Err(format!(
            "unknown rule or category `{s}` (see `pitfall rules`)"
        ))
    }
}

fn check_rule(s: &str) -> Result<&'static Rule, String> {
    pitfall_rules::find(s)
        .ok_or_else(|| format!("unknown rule `{s}` in config (see `pitfall rules`)"))
}

/// The commented default written by `pitfall init`.
pub fn default_toml() -> String {
    let mut s = String::from(
        "# pitfall configuration. pitfall finds this file by walking up from the\n\
         # checked path; `pitfall check --config FILE` names another one.\n\n\
         # Rules to run: rule names, category names, or \"all\" (the default).\n\
         # select = [\"all\"]\n\n\
         # Rules or categories to skip.\n\
         # ignore = [\"performance\"]\n\n\
         # Paths to skip, as globs relative to this file (vendor/ and testdata/\n\
         # are always skipped, as the go tool does).\n\
         # exclude = [\"gen/**\", \"**/*_mock.go\"]\n\n\
         # Kubernetes containers are linked to Go main packages by name (the\n\
         # container's name or image matches cmd/<name> or the module's base\n\
         # name). Link them here when names differ: container (or\n\
         # workload/container) to the main package's directory.\n\
         # [kubernetes.link]\n\
         # api = \"cmd/server\"\n\n\
         # Severity overrides: error, warning or info.\n\
         # [severity]\n\
         # string-concat-in-loop = \"info\"\n",
    );
    for r in pitfall_rules::ALL {
        if r.options.is_empty() {
            continue;
        }
        s.push_str(&format!("\n# [rules.{}]\n", r.name));
        for o in r.options {
            let value = if o.default.parse::<f64>().is_ok()
                || o.default == "true"
                || o.default == "false"
            {
                o.default.to_string()
            } else {
                format!("{:?}", o.default)
            };
            s.push_str(&format!("# {}\n# {} = {value}\n", o.help, o.name));
        }
    }
    s
}
