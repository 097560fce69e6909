//! Judging a headless run by what the agent CLI itself reports (see FACTS.md): Claude Code's
//! final `result` event, Codex's JSONL turn events, Gemini's JSON object. Exit statuses alone
//! lie: `claude -p` can exit 0 on an API error, aider exits 0 when its edit failed.

use serde_json::Value;

/// How a headless run's success is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// By the exit status (templates, opencode).
    ExitStatus,
    /// By the final `result` event of `--output-format stream-json` (or `json`, one object or an
    /// array of messages).
    ClaudeResult,
    /// By the JSONL events of `codex exec --json`: the last turn completed, none failed.
    CodexEvents,
    /// By the JSON object of `gemini -o json`: exit 0 and no `error`.
    GeminiJson,
    /// By the task: the agent marked it done itself (aider exits 0 even when it failed).
    TaskState,
}

/// What the run's own report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It says it succeeded.
    Succeeded,
    /// It says it failed, or says nothing that can be trusted: why, for people.
    Failed(String),
    /// Only the task's state can tell (`Verdict::TaskState`, after a clean exit).
    AskTheTask,
}

/// Judges a run that ended with exit code `code` (`None`: killed by a signal) and printed
/// `stdout` and `stderr` (their tails: the verdicts read the end of the output). Gemini
/// prints its JSON result on stdout, but its JSON error on stderr.
pub fn judge(verdict: Verdict, code: Option<i32>, stdout: &str, stderr: &str) -> Outcome {
    judge_output(verdict, code, gemini_stream(verdict, stdout, stderr))
}

/// The output where Gemini's JSON object is: stdout, else stderr.
fn gemini_stream<'a>(verdict: Verdict, stdout: &'a str, stderr: &'a str) -> &'a str {
    match verdict == Verdict::GeminiJson && gemini_object(stdout).is_none() {
        true => stderr,
        false => stdout,
    }
}

fn judge_output(verdict: Verdict, code: Option<i32>, stdout: &str) -> Outcome {
    let exit = || match code {
        Some(c) => format!("the agent exited with status {c}"),
        None => "the agent was killed by a signal".to_string(),
    };
    match verdict {
        Verdict::ExitStatus if code == Some(0) => Outcome::Succeeded,
        Verdict::ExitStatus => Outcome::Failed(exit()),
        Verdict::TaskState if code == Some(0) => Outcome::AskTheTask,
        Verdict::TaskState => Outcome::Failed(exit()),
        Verdict::ClaudeResult => claude(stdout).unwrap_or_else(|| {
            Outcome::Failed(format!("{}, with no result event from claude", exit()))
        }),
        Verdict::CodexEvents => codex(stdout, code).unwrap_or_else(|| {
            Outcome::Failed(format!("{}, with no completed turn from codex", exit()))
        }),
        Verdict::GeminiJson => gemini(stdout, code, exit()),
    }
}

/// Claude's result event: the last `{"type": "result"}` line, or the last element of a JSON
/// array of messages, or a single JSON object.
fn claude(stdout: &str) -> Option<Outcome> {
    let is_result = |v: &Value| v.get("type").and_then(Value::as_str) == Some("result");
    let result = match serde_json::from_str::<Value>(stdout.trim()) {
        Ok(Value::Array(messages)) => messages.into_iter().rev().find(is_result),
        Ok(v) if v.get("is_error").is_some() => Some(v),
        _ => stdout
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .find(is_result),
    }?;
    let subtype = result.get("subtype").and_then(Value::as_str).unwrap_or("");
    let is_error = result.get("is_error").and_then(Value::as_bool) != Some(false);
    if !is_error && subtype == "success" {
        return Some(Outcome::Succeeded);
    }
    // Error subtypes carry `errors`; an error with subtype "success" carries its text in
    // `result` ("Not logged in · Please run /login").
    let detail = match result.get("errors").and_then(Value::as_array) {
        Some(errors) if !errors.is_empty() => errors
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
        _ => result
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    // "success" with `is_error` (Claude Code's own errors: login, API) names no kind.
    let what = match subtype {
        "" | "success" => String::new(),
        kind => format!(" ({kind})"),
    };
    Some(Outcome::Failed(match detail.trim() {
        "" => format!("claude reported an error{what}"),
        d => format!("claude reported an error{what}: {}", shorten(d)),
    }))
}

/// Codex's events: the run succeeded when a turn completed and none failed after it.
fn codex(stdout: &str, code: Option<i32>) -> Option<Outcome> {
    let mut completed = false;
    let mut failure: Option<String> = None;
    for event in stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
    {
        let message = || {
            let e = event.get("error").unwrap_or(&event);
            e.get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_string()
        };
        match event.get("type").and_then(Value::as_str) {
            Some("turn.completed") => {
                completed = true;
                failure = None;
            }
            Some("turn.failed") => {
                completed = false;
                failure = Some(format!("codex: turn failed: {}", shorten(&message())));
            }
            Some("error") if !completed => {
                failure = Some(format!("codex: {}", shorten(&message())));
            }
            _ => {}
        }
    }
    match (completed, failure, code) {
        (true, _, Some(0)) => Some(Outcome::Succeeded),
        (true, _, _) => Some(Outcome::Failed(format!(
            "codex completed its turn but exited with {}",
            code.map_or("a signal".into(), |c| format!("status {c}"))
        ))),
        (false, Some(why), _) => Some(Outcome::Failed(why)),
        (false, None, _) => None,
    }
}

/// Gemini's JSON object in `text`: the whole of it, or from the first line that starts one
/// (anything printed before it, a warning, is skipped).
fn gemini_object(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text.trim())
        .ok()
        .or_else(|| {
            let at = text.find("\n{")? + 1;
            serde_json::from_str::<Value>(text[at..].trim()).ok()
        })
        .filter(Value::is_object)
}

