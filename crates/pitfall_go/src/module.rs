//! `go.mod`: the module path and the `go` language version.

/// What pitfall reads from a go.mod file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoMod {
    /// The `module` path, e.g. `example.com/orders`.
    pub module: Option<String>,
    /// The `go` directive as (major, minor), e.g. `go 1.22.3` -> (1, 22).
    pub go_version: Option<(u32, u32)>,
}

impl GoMod {
    /// Parses the directives pitfall needs; everything else is ignored, and a
    /// malformed file simply yields fewer facts.
    pub fn parse(text: &str) -> GoMod {
        let mut m = GoMod::default();
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if let Some(rest) = line.strip_prefix("module") {
                if rest.starts_with(char::is_whitespace) {
                    let p = rest.trim().trim_matches('"');
                    if !p.is_empty() {
                        m.module = Some(p.to_string());
                    }
                }
            } else if let Some(rest) = line.strip_prefix("go ") {
                m.go_version = parse_go_version(rest.trim());
            }
        }
        m
    }

    /// Whether the module's language version is at least `major.minor`. An
    /// unknown version counts as new (the `go` line is absent only in very old
    /// modules or ad-hoc directories, which are usually built with a current Go).
    pub fn go_at_least(&self, major: u32, minor: u32) -> bool {
        self.go_version.is_none_or(|v| v >= (major, minor))
    }
}

pub fn parse_go_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor_txt: String = parts
        .next()
        .unwrap_or("0")
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((major, minor_txt.parse().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_module_and_version() {
        let m = GoMod::parse(
            "// c\nmodule example.com/x // trailing\n\ngo 1.22.3\n\nrequire (\n\tfoo v1\n)\n",
        );
        assert_eq!(m.module.as_deref(), Some("example.com/x"));
        assert_eq!(m.go_version, Some((1, 22)));
        assert!(m.go_at_least(1, 16));
        assert!(!m.go_at_least(1, 23));
    }

    #[test]
    fn tolerates_garbage() {
        let m = GoMod::parse("\u{0}\u{1}module\ngo banana\n");
        assert_eq!(m, GoMod::default());
        assert!(m.go_at_least(1, 16));
    }
}
