//! This process's memory and CPU time, read from `/proc`.

/// This process's memory and CPU time, from `/proc` (Linux; `None` elsewhere).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub rss: u64,
    pub hwm: u64,
    pub cpu_seconds: f64,
}

/// Read [`ProcessStats`] of `/proc/self`.
pub fn process() -> Option<ProcessStats> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_process(&status, &stat)
}

/// Parse `/proc/<pid>/status` (VmRSS, VmHWM in kB) and `/proc/<pid>/stat` (utime and stime, in
/// clock ticks of the fixed 100 Hz `USER_HZ` that `/proc` reports in).
pub fn parse_process(status: &str, stat: &str) -> Option<ProcessStats> {
    let kb = |key: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()
        })
    };
    // Fields after the command name (which may hold spaces) start at field 3 (`state`);
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ProcessStats {
        rss: kb("VmRSS:")? * 1024,
        hwm: kb("VmHWM:")? * 1024,
        cpu_seconds: ticks as f64 / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        let status = "Name:\tgateway\nVmHWM:\t   12000 kB\nVmRSS:\t    9000 kB\n";
        let stat = "123 (gate way) S 1 123 123 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        let p = parse_process(status, stat).unwrap();
        assert_eq!(p.rss, 9000 * 1024);
        assert_eq!(p.hwm, 12000 * 1024);
        assert!((p.cpu_seconds - 3.0).abs() < 1e-9, "{}", p.cpu_seconds);
        assert!(parse_process("", stat).is_none());
    }
}