/// Gemini's JSON object (`{response, stats, error?, session_id}`) and its exit codes.
fn gemini(stdout: &str, code: Option<i32>, exit: String) -> Outcome {
    let object = gemini_object(stdout);
    let error = object
        .as_ref()
        .and_then(|o| o.get("error"))
        .filter(|e| !e.is_null());
    if let Some(e) = error {
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| e.to_string(), str::to_string);
        return Outcome::Failed(format!("gemini reported an error: {}", shorten(&message)));
    }
    let meaning = match code {
        Some(0) if object.is_some() => return Outcome::Succeeded,
        Some(0) => return Outcome::Failed("gemini printed no JSON result".into()),
        Some(41) => "authentication failed",
        Some(42) => "bad input",
        Some(52) => "bad configuration",
        Some(53) => "turn limit reached",
        Some(130) => "cancelled",
        _ => return Outcome::Failed(exit),
    };
    Outcome::Failed(format!("{exit} ({meaning})"))
}

/// What a headless run reported about itself, where its CLI says: the session (to resume
/// it), the spend and the turns.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Claude's `session_id`, Codex's `thread_id`, Gemini's `session_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Claude's `total_cost_usd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Claude's `num_turns`; the turns Codex completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turns: Option<u64>,
    /// The tokens used: Claude's result `usage`, the sum of Codex's `turn.completed` usages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
}

/// Tokens a run used, as its CLI reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// Input tokens (not read from a cache).
    pub input: u64,
    /// Input tokens read from a cache.
    pub cached_input: u64,
    /// Output tokens.
    pub output: u64,
}

impl Tokens {
    /// Adds a `usage` object: Codex's `{input_tokens, cached_input_tokens, output_tokens}`,
    /// Claude's `{input_tokens, cache_read_input_tokens, output_tokens}`.
    fn add(&mut self, usage: &Value) {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.input += n("input_tokens");
        self.cached_input += n("cached_input_tokens") + n("cache_read_input_tokens");
        self.output += n("output_tokens");
    }
}

/// The session a line of a run's output names, for the CLIs that say it in their first event
/// (Claude's `system`/`init`, Codex's `thread.started`): known before the run ends, so that a
/// run cut short by a crash can still be resumed.
pub fn session_in_line(verdict: Verdict, line: &str) -> Option<String> {
    let key = match verdict {
        Verdict::ClaudeResult => "session_id",
        Verdict::CodexEvents => "thread_id",
        _ => return None,
    };
    if !line.contains(key) {
        return None;
    }
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    v.get(key)?.as_str().map(str::to_string)
}

