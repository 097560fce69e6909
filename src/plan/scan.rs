//! A single-pass reader for status.json as people and tools write it.
//!
//! Loading the plan is most of what a claim costs on a large plan, and the general readers
//! (serde_json's raw top level, then each task again) scan every byte twice and allocate per
//! field. This reader walks the bytes once, checks the JSON grammar as it goes, and reads the
//! fields swarm uses straight from the text.
//!
//! It only has to be right about what it accepts: anything unusual (a `\u` escape, an escaped
//! key, `null` in a field swarm reads, a repeated field, a fractional priority, nesting deeper
//! than 100, …) makes it give up, and the plan goes through the general readers, which accept
//! or explain it exactly as before. A test compares both on many plans.

use super::le_word;
use super::status::{Estimate, Priority, Status};
use super::Task;
use std::borrow::Cow;

/// Deeper nesting than this is left to serde_json (whose own limit is 128).
const MAX_DEPTH: u32 = 100;

/// The tasks as read, in file order, before their blockers are resolved to indexes.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Tasks<'a> {
    /// Each task, its `blocked_by` still empty.
    pub tasks: Vec<Task>,
    /// Byte range of each task's object in the file.
    pub spans: Vec<(usize, usize)>,
    /// Every task's `blockedBy` entries, one task after another.
    pub blockers: Vec<Cow<'a, str>>,
    /// Where each task's entries end in `blockers` (they start where the previous task's end).
    pub blocker_ends: Vec<usize>,
}

impl<'a> Tasks<'a> {
    /// Adds task `task`, found at `span`, whose `blockedBy` entries were pushed since the last.
    pub fn push(&mut self, task: Task, span: (usize, usize)) {
        self.tasks.push(task);
        self.pushed(span);
    }

    /// Completes the task last pushed to `tasks`, found at `span`, whose `blockedBy` entries
    /// were pushed since the one before.
    fn pushed(&mut self, span: (usize, usize)) {
        self.spans.push(span);
        self.blocker_ends.push(self.blockers.len());
    }
}

/// A task with only its id: what a task with no fields reads as.
pub(super) fn bare_task(id: String) -> Task {
    Task {
        id,
        title: String::new(),
        description: String::new(),
        status: Status::Pending,
        blocked_by: Vec::new(),
        priority: Priority::default(),
        estimate: None,
        progress: None,
        agent: None,
        claimed: false,
        attempts: 0,
    }
}

/// The plan as read: the tasks, and the text of the two other sections swarm reads.
#[derive(Debug, Default)]
pub(super) struct Scanned<'a> {
    /// The tasks.
    pub tasks: Tasks<'a>,
    /// The text of `coordination`, if present.
    pub coordination: Option<&'a str>,
    /// The text of `joinPoints`, if present.
    pub join_points: Option<&'a str>,
}

/// Reads `text`, or gives up (`Err(())`) when the general readers must decide.
pub(super) fn read(text: &str) -> Result<Scanned<'_>, ()> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut out = Scanned::default();
    // Room for every task at once: each is an object, so there are at most as many as `{`.
    // Growing by doubling instead copies the tasks several times over (and, in the one-shot
    // allocator, touches the memory of every copy).
    let objects = count(text.as_bytes(), b'{');
    out.tasks.tasks.reserve_exact(objects);
    out.tasks.spans.reserve_exact(objects);
    out.tasks.blocker_ends.reserve_exact(objects);
    // Two `blockedBy` entries a task to start with (generated 10k-task plans have 1.6): most
    // plans then never copy the list, and one that needs more grows it as usual. Doubling
    // from empty left ~400 KB of abandoned copies in the one-shot allocator.
    out.tasks.blockers.reserve(2 * objects);
    let mut seen_tasks = false;
    s.object(|s, key| {
        match key {
            "tasks" if !seen_tasks => {
                seen_tasks = true;
                s.tasks(&mut out.tasks)?;
            }
            "coordination" if out.coordination.is_none() => out.coordination = Some(s.raw(0)?),
            "joinPoints" if out.join_points.is_none() => out.join_points = Some(s.raw(0)?),
            "tasks" | "coordination" | "joinPoints" => return Err(()),
            _ => s.skip(1)?,
        }
        Ok(())
    })?;
    s.ws();
    if s.i != s.b.len() || !seen_tasks {
        return Err(());
    }
    Ok(out)
}

