//! The run's reaper: what makes "nothing outlives a run" hold for every process `start` starts,
//! however it detaches, even when the runner itself dies by SIGKILL. The Claude Code CLI starts
//! each Bash tool in a session and process group of its own, out of reach of the per-child
//! [`crate::child::Guard`], which kills only the child's group.
//!
//! `start` sets up a [`Containment`] before its first child, in the best way the machine allows:
//! * **a cgroup** (v2): the runner creates `claude-runner-<run>-<pid>` under its own cgroup and
//!   moves itself into it, so every process it starts from then on, and all of theirs, is a
//!   member and cannot leave without write access to another cgroup. Killing the cgroup
//!   (`cgroup.kill`; on kernels before 5.14 every member, frozen first) kills them all. Needs a
//!   cgroup v2 hierarchy the runner may write to (root, a container, a delegated systemd unit);
//! * **an environment cookie**, always: every child gets `CLAUDE_RUNNER_TREE=<random>` in its
//!   environment (see [`crate::child::scrub_env`]), which its descendants inherit through
//!   `setsid` and double forks; a process carrying it is one of the run's. This is how Jenkins'
//!   process-tree killer finds a build's processes. Only a process that starts a program with a
//!   cleared environment sheds it.
//!
//! One reaper process (the runner's own binary, hidden `reaper` subcommand, in a process group of
//! its own, outside the cgroup) blocks reading a pipe only the runner holds. When the runner dies,
//! however it dies, the kernel closes the pipe: the reaper kills the cgroup, then every process
//! with the cookie, and removes the cgroup. When the run ends normally, [`Containment::finish`]
//! does the same from the runner (after moving itself out of the cgroup) and releases the reaper.
//!
//! A PID namespace whose init is the reaper would also do it (as root), but without
//! `unsafe_code` the runner cannot give its children a `/proc` of their own: they would see the
//! machine's process ids in `/proc` while their own are the namespace's, so `pkill` or
//! `lsof -t … | xargs kill` in a Bash tool would signal nothing, or the wrong process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable that marks the run's processes.
pub const COOKIE_VAR: &str = "CLAUDE_RUNNER_TREE";
/// What the runner writes to release the reaper without killing anything.
const RELEASE: &[u8] = b"done\n";
/// How long killing waits for the cgroup to empty before giving up on removing it.
const EMPTY_WAIT: Duration = Duration::from_secs(5);

/// How a run's processes are held together; see the module documentation.
#[derive(Debug)]
pub struct Containment {
    cgroup: Option<Cgroup>,
    cookie: String,
    reaper: Option<Child>,
    /// The reaper is the runner's child: the reaping at the end of a turn must spare it.
    _spared: Option<crate::child::Protection>,
    /// [`Containment::finish`] ran: dropping it does not walk every process for the cookie
    /// again.
    finished: bool,
}

/// The run's cgroup and the one the runner came from.
#[derive(Debug, Clone)]
struct Cgroup {
    dir: PathBuf,
    home: PathBuf,
}

impl Containment {
    /// Set up the containment for run `run_id`: spawn the reaper, then (if the machine allows)
    /// move the runner into a new cgroup, and mark every child from now on with the cookie.
    /// Never fails: what cannot be had is logged and left out.
    pub fn start(run_id: &str) -> Self {
        let cookie = crate::client::random_b64(24);
        let cgroup = Cgroup::create(run_id)
            .map_err(|e| tracing::info!(error = %e, "no cgroup for the run; the cookie alone finds its processes"))
            .ok();
        let reaper = spawn_reaper(cgroup.as_ref().map(|c| c.dir.as_path()), &cookie);
        if let Some(c) = &cgroup
            && let Err(e) = c.enter()
        {
            tracing::info!(error = %e, "could not enter the run's cgroup");
            let _ = std::fs::remove_dir(&c.dir);
            // The reaper was told of it; an empty cgroup it cannot remove is harmless.
            return Self::with(None, cookie, reaper);
        }
        Self::with(cgroup, cookie, reaper)
    }

    fn with(cgroup: Option<Cgroup>, cookie: String, reaper: Option<Child>) -> Self {
        crate::child::set_tree_cookie(&cookie);
        let _spared = reaper.as_ref().map(|r| crate::child::protect(r.id()));
        Self {
            cgroup,
            cookie,
            reaper,
            _spared,
            finished: false,
        }
    }

