//! Task-id patterns used in join points and agent task lists: `phase/*`, `core/**`, exact ids.
//!
//! A pattern with wildcards is compiled to a regular expression (the `regex` crate matches in
//! time linear in the id's length), so no pattern a plan can hold makes matching backtrack.

use regex::Regex;

/// A task-id pattern. `*` matches any run of characters except `/`, `**` matches anything,
/// `?` matches one character other than `/`; everything else matches itself.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    /// The compiled pattern, for patterns with wildcards.
    regex: Option<Regex>,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Glob) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Glob {}

impl Glob {
    /// Compiles a pattern as written in the plan; a pattern too large to compile is an error
    /// that says so.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if !pattern.contains(['*', '?']) {
            return Ok(Glob {
                pattern: pattern.to_string(),
                regex: None,
            });
        }
        let mut re = String::from("^");
        let mut rest = pattern;
        while let Some(c) = rest.chars().next() {
            let (piece, len) = match c {
                '*' if rest.starts_with("**") => (".*".to_string(), 2),
                '*' => ("[^/]*".to_string(), 1),
                '?' => ("[^/]".to_string(), 1),
                c => (regex::escape(c.encode_utf8(&mut [0; 4])), c.len_utf8()),
            };
            re.push_str(&piece);
            rest = &rest[len..];
        }
        re.push('$');
        let regex =
            Regex::new(&re).map_err(|e| format!("pattern {pattern:?} cannot be used: {e}"))?;
        Ok(Glob {
            pattern: pattern.to_string(),
            regex: Some(regex),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern has wildcards (an exact id must name an existing task).
    pub fn is_wildcard(&self) -> bool {
        self.regex.is_some()
    }

    /// Whether `id` matches the pattern.
    pub fn matches(&self, id: &str) -> bool {
        match &self.regex {
            Some(re) => re.is_match(id),
            None => self.pattern == id,
        }
    }

    /// Whether some path may match both patterns (`files` of two tasks). Exact where one of
    /// them is a plain path; for two wildcard patterns, whether their literal beginnings
    /// agree (`src/db/**` and `src/db/*.rs` may overlap, `src/db/**` and `docs/*` cannot):
    /// cautious, it may say yes for two patterns no single path matches.
    pub fn may_overlap(&self, other: &Glob) -> bool {
        match (self.is_wildcard(), other.is_wildcard()) {
            (false, _) => other.matches(&self.pattern),
            (true, false) => self.matches(&other.pattern),
            (true, true) => {
                let (a, b) = (self.literal_prefix(), other.literal_prefix());
                a.starts_with(b) || b.starts_with(a)
            }
        }
    }

    /// The pattern up to its first wildcard.
    fn literal_prefix(&self) -> &str {
        let end = self.pattern.find(['*', '?']).unwrap_or(self.pattern.len());
        &self.pattern[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn glob(p: &str) -> Glob {
        Glob::new(p).unwrap()
    }

    #[test]
    fn file_patterns_overlap_when_a_path_may_match_both() {
        let yes = [
            ("src/db/**", "src/db/schema.rs"),
            ("src/db/**", "src/db/*.rs"),
            ("src/*.rs", "src/main.rs"),
            ("README.md", "README.md"),
            ("**", "docs/x.md"),
        ];
        for (a, b) in yes {
            assert!(glob(a).may_overlap(&glob(b)), "{a} {b}");
            assert!(glob(b).may_overlap(&glob(a)), "{b} {a}");
        }
        let no = [
            ("src/db/**", "docs/*"),
            ("src/*.rs", "src/db/schema.rs"),
            ("README.md", "LICENSE"),
            ("src/api/**", "src/db/**"),
        ];
        for (a, b) in no {
            assert!(!glob(a).may_overlap(&glob(b)), "{a} {b}");
            assert!(!glob(b).may_overlap(&glob(a)), "{b} {a}");
        }
    }

    #[test]
    fn star_stays_within_one_level() {
        let g = glob("setup/*");
        assert!(g.matches("setup/a"));
        assert!(!g.matches("setup/a/b"));
        assert!(!g.matches("core/a"));
        assert!(!g.matches("setup"));
    }

    #[test]
    fn double_star_crosses_levels_and_exact_ids_match_themselves() {
        assert!(glob("core/**").matches("core/api/v1"));
        assert!(glob("*-api").matches("rest-api"));
        assert!(glob("t?").matches("t1"));
        assert!(!glob("t?").matches("t12"));
        assert!(glob("core/api").matches("core/api"));
        assert!(!glob("core/api").matches("core/api2"));
        // Everything else is literal, regular-expression syntax included.
        assert!(glob("a.b[1]/*").matches("a.b[1]/x"));
        assert!(!glob("a.b[1]/*").matches("axb1/x"));
        assert!(glob("é/*").matches("é/ü"));
    }

    #[test]
    fn hostile_patterns_match_in_linear_time() {
        let id = "a".repeat(60);
        let start = std::time::Instant::now();
        assert!(!glob("*a*a*a*a*a*a*a*a*b").matches(&id));
        assert!(!glob(&"**/".repeat(28)).matches(&"x".repeat(60)));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