/// A byte in each byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// How many bytes of `b` are `c`. Counted in blocks of 240 bytes (15 vectors of 16) into one
/// byte each, which cannot overflow: the compiler then adds 16 bytes at a time. Counting into
/// `u32`s instead widened every byte first, and was ten times slower (0.39 ms for a 10k-task
/// plan, against 0.04).
fn count(b: &[u8], c: u8) -> usize {
    b.chunks(240)
        .map(|block| {
            block
                .iter()
                .fold(0u8, |n, &x| n.wrapping_add(u8::from(x == c))) as usize
        })
        .sum()
}

/// Where the first `"`, `\\` or control character of `b` is: the end of a string's plain run.
/// Eight bytes at a time (strings are most of a plan's bytes): in each 64-bit word, the lowest
/// byte these bit tricks flag is always a real match (a false flag can only follow a real one).
fn string_stop(b: &[u8]) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = le_word(c);
        let hit = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    let p = rest
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    Some(at + p)
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

/// A string as found: content range, and whether it has escapes.
#[derive(Clone, Copy)]
struct Str {
    start: usize,
    end: usize,
    escaped: bool,
}

/// A number as found: its text, and whether it is a plain non-negative integer.
struct Num<'a> {
    text: &'a str,
    plain: bool,
}

type R<T> = Result<T, ()>;

impl<'a> Scanner<'a> {
    /// Passes whitespace. Most calls find none (a key's `:`, a value after `[`), so that is
    /// answered in line, and runs of whitespace go to `ws_run`.
    #[inline(always)]
    fn ws(&mut self) {
        if self.b.get(self.i).is_some_and(|&c| c > b' ') {
            return;
        }
        self.ws_run();
    }

    #[inline(never)]
    fn ws_run(&mut self) {
        loop {
            match self.b.get(self.i) {
                Some(b' ') => {
                    // Indentation: runs of spaces, passed eight at a time.
                    while let Some(c) = self.b.get(self.i..self.i + 8) {
                        let other = le_word(c) ^ (ONES * u64::from(b' '));
                        if other != 0 {
                            self.i += (other.trailing_zeros() / 8) as usize;
                            break;
                        }
                        self.i += 8;
                    }
                    while self.b.get(self.i) == Some(&b' ') {
                        self.i += 1;
                    }
                }
                Some(b'\n' | b'\r' | b'\t') => self.i += 1,
                _ => return,
            }
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> R<u8> {
        self.ws();
        self.b.get(self.i).copied().ok_or(())
    }

    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek()? != c {
            return Err(());
        }
        self.i += 1;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if !self.b[self.i..].starts_with(word) {
            return Err(());
        }
        self.i += word.len();
        Ok(())
    }

    /// An object: calls `field` with each key, positioned before the value, which it must read.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> R<()>) -> R<()> {
        self.list(b'{', b'}', |s| {
            s.ws();
            let key = s.key()?;
            s.eat(b':')?;
            field(s, key)
        })
    }

    /// An array: calls `item` positioned before each element, which it must read.
    fn array(&mut self, item: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.list(b'[', b']', item)
    }

    /// `open`, then `entry` read by `entry` separated by commas, then `close`.
    fn list(&mut self, open: u8, close: u8, mut entry: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.eat(open)?;
        if self.peek()? == close {
            self.i += 1;
            return Ok(());
        }
        loop {
            entry(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
    }

    /// A key without escapes (an escaped key could spell a field name; leave it to serde_json).
    fn key(&mut self) -> R<&'a str> {
        let s = self.string()?;
        if s.escaped {
            return Err(());
        }
        Ok(&self.text[s.start..s.end])
    }

    /// A string at the current position (no leading whitespace).
    fn string(&mut self) -> R<Str> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(());
        }
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            // The bytes in between are plain UTF-8 (the text is a `str`), so only these matter.
            let Some(at) = string_stop(&self.b[self.i..]) else {
                return Err(());
            };
            self.i += at;
            match self.b[self.i] {
                b'"' => {
                    let end = self.i;
                    self.i += 1;
                    return Ok(Str {
                        start,
                        end,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match self.b.get(self.i + 1) {
                        // `\u` (and its surrogate pairs) is left to serde_json.
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                        _ => return Err(()),
                    }
                }
                _ => return Err(()), // a raw control character
            }
        }
    }

