//! Where a function's own time goes, at init and in a warm call: the process's CPU time
//! (the sum of its threads' `/proc/PID/task/*/schedstat`), split by what was running,
//! from `perf`'s samples, by the crate of each sampled function. Beside the first
//! table's "DynamoDB alone", this splits the handler's overhead into its parts.
//!
//! Needs `perf` and binaries with their symbols (the `release-symbols` profile);
//! `scripts/bench.sh` provides both when `BENCH_TABLES` has `profile`.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hyper::body::Bytes;

use crate::runtime_api::Process;
use crate::Failure;

const SIGINT: i32 = 2;
/// Calls before perf attaches, so that connections and caches are warm.
const WARM_UP_CALLS: usize = 20;
/// Samples per second: about 20 per millisecond of CPU.
const SAMPLE_HZ: &str = "19999";
/// The crates named in the table; the rest are summed as "rest".
pub const TOP_CRATES: usize = 8;

/// One phase of a function, measured without perf and split under it.
pub struct Profile {
    /// The phase's median duration, without perf.
    pub time: Duration,
    /// The process's CPU time in the phase (median for init, mean per call when warm).
    pub cpu: Duration,
    /// Share of the samples, by what ran (a crate, `kernel`, `libc`), largest first.
    pub shares: Vec<(String, f64)>,
}

/// `runs` cold starts of `binary` up to its first `/next`, timed without perf, then as
/// many under a system-wide `perf record` (data in `data`), whose samples are counted
/// for the processes that bear the binary's name: the kernel's `exec` and page faults
/// are part of init, and they come before any process perf could attach to exists.
pub async fn measure_init(binary: &Path, env: &[(&str, String)], runs: usize, data: &Path) -> Result<Profile, Failure> {
    let (mut times, mut cpus) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let process = Process::start(binary, env).await?;
        times.push(process.init);
        cpus.push(cpu_time(process.pid())?);
        process.stop().await;
    }
    let perf = record(&["-a"], data).await?;
    for _ in 0..runs {
        Process::start(binary, env).await?.stop().await;
    }
    stop(perf).await?;
    // The kernel names a process after the first 15 bytes of its file's name.
    let name = binary.file_name().and_then(|name| name.to_str()).ok_or("a binary without a name")?;
    let comm: String = name.chars().take(15).collect();
    Ok(Profile { time: crate::median(times), cpu: crate::median(cpus), shares: shares(data, Some(&comm)).await? })
}

/// Times `calls` warm calls of `binary`, then runs as many again under `perf record`,
/// writing its data to `data`.
pub async fn measure_warm(
    binary: &Path,
    event: &Bytes,
    env: &[(&str, String)],
    calls: usize,
    data: &Path,
) -> Result<Profile, Failure> {
    let mut process = Process::start(binary, env).await?;
    for _ in 0..WARM_UP_CALLS {
        process.call(event).await?;
    }
    // Time and CPU without perf, whose sampling adds to both.
    let cpu_before = cpu_time(process.pid())?;
    let mut walls = Vec::with_capacity(calls);
    for _ in 0..calls {
        walls.push(process.call(event).await?.0);
    }
    let cpu_per_call = cpu_time(process.pid())?.saturating_sub(cpu_before) / u32::try_from(calls)?;

    let perf = record(&["-p", &process.pid().to_string()], data).await?;
    for _ in 0..calls {
        process.call(event).await?;
    }
    stop(perf).await?;
    process.stop().await;
    Ok(Profile { time: crate::median(walls), cpu: cpu_per_call, shares: shares(data, None).await? })
}

/// `perf record` of `target` (`-p PID`, or `-a` for the whole machine), once it has had
/// time to attach: it does so asynchronously.
async fn record(target: &[&str], data: &Path) -> Result<tokio::process::Child, Failure> {
    let perf = tokio::process::Command::new("perf")
        .args(["record", "--quiet", "-F", SAMPLE_HZ])
        .args(target)
        .arg("-o")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(perf)
}

async fn stop(mut perf: tokio::process::Child) -> Result<(), Failure> {
    let pid = perf.id().ok_or("perf has no id")?;
    std::process::Command::new("kill").args([format!("-{SIGINT}"), pid.to_string()]).status()?;
    let recorded = perf.wait().await?;
    // perf ends by raising the SIGINT it was stopped with, once its data is written.
    if !recorded.success() && recorded.signal() != Some(SIGINT) {
        return Err(format!("perf record failed: {recorded}").into());
    }
    Ok(())
}

