//! Output for people: colours (honouring --color and NO_COLOR), notes on stderr, tables.

use crate::plan::Status;
use std::io::IsTerminal;

/// When to colour (`--color`).
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// How to talk to people.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Colour on stdout.
    pub color_out: bool,
    /// Colour on stderr.
    pub color_err: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-v`.
    pub verbose: bool,
}

impl Ui {
    /// Decides colours from `--color`, NO_COLOR and whether each stream is a terminal.
    pub fn new(choice: ColorChoice, quiet: bool, verbose: bool) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Ui {
            color_out: decide(std::io::stdout().is_terminal()),
            color_err: decide(std::io::stderr().is_terminal()),
            quiet,
            verbose,
        }
    }

    /// A message for people on stderr (suppressed by -q).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A detail shown only with -v.
    pub fn detail(&self, msg: &str) {
        if self.verbose {
            eprintln!("{msg}");
        }
    }

    /// A warning on stderr (shown even with -q).
    pub fn warn(&self, msg: &str) {
        eprintln!("{} {msg}", paint(self.color_err, "33", "warning:"));
    }

    /// `text` coloured for stdout by what `status` means.
    pub fn status_out(&self, status: Status, text: &str) -> String {
        paint(self.color_out, status_code(status), text)
    }

    /// `text` coloured for stderr by what `status` means.
    pub fn status_err(&self, status: Status, text: &str) -> String {
        paint(self.color_err, status_code(status), text)
    }

    /// `text` bold on stdout.
    pub fn bold_out(&self, text: &str) -> String {
        paint(self.color_out, "1", text)
    }

    /// `text` dimmed on stdout.
    pub fn dim_out(&self, text: &str) -> String {
        paint(self.color_out, "2", text)
    }

    /// `text` green (good) or yellow (not yet) for stdout.
    pub fn verdict_out(&self, good: bool, text: &str) -> String {
        paint(self.color_out, if good { "32;1" } else { "33;1" }, text)
    }
}

fn status_code(status: Status) -> &'static str {
    match status {
        Status::Pending => "0",
        Status::InProgress => "36",
        Status::Completed => "32",
        Status::Reviewed => "32;1",
        Status::Failed => "31;1",
    }
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on && code != "0" {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Pads `text` to `width` visible characters (colour codes excluded by the caller passing the
/// plain length).
pub fn pad(text: &str, plain_len: usize, width: usize) -> String {
    let mut s = text.to_string();
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(plain_len)));
    s
}

/// "40%" or "-".
pub fn percent(p: Option<u8>) -> String {
    p.map_or_else(|| "-".to_string(), |p| format!("{p}%"))
}

/// "3h", "1.5h", "45m", "2d 3h" for estimates.
pub fn hours(h: f64) -> String {
    if h <= 0.0 {
        "0h".to_string()
    } else if h < 1.0 {
        format!("{}m", (h * 60.0).round())
    } else if h < 24.0 {
        let r = (h * 10.0).round() / 10.0;
        if r.fract() == 0.0 {
            format!("{r:.0}h")
        } else {
            format!("{r:.1}h")
        }
    } else {
        format!("{}d {}h", (h / 24.0).floor(), (h % 24.0).round())
    }
}

/// How long ago `then` was, in its largest unit: `42s`, `3m`, `2h`, `5d`.
pub fn ago(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}