    /// `cgroup` or `cookie`: how the run's processes are found.
    pub fn mode(&self) -> &'static str {
        if self.cgroup.is_some() {
            "cgroup"
        } else {
            "cookie"
        }
    }

    /// The run is over: kill whatever of it is left (none, normally: `start` reaped already),
    /// remove the cgroup and release the reaper. Returns how many processes were killed.
    /// Blocking.
    pub fn finish(mut self) -> u64 {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> u64 {
        if self.finished {
            return 0;
        }
        self.finished = true;
        let mut killed = 0;
        if let Some(c) = self.cgroup.take() {
            if let Err(e) = c.leave() {
                // Killing the cgroup now would kill the runner; the reaper does it at exit.
                tracing::warn!(error = %e, "could not leave the run's cgroup");
                return 0;
            }
            killed += c.kill_all();
        }
        killed += kill_by_cookie(&self.cookie, &[]);
        if let Some(mut r) = self.reaper.take() {
            if let Some(pipe) = r.stdin.as_mut() {
                let _ = pipe.write_all(RELEASE);
            }
            drop(r.stdin.take());
            let _ = r.wait();
        }
        killed
    }
}

impl Drop for Containment {
    fn drop(&mut self) {
        self.finish_inner();
    }
}

/// Start the reaper for `cgroup` and `cookie`; `None` (with a warning) if it cannot run.
fn spawn_reaper(cgroup: Option<&Path>, cookie: &str) -> Option<Child> {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot find the runner's own binary for the reaper");
            return None;
        }
    };
    let mut cmd = Command::new(exe);
    crate::child::scrub_env(&mut cmd);
    cmd.env_remove(COOKIE_VAR).args(reaper_args(cgroup, cookie));
    use std::os::unix::process::CommandExt;
    match cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
    {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "could not start the reaper that stops the run's processes if the runner dies");
            None
        }
    }
}

/// The reaper's command line after the binary. `--cookie=<value>` in one word: a cookie is
/// base64url, and one that begins with `-` (one in 64) would be taken for an option.
fn reaper_args(cgroup: Option<&Path>, cookie: &str) -> Vec<std::ffi::OsString> {
    let mut args = vec!["reaper".into(), format!("--cookie={cookie}").into()];
    if let Some(dir) = cgroup {
        let mut arg = std::ffi::OsString::from("--cgroup=");
        arg.push(dir);
        args.push(arg);
    }
    args
}

/// The reaper process: wait for the runner to release it or die; in the second case kill the
/// run's cgroup and every process with the cookie. Returns its exit code.
pub fn reaper_main(cgroup: Option<PathBuf>, cookie: &str) -> i32 {
    // A terminal's hangup or Ctrl-C is the runner's to handle; it releases or dies.
    let mut quiet = nix::sys::signal::SigSet::empty();
    quiet.add(Signal::SIGHUP);
    quiet.add(Signal::SIGINT);
    let _ = quiet.thread_block();
    let mut said = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut said);
    if said.starts_with(RELEASE) {
        return 0;
    }
    if let Some(dir) = cgroup {
        // The runner is dead, so it is no member any more; whatever is, goes.
        Cgroup {
            dir,
            home: PathBuf::new(),
        }
        .kill_all();
    }
    // The runner may have died while starting a child, which shows the runner's environment
    // (without the cookie) until its `execve`: every walk reads every process.
    kill_walking(Walk::new(cookie, false), &[std::process::id()]);
    0
}

impl Cgroup {
    /// Create the run's cgroup under the runner's own (cgroup v2 only).
    fn create(run_id: &str) -> std::io::Result<Self> {
        let home = own_cgroup_dir()?;
        let dir = home.join(format!("claude-runner-{run_id}-{}", std::process::id()));
        std::fs::create_dir(&dir)?;
        Ok(Self { dir, home })
    }

    /// Move the runner (all its threads) into the cgroup.
    fn enter(&self) -> std::io::Result<()> {
        std::fs::write(
            self.dir.join("cgroup.procs"),
            std::process::id().to_string(),
        )
    }

    /// Move the runner back to the cgroup it came from.
    fn leave(&self) -> std::io::Result<()> {
        std::fs::write(
            self.home.join("cgroup.procs"),
            std::process::id().to_string(),
        )
    }