    /// A string value, unescaped.
    fn text_value(&mut self) -> R<Cow<'a, str>> {
        self.ws();
        let s = self.string()?;
        if !s.escaped {
            return Ok(Cow::Borrowed(&self.text[s.start..s.end]));
        }
        serde_json::from_str::<String>(&self.text[s.start - 1..s.end + 1])
            .map(Cow::Owned)
            .map_err(|_| ())
    }

    fn number(&mut self) -> R<Num<'a>> {
        self.ws();
        let start = self.i;
        let digits = |s: &mut Self| {
            let from = s.i;
            while s.b.get(s.i).is_some_and(u8::is_ascii_digit) {
                s.i += 1;
            }
            s.i - from
        };
        let negative = self.b.get(self.i) == Some(&b'-');
        if negative {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(()),
        }
        let mut plain = !negative;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            plain = false;
            if digits(self) == 0 {
                return Err(());
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            plain = false;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(());
            }
        }
        Ok(Num {
            text: &self.text[start..self.i],
            plain,
        })
    }

    /// Any value, checked and passed over.
    fn skip(&mut self, depth: u32) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|s, _| s.skip(depth + 1)),
            b'[' => self.array(|s| s.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// Any value, checked, as its text.
    fn raw(&mut self, depth: u32) -> R<&'a str> {
        self.ws();
        let start = self.i;
        self.skip(depth)?;
        Ok(&self.text[start..self.i])
    }

    fn tasks(&mut self, out: &mut Tasks<'a>) -> R<()> {
        self.object(|s, id| {
            // Checked here, while the key is at hand: a bad id (an empty one, a control
            // character) is refused with its own message after the general reader.
            if crate::ids::check_task_id(id).is_err() {
                return Err(());
            }
            s.ws();
            let start = s.i;
            // Filled where it lies: a task built aside and then pushed is copied (~170 bytes).
            out.tasks.push(bare_task(id.to_string()));
            let task = out.tasks.last_mut().ok_or(())?;
            let mut seen = 0u16;
            s.object(|s, field| s.task_field(field, task, &mut seen, &mut out.blockers))?;
            out.pushed((start, s.i));
            Ok(())
        })
    }

    /// One field of a task. A repeated field swarm reads is an error for serde: give up.
    fn task_field(
        &mut self,
        field: &str,
        t: &mut Task,
        seen: &mut u16,
        blockers: &mut Vec<Cow<'a, str>>,
    ) -> R<()> {
        // Each field swarm reads has a bit in `seen`: serde refuses a repeated one.
        let mut once = |bit: u16| match std::mem::replace(seen, *seen | bit) & bit {
            0 => Ok(()),
            _ => Err(()),
        };
        match field {
            "title" => {
                once(1)?;
                t.title = self.text_value()?.into_owned();
            }
            "description" => {
                once(2)?;
                t.description = self.text_value()?.into_owned();
            }
            "agent" => {
                once(4)?;
                let a = self.text_value()?;
                t.agent = (!a.is_empty()).then(|| a.into_owned());
            }
            "status" => {
                once(8)?;
                t.status = Status::parse(&self.text_value()?).ok_or(())?;
            }
            "blockedBy" => {
                once(16)?;
                self.array(|s| {
                    blockers.push(s.text_value()?);
                    Ok(())
                })?;
            }
            "priority" => {
                once(32)?;
                t.priority = match self.peek()? {
                    b'"' => Priority::named(&self.text_value()?).ok_or(())?,
                    _ => {
                        let n = self.number()?;
                        // serde_json reads `-0` as a float, which is no priority.
                        let int = n.text.strip_prefix('-').unwrap_or(n.text);
                        if !int.bytes().all(|c| c.is_ascii_digit()) || n.text == "-0" {
                            return Err(());
                        }
                        Priority(n.text.parse::<i64>().map_err(drop)?)
                    }
                }
            }
            "estimate" => {
                once(64)?;
                t.estimate = Some(match self.peek()? {
                    b'"' => Estimate::parse(&self.text_value()?).ok_or(())?.0,
                    _ => self.hours()?,
                })
            }
            "progress" => {
                once(128)?;
                let n = self.number()?;
                let pct = match n.plain {
                    true => n.text.parse::<u8>().map_err(drop)?,
                    false => return Err(()),
                };
                if pct > 100 {
                    return Err(());
                }
                t.progress = Some(pct);
            }
            "claimed" => {
                once(256)?;
                t.claimed = match self.peek()? {
                    b't' => self.literal(b"true").map(|()| true)?,
                    _ => self.literal(b"false").map(|()| false)?,
                }
            }
            "attempts" => {
                once(512)?;
                let n = self.number()?;
                if !n.plain {
                    return Err(());
                }
                t.attempts = n.text.parse::<u32>().map_err(drop)?;
            }
            _ => self.skip(2)?,
        }
        Ok(())
    }

    /// A number of hours: non-negative and finite. Plain integers are read here; anything else
    /// is read by serde_json, so the value is the one it would give.
    fn hours(&mut self) -> R<f64> {
        let n = self.number()?;
        let h = match n.plain && n.text.len() <= 15 {
            true => n.text.parse::<u64>().map_err(drop)? as f64,
            false => serde_json::from_str::<f64>(n.text).map_err(drop)?,
        };
        match h.is_finite() && h >= 0.0 {
            true => Ok(h),
            false => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_matches_a_plain_count() {
        // Every length around the block size, all hits (the most a block can count) and mixed.
        for len in (0..600).chain([4095, 4096, 4097]) {
            let all = vec![b'{'; len];
            assert_eq!(count(&all, b'{'), len);
            let mixed: Vec<u8> = (0..len).map(|i| [b'{', b'a', b'}'][i % 3]).collect();
            let plain = mixed.iter().filter(|&&x| x == b'{').count();
            assert_eq!(count(&mixed, b'{'), plain, "{len}");
        }
    }

    #[test]
    fn string_stop_finds_the_first_stop_byte() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        // Every stop byte and some neighbours of it, at every position of strings up to 20
        // bytes long over a background of plain ASCII and UTF-8 bytes.
        let specials = [
            b'"', b'\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xe2, 0xff,
        ];
        for len in 0..20 {
            for &bg in &[b'a', 0x20, 0x21, 0x80, 0xff] {
                for pos in 0..len {
                    for &c in &specials {
                        for &c2 in &specials {
                            let mut v = vec![bg; len];
                            v[pos] = c;
                            if pos + 1 < len {
                                v[pos + 1] = c2;
                            }
                            assert_eq!(string_stop(&v), naive(&v), "{v:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn reads_tasks_fields_and_sections() {
        let text = r#"{"x": [1, {"y": null}], "tasks": {
            "a": {"title": "A \"quoted\"", "status": "in-progress", "priority": "high",
                  "estimate": "90m", "progress": 40, "agent": "w1", "claimed": true,
                  "attempts": 2, "blockedBy": [], "extra": {"deep": [true, false, -1.5e3]}},
            "b": {"blockedBy": ["a"], "priority": -3, "estimate": 2.5, "agent": ""}
        }, "joinPoints": {"j": {"requires": ["a"]}}, "coordination": {}}"#;
        let s = read(text).expect("read");
        let t = &s.tasks;
        assert_eq!(t.tasks.len(), 2);
        let a = &t.tasks[0];
        assert_eq!(a.id, "a");
        assert_eq!(a.title, "A \"quoted\"");
        assert_eq!(a.status, Status::InProgress);
        assert_eq!(a.priority, Priority(1));
        assert_eq!(a.estimate, Some(1.5));
        assert_eq!(a.progress, Some(40));
        assert_eq!(a.agent.as_deref(), Some("w1"));
        assert_eq!((a.claimed, a.attempts), (true, 2));
        let (start, end) = t.spans[0];
        assert!(text[start..end].starts_with("{\"title\""));
        assert!(text[start..end].ends_with("}}"));
        let b = &t.tasks[1];
        // Task 0 has no entries, task 1 has "a".
        assert_eq!(t.blocker_ends, [0, 1]);
        assert_eq!(t.blockers, ["a"]);
        assert_eq!(
            (b.priority, b.estimate, &b.agent),
            (Priority(-3), Some(2.5), &None)
        );
        assert_eq!(s.join_points, Some(r#"{"j": {"requires": ["a"]}}"#));
        assert_eq!(s.coordination, Some("{}"));
    }

    #[test]
    fn gives_up_on_what_the_general_reader_must_judge() {
        for text in [
            r#"{"tasks": {"a": {}}} x"#,
            r#"{"tasks": {"a": {},}}"#,
            r#"{"tasks": {"a": {"status": null}}}"#,
            r#"{"tasks": {"a": {"status": "done"}}}"#,
            r#"{"tasks": {"a": {"title": "x", "title": "y"}}}"#,
            r#"{"tasks": {"a": {"priority": 1.0}}}"#,
            r#"{"tasks": {"a": {"progress": 101}}}"#,
            r#"{"tasks": {"a": {"estimate": -1}}}"#,
            r#"{"tasks": {"a": {"x": "\u0041"}}}"#,
            r#"{"tasks": {"\u0061": {}}}"#,
            r#"{"tasks": {"a": {"x": 01}}}"#,
            r#"{"tasks": {"a": []}}"#,
            r#"{"tasks": {" ": {}}}"#,
            r#"{"tasks": {}, "tasks": {}}"#,
            "{\"tasks\": {\"a\": {\"title\": \"tab\there\"}}}",
            r#"[]"#,
            r#"{}"#,
        ] {
            assert!(read(text).is_err(), "accepted {text}");
        }
        let deep = format!(
            r#"{{"tasks": {{}}, "x": {}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(read(&deep).is_err());
    }
}