/// The CPU time all the process's threads have used so far.
fn cpu_time(pid: u32) -> Result<Duration, Failure> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let schedstat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        nanos += schedstat.split_whitespace().next().ok_or("an empty schedstat")?.parse::<u64>()?;
    }
    Ok(Duration::from_nanos(nanos))
}

/// The samples in `data` by owner, of the processes named `comm` if given.
async fn shares(data: &Path, comm: Option<&str>) -> Result<Vec<(String, f64)>, Failure> {
    let mut report = tokio::process::Command::new("perf");
    report.args(["report", "--stdio", "--quiet", "--no-children", "--percent-limit", "0", "--sort", "dso,sym", "-i"]);
    report.arg(data);
    if let Some(comm) = comm {
        report.args(["--comms", comm, "--percentage", "relative"]);
    }
    let report = report.stderr(Stdio::null()).output().await?;
    if !report.status.success() {
        return Err(format!("perf report failed: {}", report.status).into());
    }
    let mut by_crate: HashMap<String, f64> = HashMap::new();
    for line in String::from_utf8_lossy(&report.stdout).lines() {
        if let Some((share, dso, symbol)) = parse_report_line(line) {
            *by_crate.entry(owner(dso, symbol)).or_default() += share;
        }
    }
    let mut shares: Vec<_> = by_crate.into_iter().collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(shares)
}

/// `  12.34%  get-request  [.] aws_sigv4::sign::...`: the share, the binary or library,
/// and the symbol.
fn parse_report_line(line: &str) -> Option<(f64, &str, &str)> {
    let (share, rest) = line.trim_start().split_once('%')?;
    let share = share.parse().ok()?;
    let (dso, rest) = rest.trim_start().split_once(char::is_whitespace)?;
    let symbol = rest.trim_start().split_once("] ").map_or(rest, |(_, symbol)| symbol).trim();
    Some((share, dso, symbol))
}

/// What a sample is counted under: the kernel, the C library, or the crate of the Rust
/// function: the first path in its symbol that is not the standard library's, so that
/// `core::ptr::drop_in_place<hyper::...>` counts for hyper. Symbols of the standard
/// library alone count as `std`; C and assembly in the binary (ring's) by their prefix.
fn owner(dso: &str, symbol: &str) -> String {
    if dso.starts_with("[kernel") {
        return "kernel".into();
    }
    if dso.starts_with("libc") || dso.starts_with("ld-linux") || dso.starts_with("libm") {
        return "libc".into();
    }
    let mut crates = symbol
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter_map(|path| path.split_once("::").map(|(first, _)| first))
        .filter(|first| !first.is_empty());
    let mut saw_std = false;
    for first in crates.by_ref() {
        match first {
            "core" | "alloc" | "std" => saw_std = true,
            crate_name => return crate_name.to_owned(),
        }
    }
    if saw_std {
        "std".into()
    } else if symbol.starts_with("ring_core") {
        "ring".into()
    } else {
        "other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_counts_for_the_crate_that_owns_its_function() {
        assert_eq!(owner("[kernel.kallsyms]", "do_syscall_64"), "kernel");
        assert_eq!(owner("libc.so.6", "__memmove_avx_unaligned_erms"), "libc");
        assert_eq!(owner("get-request", "aws_sigv4::http_request::sign::sign"), "aws_sigv4");
        assert_eq!(
            owner("get-request", "<hyper::proto::h1::role::Client as hyper::proto::h1::Http1Transaction>::encode"),
            "hyper"
        );
        assert_eq!(
            owner("get-request", "core::ptr::drop_in_place<aws_smithy_types::body::SdkBody>"),
            "aws_smithy_types"
        );
        assert_eq!(owner("get-request", "<&T as core::fmt::Display>::fmt"), "std");
        assert_eq!(owner("get-request", "ring_core_0_17_14__sha256_block_data_order_avx"), "ring");
        assert_eq!(owner("get-request", "0x0000000000412345"), "other");
    }

    #[test]
    fn report_lines_give_share_binary_and_symbol() {
        let line = "    12.50%  get-request        [.] serde_json::de::Deserializer<R>::parse_whitespace";
        assert_eq!(
            parse_report_line(line),
            Some((12.5, "get-request", "serde_json::de::Deserializer<R>::parse_whitespace"))
        );
        assert_eq!(parse_report_line("# Samples: 12K of event 'cycles'"), None);
    }
}
