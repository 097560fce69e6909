//! Task-id patterns used in join points and agent task lists: `phase/*`, `core/**`, exact ids.

/// A task-id pattern. `*` matches any run of characters except `/`, `**` matches anything,
/// `?` matches one character other than `/`; everything else matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
}

impl Glob {
    /// Wraps a pattern as written in the plan.
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.to_string(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern has wildcards (an exact id must name an existing task).
    pub fn is_wildcard(&self) -> bool {
        self.pattern.contains(['*', '?'])
    }

    /// Whether `id` matches the pattern.
    pub fn matches(&self, id: &str) -> bool {
        if !self.is_wildcard() {
            return self.pattern == id;
        }
        matches_from(self.pattern.as_bytes(), id.as_bytes())
    }
}

fn matches_from(pat: &[u8], text: &[u8]) -> bool {
    match pat.first() {
        None => text.is_empty(),
        Some(b'*') if pat.get(1) == Some(&b'*') => {
            let rest = &pat[2..];
            (0..=text.len()).any(|i| matches_from(rest, &text[i..]))
        }
        Some(b'*') => {
            let rest = &pat[1..];
            for i in 0..=text.len() {
                if matches_from(rest, &text[i..]) {
                    return true;
                }
                if text.get(i) == Some(&b'/') {
                    return false;
                }
            }
            false
        }
        Some(b'?') => {
            text.first().is_some_and(|&c| c != b'/') && matches_from(&pat[1..], &text[1..])
        }
        Some(&c) => text.first() == Some(&c) && matches_from(&pat[1..], &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn star_stays_within_one_level() {
        let g = Glob::new("setup/*");
        assert!(g.matches("setup/a"));
        assert!(!g.matches("setup/a/b"));
        assert!(!g.matches("core/a"));
        assert!(!g.matches("setup"));
    }

    #[test]
    fn double_star_crosses_levels_and_exact_ids_match_themselves() {
        assert!(Glob::new("core/**").matches("core/api/v1"));
        assert!(Glob::new("*-api").matches("rest-api"));
        assert!(Glob::new("t?").matches("t1"));
        assert!(!Glob::new("t?").matches("t12"));
        assert!(Glob::new("core/api").matches("core/api"));
        assert!(!Glob::new("core/api").matches("core/api2"));
    }
}
