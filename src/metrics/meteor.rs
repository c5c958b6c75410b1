//! METEOR 1.5 through the official jar, with pycocoevalcap's protocol.
//!
//! pycocoevalcap runs `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm` in the jar's
//! folder and talks to it on stdin/stdout: for each item it writes
//! `SCORE ||| ref_1 ||| ... ||| ref_k ||| hyp` (the hypothesis with `|||` removed and double
//! spaces made single) and reads back a line of statistics; then it writes
//! `EVAL ||| stats_1 ||| ... ||| stats_n` and reads one score per item and then the corpus
//! score (METEOR's own aggregate, not the mean). [`meteor`] does exactly that, so its numbers
//! are the jar's numbers, parsed from the same printed text. Line breaks inside a caption
//! (possible only with `--tokenize none`) are replaced by spaces so they cannot break the
//! line protocol.
//!
//! Java and the jar are the user's: pycocoevalcap's wheel ships `meteor/meteor-1.5.jar` (with
//! `meteor/data/paraphrase-en.gz` beside it). When either is missing the result is
//! [`Error::ToolUnavailable`], never a zero; the report then lists METEOR as not computed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::error::{Error, Result};

/// Environment variable naming the METEOR 1.5 jar when no path is given.
pub const METEOR_JAR_ENV: &str = "RECAP_METEOR_JAR";

/// METEOR per item and for the corpus (the jar's aggregate).
#[derive(Debug, Clone, PartialEq)]
pub struct MeteorScores {
    /// The corpus score printed by the jar after `EVAL`.
    pub corpus: f64,
    /// One score per item, in input order.
    pub per_item: Vec<f64>,
}

/// The jar to use: `explicit` if given, else `$RECAP_METEOR_JAR`; it must exist.
pub fn find_jar(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os(METEOR_JAR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                unavailable(format!(
                    "no jar given (--meteor-jar) and ${METEOR_JAR_ENV} is unset"
                ))
            })?,
    };
    if !path.is_file() {
        return Err(unavailable(format!("{} is not a file", path.display())));
    }
    Ok(path)
}

fn unavailable(reason: impl Into<String>) -> Error {
    Error::ToolUnavailable {
        tool: "METEOR 1.5 (java -jar meteor-1.5.jar)".into(),
        reason: reason.into(),
    }
}

struct Jar {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: std::thread::JoinHandle<String>,
}

impl Jar {
    fn start(jar: &Path) -> Result<Jar> {
        let dir = jar.parent().filter(|d| !d.as_os_str().is_empty());
        let mut cmd = Command::new("java");
        cmd.args(["-jar", "-Xmx2G"])
            .arg(jar.canonicalize().map_err(|e| Error::io(jar, e))?)
            .args(["-", "-", "-stdio", "-l", "en", "-norm"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| unavailable(format!("cannot run java: {e}")))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Ok(Jar {
            child,
            stdin,
            stdout,
            stderr,
        })
    }

    fn send(&mut self, line: &str) -> Result<()> {
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.write_all(b"\n"))
            .and_then(|()| self.stdin.flush())
            .map_err(|e| unavailable(format!("METEOR process stopped reading: {e}")))
    }

    fn recv(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| unavailable(format!("reading METEOR output: {e}")))?;
        if n == 0 {
            return Err(unavailable("METEOR process ended early (see its stderr)"));
        }
        Ok(line.trim().to_owned())
    }

    /// Stop the process; returns what it wrote on stderr.
    fn finish(mut self) -> String {
        drop(self.stdin);
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.join().unwrap_or_default()
    }
}

/// Add the jar's stderr to a tool failure, so the user sees why Java stopped.
fn with_stderr(e: Error, stderr: &str) -> Error {
    match e {
        Error::ToolUnavailable { tool, reason } if !stderr.trim().is_empty() => {
            Error::ToolUnavailable {
                tool,
                reason: format!("{reason}; stderr: {}", stderr.trim()),
            }
        }
        other => other,
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn parse(line: &str) -> Result<f64> {
    line.parse::<f64>()
        .map_err(|_| unavailable(format!("unexpected METEOR output line {line:?}")))
}

fn run_protocol(jar: &mut Jar, cands: &[String], refs: &[Vec<String>]) -> Result<MeteorScores> {
    let mut eval_line = String::from("EVAL");
    for (c, rs) in cands.iter().zip(refs) {
        let hyp = one_line(c).replace("|||", "").replace("  ", " ");
        let refs: Vec<String> = rs.iter().map(|r| one_line(r)).collect();
        jar.send(&format!("SCORE ||| {} ||| {hyp}", refs.join(" ||| ")))?;
        let stats = jar.recv()?;
        eval_line.push_str(" ||| ");
        eval_line.push_str(&stats);
    }
    jar.send(&eval_line)?;
    let per_item = (0..cands.len())
        .map(|_| jar.recv().and_then(|l| parse(&l)))
        .collect::<Result<Vec<f64>>>()?;
    let corpus = parse(&jar.recv()?)?;
    Ok(MeteorScores { corpus, per_item })
}

/// METEOR 1.5 of tokenized candidates against their references (`refs[i]` non-empty for
/// `cands[i]`), computed by the jar at `jar` (see [`find_jar`]).
pub fn meteor(jar: &Path, cands: &[String], refs: &[Vec<String>]) -> Result<MeteorScores> {
    if cands.len() != refs.len() {
        return Err(Error::shape(
            "METEOR references",
            format!("{} lists", cands.len()),
            format!("{} lists", refs.len()),
        ));
    }
    if let Some(i) = refs.iter().position(Vec::is_empty) {
        return Err(Error::invalid(
            "references",
            format!("item {i} has no references"),
        ));
    }
    let mut j = Jar::start(jar)?;
    let result = run_protocol(&mut j, cands, refs);
    let stderr = j.finish();
    result.map_err(|e| with_stderr(e, &stderr))
}