/// Reads what the run's output says about it (nothing for templates, aider and opencode).
pub fn report(verdict: Verdict, stdout: &str, stderr: &str) -> RunReport {
    let stdout = gemini_stream(verdict, stdout, stderr);
    let events = || {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    match verdict {
        Verdict::ClaudeResult => {
            let whole = serde_json::from_str::<Value>(stdout.trim()).ok();
            let all: Vec<Value> = match whole {
                Some(Value::Array(messages)) => messages,
                Some(v @ Value::Object(_)) => vec![v],
                _ => events().collect(),
            };
            let result = all
                .iter()
                .rev()
                .find(|v| v.get("type").and_then(Value::as_str) == Some("result"));
            RunReport {
                session_id: result
                    .and_then(|r| text(r, "session_id"))
                    .or_else(|| all.iter().find_map(|v| text(v, "session_id"))),
                cost_usd: result.and_then(|r| r.get("total_cost_usd")?.as_f64()),
                turns: result.and_then(|r| r.get("num_turns")?.as_u64()),
                tokens: result.and_then(|r| r.get("usage")).map(|u| {
                    let mut t = Tokens::default();
                    t.add(u);
                    t
                }),
            }
        }
        Verdict::CodexEvents => {
            let mut out = RunReport::default();
            let mut turns = 0;
            let mut tokens = Tokens::default();
            for e in events() {
                match e.get("type").and_then(Value::as_str) {
                    Some("thread.started") => out.session_id = text(&e, "thread_id"),
                    Some("turn.completed") => {
                        turns += 1;
                        if let Some(u) = e.get("usage") {
                            tokens.add(u);
                        }
                    }
                    _ => {}
                }
            }
            out.turns = (turns > 0).then_some(turns);
            out.tokens = (tokens != Tokens::default()).then_some(tokens);
            out
        }
        Verdict::GeminiJson => {
            let object = gemini_object(stdout);
            RunReport {
                session_id: object.as_ref().and_then(|o| text(o, "session_id")),
                ..RunReport::default()
            }
        }
        Verdict::ExitStatus | Verdict::TaskState => RunReport::default(),
    }
}

/// At most 300 characters of `text` on one line, for a message.
fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(o: Outcome, needle: &str) {
        match o {
            Outcome::Failed(why) => assert!(why.contains(needle), "{why:?} lacks {needle:?}"),
            other => panic!("expected a failure with {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn claude_is_judged_by_its_result_event_not_its_exit_status() {
        let init = r#"{"type":"system","subtype":"init","session_id":"s1"}"#;
        let ok = r#"{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s1"}"#;
        let stream = format!("{init}\n{{\"type\":\"assistant\"}}\n{ok}\n");
        assert_eq!(
            judge(Verdict::ClaudeResult, Some(0), &stream, ""),
            Outcome::Succeeded
        );
        // Exit 1 with a successful result: the result decides.
        assert_eq!(
            judge(Verdict::ClaudeResult, Some(1), &stream, ""),
            Outcome::Succeeded
        );
        // What the real CLI prints when not logged in: an error whose subtype is "success".
        let login = r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login"}"#;
        failed(
            judge(
                Verdict::ClaudeResult,
                Some(1),
                &format!("{init}\n{login}\n"),
                "",
            ),
            "Not logged in",
        );
        let turns = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"errors":["Reached max turns (3)"]}"#;
        failed(
            judge(Verdict::ClaudeResult, Some(0), turns, ""),
            "error_max_turns",
        );
        failed(
            judge(Verdict::ClaudeResult, Some(0), turns, ""),
            "Reached max turns",
        );
        // `--output-format json` with `--verbose`: an array of messages, the result last.
        let array = format!("[{init}, {ok}]");
        assert_eq!(
            judge(Verdict::ClaudeResult, Some(0), &array, ""),
            Outcome::Succeeded
        );
        failed(
            judge(
                Verdict::ClaudeResult,
                Some(0),
                "API Error: 529 overloaded",
                "",
            ),
            "no result event",
        );
        failed(
            judge(Verdict::ClaudeResult, Some(0), init, ""),
            "no result event",
        );
    }

    #[test]
    fn codex_succeeds_when_its_last_turn_completed() {
        let started = r#"{"type":"thread.started","thread_id":"t1"}"#;
        let done = r#"{"type":"turn.completed","usage":{"input_tokens":10,"output_tokens":5}}"#;
        let ok = format!("{started}\n{{\"type\":\"turn.started\"}}\n{done}\n");
        assert_eq!(
            judge(Verdict::CodexEvents, Some(0), &ok, ""),
            Outcome::Succeeded
        );
        let fail = format!(
            "{started}\n{{\"type\":\"turn.failed\",\"error\":{{\"message\":\"rate limited\"}}}}\n"
        );
        failed(
            judge(Verdict::CodexEvents, Some(1), &fail, ""),
            "rate limited",
        );
        // What the real CLI prints without a network, until it is stopped.
        let offline =
            format!("{started}\n{{\"type\":\"error\",\"message\":\"Reconnecting... 1/5\"}}\n");
        failed(
            judge(Verdict::CodexEvents, None, &offline, ""),
            "Reconnecting",
        );
        failed(
            judge(Verdict::CodexEvents, Some(0), started, ""),
            "no completed turn",
        );
    }

    #[test]
    fn gemini_is_judged_by_its_error_field_and_exit_code() {
        let ok = "{\n  \"session_id\": \"g1\",\n  \"response\": \"done\",\n  \"stats\": {}\n}\n";
        assert_eq!(
            judge(Verdict::GeminiJson, Some(0), ok, ""),
            Outcome::Succeeded
        );
        let auth = r#"{"session_id":"g1","error":{"type":"auth","message":"Please set an Auth method","code":41}}"#;
        failed(
            judge(Verdict::GeminiJson, Some(41), auth, ""),
            "Please set an Auth method",
        );
        failed(judge(Verdict::GeminiJson, Some(53), "", ""), "turn limit");
        // The real CLI prints its error object on stderr, nothing on stdout.
        failed(
            judge(Verdict::GeminiJson, Some(41), "", auth),
            "Please set an Auth method",
        );
        assert_eq!(
            report(Verdict::GeminiJson, "", auth).session_id.as_deref(),
            Some("g1")
        );
        assert_eq!(
            judge(
                Verdict::GeminiJson,
                Some(0),
                &format!("Loaded cached credentials.\n{ok}"),
                ""
            ),
            Outcome::Succeeded
        );
    }

    #[test]
    fn runs_report_their_session_spend_and_turns() {
        let claude = concat!(
            r#"{"type":"system","subtype":"init","session_id":"s-9"}"#,
            "\n",
            r#"{"type":"result","subtype":"success","is_error":false,"session_id":"s-9","total_cost_usd":0.42,"num_turns":7,"duration_ms":1200,"usage":{"input_tokens":10,"cache_read_input_tokens":300,"output_tokens":40}}"#,
            "\n"
        );
        assert_eq!(
            report(Verdict::ClaudeResult, claude, ""),
            RunReport {
                session_id: Some("s-9".into()),
                cost_usd: Some(0.42),
                turns: Some(7),
                tokens: Some(Tokens {
                    input: 10,
                    cached_input: 300,
                    output: 40
                }),
            }
        );
        // No result event (killed): the session is still known from the init event.
        let init = r#"{"type":"system","subtype":"init","session_id":"s-1"}"#;
        assert_eq!(
            report(Verdict::ClaudeResult, init, "")
                .session_id
                .as_deref(),
            Some("s-1")
        );
        let codex =
            "{\"type\":\"thread.started\",\"thread_id\":\"t-3\"}\n{\"type\":\"turn.completed\"}\n";
        let r = report(Verdict::CodexEvents, codex, "");
        assert_eq!((r.session_id.as_deref(), r.turns), (Some("t-3"), Some(1)));
        assert_eq!(r.tokens, None, "no usage reported");
        let codex = concat!(
            r#"{"type":"thread.started","thread_id":"t-4"}"#,
            "\n",
            r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":50,"output_tokens":20}}"#,
            "\n",
            r#"{"type":"turn.completed","usage":{"input_tokens":30,"cached_input_tokens":0,"output_tokens":5}}"#,
            "\n"
        );
        let r = report(Verdict::CodexEvents, codex, "");
        assert_eq!(r.turns, Some(2));
        assert_eq!(
            r.tokens,
            Some(Tokens {
                input: 130,
                cached_input: 50,
                output: 25
            })
        );
        let gemini = r#"{"session_id":"g-2","error":{"message":"x","code":41}}"#;
        assert_eq!(
            report(Verdict::GeminiJson, gemini, "")
                .session_id
                .as_deref(),
            Some("g-2")
        );
        assert_eq!(
            report(Verdict::ExitStatus, claude, ""),
            RunReport::default()
        );
    }

    #[test]
    fn exit_status_and_task_state_verdicts() {
        assert_eq!(
            judge(Verdict::ExitStatus, Some(0), "", ""),
            Outcome::Succeeded
        );
        failed(judge(Verdict::ExitStatus, Some(2), "", ""), "status 2");
        assert_eq!(
            judge(Verdict::TaskState, Some(0), "", ""),
            Outcome::AskTheTask
        );
        failed(judge(Verdict::TaskState, None, "", ""), "signal");
    }
}