    fn members(&self) -> Vec<u32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kill every member, wait until none is left, remove the cgroup. Returns how many members
    /// there were.
    fn kill_all(&self) -> u64 {
        let members = self.members();
        if !members.is_empty() && std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            // Before Linux 5.14: freeze, so none can fork while its siblings are killed.
            let _ = std::fs::write(self.dir.join("cgroup.freeze"), "1");
            for _ in 0..10 {
                let left = self.members();
                if left.is_empty() {
                    break;
                }
                for pid in left {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = std::fs::write(self.dir.join("cgroup.freeze"), "0");
        }
        // Removing it fails (EBUSY) until the last member has fully exited.
        let deadline = Instant::now() + EMPTY_WAIT;
        loop {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove the run's cgroup");
                    break;
                }
            }
        }
        members.len() as u64
    }
}

/// The directory of the runner's own cgroup in the cgroup v2 hierarchy, from `/proc/self/cgroup`
/// (`0::<path>`) and the `cgroup2` mount in `/proc/self/mountinfo`.
fn own_cgroup_dir() -> std::io::Result<PathBuf> {
    let not_there =
        |what: &str| std::io::Error::new(std::io::ErrorKind::NotFound, what.to_string());
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| not_there("no cgroup v2 entry in /proc/self/cgroup"))?
        .trim()
        .to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    cgroup2_dir(&mounts, &path)
        .ok_or_else(|| not_there("no cgroup2 mount holds the runner's cgroup"))
}

/// Where the cgroup `path` lies, given the mount table: `<mount point>/<path below its root>`.
fn cgroup2_dir(mountinfo: &str, path: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (head, tail) = line.split_once(" - ")?;
        if tail.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut fields = head.split(' ');
        let root = fields.nth(3)?;
        let mount = fields.next()?;
        let below = path.strip_prefix(root)?.trim_start_matches('/');
        if below.split('/').any(|c| c == "..") {
            return None;
        }
        Some(Path::new(mount).join(below))
    })
}

/// Kill (SIGKILL) every process whose environment holds the cookie, except `spare`, until none
/// is left (a few passes: a dying parent's child may fork once more). Returns how many.
pub fn kill_by_cookie(cookie: &str, spare: &[u32]) -> u64 {
    kill_walking(Walk::new(cookie, true), spare)
}

fn kill_walking(mut walk: Walk, spare: &[u32]) -> u64 {
    let me = std::process::id();
    kill_found(|| {
        walk.carriers()
            .into_iter()
            .filter(|p| *p != me && !spare.contains(p))
            .collect()
    })
}

