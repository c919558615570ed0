//! Prometheus' standard process metrics, read from `/proc` at scrape time: a few small files,
//! nothing kept between scrapes, nothing paid on the request path.
//!
//! `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`,
//! `process_max_fds` and `process_start_time_seconds`, with the names and meanings the
//! Prometheus client libraries use, so stock dashboards work unchanged. A value that cannot
//! be read (not Linux, `/proc` not mounted) is left out rather than reported as zero.

use std::fmt::Write;

/// The process metrics as exposition text (empty when `/proc` cannot be read). Blocking file
/// reads: call it on a blocking thread.
pub fn render() -> String {
    let mut text = String::new();
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().and_then(stat_fields);
    let ticks_per_second = rustix::param::clock_ticks_per_second().max(1);
    if let Some(fields) = &fields {
        let cpu_ticks = fields.user_ticks.saturating_add(fields.system_ticks);
        let _ = writeln!(
            text,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\n\
             process_cpu_seconds_total {}",
            decimal(cpu_ticks, ticks_per_second)
        );
        let page_bytes = rustix::param::page_size() as u64;
        let _ = writeln!(
            text,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes {}",
            fields.rss_pages.saturating_mul(page_bytes)
        );
        if let Some(boot) = boot_time_seconds() {
            let _ = writeln!(
                text,
                "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
                 # TYPE process_start_time_seconds gauge\n\
                 process_start_time_seconds {}",
                decimal(
                    boot.saturating_mul(ticks_per_second)
                        .saturating_add(fields.start_ticks),
                    ticks_per_second
                )
            );
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        // The directory handle read_dir holds is one of the entries; it is not ours to count.
        let open = entries.count().saturating_sub(1);
        let _ = writeln!(
            text,
            "# HELP process_open_fds Number of open file descriptors.\n\
             # TYPE process_open_fds gauge\n\
             process_open_fds {open}"
        );
    }
    if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        let _ = writeln!(
            text,
            "# HELP process_max_fds Maximum number of open file descriptors.\n\
             # TYPE process_max_fds gauge\n\
             process_max_fds {limit}"
        );
    }
    text
}

/// The fields of `/proc/self/stat` this module reports.
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    user_ticks: u64,
    system_ticks: u64,
    start_ticks: u64,
    rss_pages: u64,
}

/// Parses `/proc/self/stat` (proc(5)). The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted after its *last* `)`.
fn stat_fields(stat: &str) -> Option<StatFields> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name, field 3 (state) is index 0, so field N is index N - 3.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(StatFields {
        user_ticks: field(14)?,
        system_ticks: field(15)?,
        start_ticks: field(22)?,
        rss_pages: field(24)?,
    })
}

/// System boot time (`btime` in `/proc/stat`), in seconds since the epoch.
fn boot_time_seconds() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// `numerator / denominator` as a decimal with up to three places, without floats.
fn decimal(numerator: u64, denominator: u64) -> String {
    let whole = numerator / denominator;
    let millis = (numerator % denominator).saturating_mul(1_000) / denominator;
    let text = format!("{whole}.{millis:03}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses_around_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (bank d) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 9 0 \
                    12345 104857600 6400 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        assert_eq!(
            stat_fields(stat),
            Some(StatFields {
                user_ticks: 150,
                system_ticks: 25,
                start_ticks: 12345,
                rss_pages: 6400,
            })
        );
        assert_eq!(stat_fields("garbage"), None);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(175, 100), "1.75");
        assert_eq!(decimal(200, 100), "2");
        assert_eq!(decimal(1, 3), "0.333");
    }

    #[test]
    fn this_process_reports_every_standard_series() {
        let text = render();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
            "process_open_fds ",
            "process_max_fds ",
        ] {
            assert!(
                text.contains(&format!("\n{name}")),
                "{name} missing: {text}"
            );
        }
    }
}
