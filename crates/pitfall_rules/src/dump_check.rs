//! The engine of the dump rules (`Check::Dump`): runs them on a parsed
//! goroutine dump and turns their verdicts into findings.

use crate::{Check, Rule, Settings};
use pitfall_dump::verdict::{Statics, Verdict};
use pitfall_dump::Dump;
use pitfall_report::Finding;
use std::collections::HashMap;

/// What a dump rule's check works with.
pub struct DumpChecker<'a> {
    pub dump: &'a Dump,
    /// The first of several dumps of the same service, when given.
    pub earlier: Option<&'a Dump>,
    pub rule: &'static Rule,
    /// What `pitfall check` says about the source the dump came from, when
    /// it is given (`pitfall dump --source`).
    pub statics: Option<&'a dyn Statics>,
    options: Option<&'a HashMap<String, String>>,
}

impl DumpChecker<'_> {
    /// A numeric option from `[rules.<name>]`, or its declared default.
    pub fn option_u64(&self, name: &str) -> u64 {
        self.rule.option_u64(self.options, name)
    }
}

/// A dump rule's verdict as a finding, with the verdict for the report.
#[derive(Clone, Debug)]
pub struct DumpFinding {
    pub finding: Finding,
    pub verdict: Verdict,
}

/// Runs the enabled dump rules. A finding's path and line are the blocking
/// frame's, as the dump names them.
pub fn check_dump(
    dump: &Dump,
    earlier: Option<&Dump>,
    statics: Option<&dyn Statics>,
    settings: &Settings,
) -> Vec<DumpFinding> {
    let mut out = Vec::new();
    for rule in &settings.enabled {
        let Check::Dump(check) = rule.check else {
            continue;
        };
        let cx = DumpChecker {
            dump,
            earlier,
            rule,
            statics,
            options: settings.options.get(rule.name),
        };
        let severity = settings
            .severity
            .get(rule.name)
            .copied()
            .unwrap_or(rule.severity);
        for v in check(&cx) {
            out.push(DumpFinding {
                finding: Finding {
                    rule: rule.name,
                    category: rule.category,
                    severity,
                    path: v.frame.file.to_string(),
                    line: v.frame.line,
                    column: 1,
                    end_line: v.frame.line,
                    end_column: 1,
                    message: v.message.clone(),
                    fix: Some(v.fix.clone()),
                    applicability: None,
                    edits: Vec::new(),
                    related: Vec::new(),
                    span: (0, 0),
                },
                verdict: v,
            });
        }
    }
    out
}