/// Kills what `scan` finds until two scans in a row find nothing. One empty scan is not
/// enough: a process in the middle of `execve` shows an empty environment for a moment, so
/// a cookie-carrier that is exec'ing (a `setsid` turning into its command) would be missed.
fn kill_found(mut scan: impl FnMut() -> Vec<u32>) -> u64 {
    let mut killed = std::collections::BTreeSet::new();
    let mut quiet = 0;
    for _ in 0..12 {
        let found = scan();
        if found.is_empty() {
            quiet += 1;
            if quiet == 2 {
                break;
            }
        } else {
            quiet = 0;
        }
        for pid in found {
            if kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok() {
                killed.insert(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.len() as u64
}

/// The walks of `/proc` for one cookie. Reading a process's environment reads its memory (the
/// kernel maps the pages of its stack), and with 200 runs on a machine every ending run reads
/// some 800 of them, twice. A process whose environment was read whole and without the cookie
/// does not come to carry it: what `/proc/<pid>/environ` shows changes only with the process's
/// own `execve`, which passes on its own environment or one it was given by whoever knew the
/// cookie. A child between `fork` and `execve` shows its parent's environment, so a carrier's
/// child shows the cookie, and only the runner (which knows the cookie without carrying it)
/// could start a child that shows none and then carries it: the runner's children are never
/// skipped. Later walks read only processes not seen before, those that showed nothing (inside
/// `execve`, zombies, kernel threads) and this process's children. A skipped pid could be a new
/// process only if the kernel had handed out every other pid up to `pid_max` between two
/// walks, 20 ms apart. The reaper, walking after the runner died (perhaps while starting a
/// child), skips nothing. Not covered: a carrier that wrote over its own environment's memory
/// (a `setproctitle`) shows no cookie, and a child it starts while the first walk reads it
/// looks the same until its `execve`; before, the second walk read that child again.
struct Walk {
    needle: Vec<u8>,
    settled: std::collections::HashSet<u32>,
    buf: Vec<u8>,
    skip: bool,
}

impl Walk {
    /// `skip`: later walks skip what an earlier one read whole (see above); without it, every
    /// walk reads every process.
    fn new(cookie: &str, skip: bool) -> Self {
        Self {
            needle: format!("{COOKIE_VAR}={cookie}").into_bytes(),
            settled: std::collections::HashSet::new(),
            buf: Vec::with_capacity(16 * 1024),
            skip,
        }
    }

    /// Live processes whose environment has the cookie's entry; those whose environment cannot
    /// be read (another user's) are not.
    fn carriers(&mut self) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for pid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            if self.settled.contains(&pid) {
                continue;
            }
            self.buf.clear();
            let read = std::fs::File::open(format!("/proc/{pid}/environ"))
                .and_then(|mut f| f.read_to_end(&mut self.buf));
            match read {
                Ok(_)
                    if self.buf.split(|&b| b == 0).any(|e| e == self.needle)
                        && crate::child::is_alive(pid) =>
                {
                    found.push(pid);
                }
                Ok(_) if self.skip && !self.buf.is_empty() => {
                    self.settled.insert(pid);
                }
                // Empty (exec'ing, a zombie, a kernel thread) or gone: looked at again.
                _ => {}
            }
        }
        // Listed after the walk: a child read before its `execve` is a child still (or gone).
        match crate::child::own_children() {
            Some(children) => {
                for pid in children {
                    self.settled.remove(&pid);
                }
            }
            None => self.settled.clear(),
        }
        found
    }
}

/// Live processes carrying `cookie`, in one walk.
#[cfg(test)]
fn carrying(cookie: &str) -> Vec<u32> {
    Walk::new(cookie, false).carriers()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup_dir_is_found_below_the_cgroup2_mount() {
        let hybrid = "25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_dir(hybrid, "/user.slice/x.scope"),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/x.scope"))
        );
        assert_eq!(
            cgroup2_dir(hybrid, "/"),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        // A container whose mount shows only its own part of the hierarchy.
        let nested = "30 20 0:27 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_dir(nested, "/docker/abc/sub"),
            Some(PathBuf::from("/sys/fs/cgroup/sub"))
        );
        assert_eq!(cgroup2_dir(nested, "/elsewhere"), None);
        assert_eq!(cgroup2_dir("1 0 0:1 / / rw - ext4 /dev/x rw\n", "/"), None);
    }

    #[test]
    fn the_reaper_command_line_parses_whatever_the_cookie_begins_with() {
        use clap::Parser;
        for cookie in [
            "-y3kQ_cookie",
            "--cookie",
            "Ab-_09",
            &crate::client::random_b64(24),
        ] {
            for cgroup in [None, Some(Path::new("/sys/fs/cgroup/-run dir"))] {
                let argv =
                    std::iter::once("claude-runner".into()).chain(reaper_args(cgroup, cookie));
                let cli = crate::cli::Cli::try_parse_from(argv)
                    .unwrap_or_else(|e| panic!("cookie {cookie:?}: {e}"));
                let crate::cli::Command::Reaper(args) = cli.command else {
                    panic!("not the reaper: {cli:?}");
                };
                assert_eq!(args.cookie, cookie);
                assert_eq!(args.cgroup.as_deref(), cgroup);
            }
        }
    }

    #[test]
    fn a_finished_containment_walks_for_its_cookie_once_not_again_when_dropped() {
        let cookie = crate::client::random_b64(24);
        // No cgroup, no reaper, and no cookie set for this process's children: only the walk.
        let mut c = Containment {
            cgroup: None,
            cookie: cookie.clone(),
            reaper: None,
            _spared: None,
            finished: false,
        };
        assert_eq!(c.finish_inner(), 0);
        // A process with the cookie that turns up after the end is not the containment's to
        // kill any more: finishing again, or dropping, must not walk every process again.
        let mut late = Command::new("sleep")
            .arg("300")
            .env(COOKIE_VAR, &cookie)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while carrying(&cookie).is_empty() {
            assert!(
                Instant::now() < deadline,
                "the late process never showed up"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.finish_inner(), 0);
        drop(c);
        assert!(
            late.try_wait().unwrap().is_none(),
            "the late process runs on"
        );
        late.kill().unwrap();
        late.wait().unwrap();
    }

    #[test]
    fn a_carrier_caught_mid_exec_is_killed_on_the_next_scan() {
        // The first scan sees nothing (the carrier is inside execve, its environment empty
        // for a moment); the next one sees it. Stopping at the first empty scan missed it.
        let mut carrier = Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = carrier.id();
        let mut scans = 0;
        let killed = kill_found(|| {
            scans += 1;
            match scans {
                1 => Vec::new(),
                _ if crate::child::is_alive(pid) => vec![pid],
                _ => Vec::new(),
            }
        });
        assert_eq!(killed, 1);
        assert!(
            carrier.wait().unwrap().code().is_none(),
            "killed by a signal"
        );
    }

    #[test]
    fn a_later_walk_skips_only_processes_read_whole_without_the_cookie() {
        let cookie = crate::client::random_b64(24);
        let deadline = Instant::now() + Duration::from_secs(5);
        // Not this process's child (a child of its child, which stays alive so that the
        // stranger is adopted by nobody, whoever is a subreaper), no cookie: skipped once read
        // whole.
        let mut parent = Command::new("sh")
            .args([
                "-c",
                "sleep 300 </dev/null >/dev/null 2>&1 & echo $!; exec sleep 300",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let stranger: u32 = line.trim().parse().unwrap();
        // This process's child, no cookie: looked at by every walk.
        let mut own = Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        // Exited and not waited for (a zombie, an empty environment, as a process inside
        // execve shows): looked at by every walk.
        let mut zombie = Command::new("true").stdin(Stdio::null()).spawn().unwrap();
        while std::fs::read(format!("/proc/{}/environ", zombie.id()))
            .is_ok_and(|env| !env.is_empty())
        {
            assert!(Instant::now() < deadline, "`true` never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut walk = Walk::new(&cookie, true);
        while !walk.settled.contains(&stranger) {
            assert!(walk.carriers().is_empty());
            assert!(Instant::now() < deadline, "the stranger was never skipped");
        }
        assert!(
            !walk.settled.contains(&own.id()),
            "a child of this process is looked at again"
        );
        assert!(
            !walk.settled.contains(&zombie.id()),
            "an empty environment is looked at again"
        );
        let mut whole = Walk::new(&cookie, false);
        assert!(whole.carriers().is_empty());
        assert!(whole.settled.is_empty(), "the reaper's walks skip nothing");
        // A carrier started after the first walk is found by the next one.
        let mut marked = Command::new("sleep")
            .arg("300")
            .env(COOKIE_VAR, &cookie)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        while !walk.carriers().contains(&marked.id()) {
            assert!(Instant::now() < deadline, "the carrier was never found");
            std::thread::sleep(Duration::from_millis(5));
        }
        kill(Pid::from_raw(stranger as i32), Signal::SIGKILL).unwrap();
        for c in [&mut parent, &mut own, &mut marked] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        zombie.wait().unwrap();
    }

    #[test]
    fn the_cookie_finds_a_detached_process_and_nothing_else() {
        let cookie = crate::client::random_b64(24);
        let spawn = |with: bool| {
            let mut cmd = Command::new("setsid");
            cmd.args(["sleep", "300"]).stdin(Stdio::null());
            if with {
                cmd.env(COOKIE_VAR, &cookie);
            }
            cmd.spawn().unwrap()
        };
        let (mut marked, mut other) = (spawn(true), spawn(false));
        let deadline = Instant::now() + Duration::from_secs(5);
        // setsid may fork first: wait until the marked sleep carries the cookie.
        while carrying(&cookie).is_empty() {
            assert!(
                Instant::now() < deadline,
                "the marked process never showed up"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(kill_by_cookie(&cookie, &[]), 1);
        assert!(
            marked.wait().unwrap().code().is_none(),
            "killed by a signal"
        );
        assert!(
            other.try_wait().unwrap().is_none(),
            "the unmarked one runs on"
        );
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
