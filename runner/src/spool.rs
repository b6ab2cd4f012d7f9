//! The disk spool: every event is written here, checksummed and synced, before it is sent; the
//! sender reads from here, so an outage, a network cut or a runner crash loses nothing spooled.
//!
//! Layout of `<data>/runs/<run-id>/spool/`:
//! * `<first sequence, 20 digits>.seg`: records `len: u32 LE | check: 4 bytes | payload`, `check`
//!   being the payload's CRC-32 (LE). A segment's first payload is a header,
//!   `#spool v2 <first sequence> <stream digest state>\n`; every other payload is the event's `ts`
//!   (i64 LE) followed by its canonical line (`common::digest`), the exact bytes the run's
//!   `streamSha256` covers. Segments rotate at [`SEGMENT_BYTES`]; the header carries the digest
//!   state so a crashed run resumes its digest from the oldest segment still on disk. Format v1
//!   differed only in `check` (the first 4 bytes of the payload's SHA-256, a second hash pass per
//!   event next to the stream digest); its segments are still read.
//! * `acked`: the highest sequence the gateway committed, replaced by write + rename at most once
//!   a second (and before a segment is deleted, and at the end). It is not synced: a stale or
//!   lost value only makes the runner resend, and resends are idempotent.
//! * `lock`: `flock`ed by the one process (a `start` or a `flush`) that owns the run.
//!
//! Durability: a batch of events (whatever the pipes produced since the last batch, at most a
//! channel's worth) is one `write` and one `fdatasync`; an event is sent only after that. A crash
//! can leave a torn last record: its length or checksum does not match, and opening the spool
//! truncates the segment there. Fully acknowledged segments are deleted, except the newest one.
//!
//! Reading: the sender keeps a [`Cursor`] (an open segment and the offset of the next record)
//! and copies the spooled canonical lines straight into its request body ([`Spool::read_batch`]).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::digest::{StreamDigest, canonical_line_of, canonical_text_line};
use common::wire::{Event, EventKind};
use nix::fcntl::{Flock, FlockArg};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A segment is closed and a new one started once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 4 << 20;
/// Undelivered bytes past which the writer waits (and so the child) while the gateway keeps
/// acknowledging; while it does not, the spool grows up to its cap instead.
pub const BACKPRESSURE_BYTES: u64 = 64 << 20;
/// How often, at most, an acknowledgement is written to the `acked` file (see [`Spool::ack`]).
const ACK_SAVE_EVERY: Duration = Duration::from_secs(1);
/// The gateway counts as taking events if it acknowledged something this recently.
const HEALTHY_WITHIN: Duration = Duration::from_secs(5);
/// A segment's header payload starts with this; v1 segments (`#spool v1 `) are still read.
const HEADER: &[u8] = b"#spool v2 ";
const HEADER_V1: &[u8] = b"#spool v1 ";
/// Bytes before a record's payload.
const RECORD_HEAD: usize = 8;

struct Segment {
    first: u64,
    /// `first - 1` while empty.
    last: u64,
    path: PathBuf,
    bytes: u64,
}

struct Meta {
    segments: VecDeque<Segment>,
    appended: u64,
    acked: u64,
    bytes: u64,
    closed: bool,
    gave_up: bool,
    last_ack: Instant,
    /// When the `acked` file was last replaced, and with what.
    ack_saved: Option<Instant>,
    saved_acked: u64,
}

/// The shared side of a run's spool: what is appended and acknowledged, and the segment files.
pub struct Spool {
    dir: PathBuf,
    meta: Mutex<Meta>,
    /// Signalled when acknowledgements free room (or sending stops).
    room: Condvar,
    /// Signalled when events are appended or the spool closes.
    work: tokio::sync::Notify,
    _lock: Flock<File>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = self.save_ack() {
            tracing::warn!(error = %e, "could not record the acknowledgement in the spool");
        }
    }
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).finish()
    }
}

/// The appending side, owned by the sequencer: numbers events, keeps the digest, writes segments.
pub struct Writer {
    spool: Arc<Spool>,
    file: Option<File>,
    seg_bytes: u64,
    digest: StreamDigest,
    next_seq: u64,
    buf: Vec<u8>,
    line: Vec<u8>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

/// What opening a spool found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Highest sequence on disk (0 for a new spool).
    pub last_sequence: u64,
    pub acked: u64,
    /// A `finished` marker is spooled: the run cannot take more events.
    pub finished: bool,
    /// Bytes cut off a torn last record, if any.
    pub truncated_bytes: u64,
}

fn lock(m: &Mutex<Meta>) -> MutexGuard<'_, Meta> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `check` is the checksum of `payload`: its CRC-32 (v2), or the first 4 bytes of its
/// SHA-256 (segments written by v1 runners, still read so a spool left by one is delivered).
fn checksum_ok(payload: &[u8], check: &[u8]) -> bool {
    crc32fast::hash(payload).to_le_bytes() == check || {
        let h = Sha256::digest(payload);
        h[..4] == *check
    }
}

fn push_record(buf: &mut Vec<u8>, payload_parts: &[&[u8]]) {
    let len: usize = payload_parts.iter().map(|p| p.len()).sum();
    let mut h = crc32fast::Hasher::new();
    for p in payload_parts {
        h.update(p);
    }
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    buf.extend_from_slice(&h.finalize().to_le_bytes());
    for p in payload_parts {
        buf.extend_from_slice(p);
    }
}

/// The record at `pos`: its payload and where the next one starts; `None` if it is torn.
fn record_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let head = buf.get(pos..pos + RECORD_HEAD)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let payload = buf.get(pos + RECORD_HEAD..pos + RECORD_HEAD + len)?;
    checksum_ok(payload, &head[4..8]).then_some((payload, pos + RECORD_HEAD + len))
}

/// The sequence of an event payload, read from the end of its canonical line without parsing it
/// (a top-level `"sequence":` is the last one: a nested one is inside `data`, which comes first).
fn payload_sequence(payload: &[u8]) -> Option<u64> {
    let line = payload.get(8..)?;
    const KEY: &[u8] = b"\"sequence\":";
    // Canonical lines end `…,"sequence":N,"type":"stdout"}`: the colon before the last is the
    // key's (two `memrchr` steps rather than a comparison at every byte from the end).
    let mut colons = memchr::memrchr_iter(b':', line);
    colons.next()?;
    let at = match colons.next() {
        Some(c) if line[..=c].ends_with(KEY) => c + 1,
        _ => line.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len(),
    };
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// An event payload back into an event.
pub fn decode_event(payload: &[u8]) -> Option<Event> {
    #[derive(serde::Deserialize)]
    struct Line {
        data: Value,
        sequence: u64,
        #[serde(rename = "type")]
        kind: EventKind,
    }
    let ts = i64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let line: Line = serde_json::from_slice(payload.get(8..)?).ok()?;
    Some(Event {
        sequence: line.sequence,
        kind: line.kind,
        data: line.data,
        ts,
    })
}

fn parse_header(payload: &[u8]) -> Option<(u64, StreamDigest)> {
    let rest = payload
        .strip_prefix(HEADER)
        .or_else(|| payload.strip_prefix(HEADER_V1))?;
    let text = std::str::from_utf8(rest).ok()?;
    let (first, state) = text.trim_end().split_once(' ')?;
    Some((first.parse().ok()?, StreamDigest::restore(state).ok()?))
}

fn is_header(payload: &[u8]) -> bool {
    payload.starts_with(HEADER) || payload.starts_with(HEADER_V1)
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Every event payload of the segments in `dir`, oldest first (for tests and audits).
pub fn read_lines(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let buf = fs::read(&path)?;
        let mut pos = 0;
        while let Some((payload, next)) = record_at(&buf, pos) {
            if !is_header(payload) {
                out.push(payload[8..].to_vec());
            }
            pos = next;
        }
    }
    Ok(out)
}

/// Where the sender stands in the spool: an open segment and the byte offset of the record of
/// `next_seq`, so consecutive batches continue where the last one stopped instead of reading and
/// decoding the segment from its start again.
#[derive(Default)]
pub struct Cursor {
    /// The segment's first sequence and a buffered reader positioned at record `next_seq`.
    open: Option<(u64, io::BufReader<File>)>,
    next_seq: u64,
    /// The record of `next_seq`, read but left out of the last batch (it did not fit), or the
    /// last record read.
    payload: Vec<u8>,
    held: bool,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("segment", &self.open.as_ref().map(|(first, _)| first))
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

/// The sequences a [`Spool::read_batch`] wrote out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawBatch {
    pub first: u64,
    pub last: u64,
}

impl RawBatch {
    pub fn len(&self) -> u64 {
        (self.last + 1).saturating_sub(self.first)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Buffer of the sender's reader: large enough for few reads per batch, small next to a batch.
const CURSOR_BUFFER: usize = 128 * 1024;

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Reads the next record's payload into `out`; `false` at the end of the file.
fn next_record(reader: &mut io::BufReader<File>, out: &mut Vec<u8>) -> io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; RECORD_HEAD];
    match reader.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    out.clear();
    out.resize(len, 0);
    reader.read_exact(out)?;
    if !checksum_ok(out, &head[4..8]) {
        return Err(invalid("a spool record fails its checksum".into()));
    }
    Ok(true)
}

impl Spool {
    /// Open (or create) the spool in `dir`, repairing a torn tail, and take its lock.
    pub fn open(dir: &Path) -> anyhow::Result<(Arc<Spool>, Writer, Recovered)> {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .with_context(|| format!("open {}", dir.join("lock").display()))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|_| {
            anyhow::anyhow!(
                "another claude-runner is using the spool in {} (a start or flush of this run is still running)",
                dir.display()
            )
        })?;
        let acked = match fs::read_to_string(dir.join("acked")) {
            Ok(t) => t
                .trim()
                .parse()
                .context("the spool's acked file is malformed")?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).context("read the spool's acked file"),
        };
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)
            .with_context(|| format!("list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let first = p
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()?;
                Some((first, p))
            })
            .collect();
        names.sort();

        let mut segments = VecDeque::new();
        let mut digest: Option<StreamDigest> = None;
        let mut last = 0u64;
        let mut finished = false;
        let mut truncated_bytes = 0;
        let mut total = 0;
        let count = names.len();
        for (index, (first, path)) in names.into_iter().enumerate() {
            let buf = fs::read(&path).with_context(|| format!("read {}", path.display()))?;
            let newest = index + 1 == count;
            let mut pos = 0;
            let mut seg_last = first.saturating_sub(1);
            match record_at(&buf, 0).and_then(|(p, next)| Some((parse_header(p)?, next))) {
                Some(((head_first, state), next)) if head_first == first => {
                    if digest.is_none() {
                        digest = Some(state);
                        last = first - 1;
                    }
                    pos = next;
                }
                _ if newest => {} // created but its header never reached the disk: rewrite below
                _ => bail!("spool segment {} has no valid header", path.display()),
            }
            while pos > 0 {
                let Some((payload, next)) = record_at(&buf, pos) else {
                    break;
                };
                let event = decode_event(payload).filter(|e| e.sequence == last + 1);
                let Some(event) = event else {
                    bail!(
                        "spool segment {} holds an event out of order after {last}",
                        path.display()
                    );
                };
                if let Some(d) = digest.as_mut() {
                    d.push_line(&payload[8..]);
                }
                finished |= event.kind == EventKind::Marker && event.data["event"] == "finished";
                last = event.sequence;
                seg_last = last;
                pos = next;
            }
            if pos == 0 {
                // A segment without a header holds nothing usable.
                fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
                truncated_bytes += buf.len() as u64;
                continue;
            }
            if pos < buf.len() {
                if !newest {
                    bail!(
                        "spool segment {} is damaged at byte {pos} (not its end)",
                        path.display()
                    );
                }
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(pos as u64)?;
                f.sync_data()?;
                truncated_bytes += (buf.len() - pos) as u64;
            }
            total += pos as u64;
            segments.push_back(Segment {
                first,
                last: seg_last,
                path,
                bytes: pos as u64,
            });
        }
        if acked > last {
            bail!(
                "the spool in {} says {acked} events were delivered but holds only {last}",
                dir.display()
            );
        }
        let digest = match digest {
            Some(d) => d,
            None if last == 0 && acked == 0 => StreamDigest::new(),
            None => bail!("the spool in {} lost its segments", dir.display()),
        };
        let file = match segments.back() {
            Some(s) => Some(OpenOptions::new().append(true).open(&s.path)?),
            None => None,
        };
        let seg_bytes = segments.back().map_or(0, |s| s.bytes);
        let spool = Arc::new(Spool {
            dir: dir.to_path_buf(),
            meta: Mutex::new(Meta {
                segments,
                appended: last,
                acked,
                bytes: total,
                closed: false,
                gave_up: false,
                last_ack: Instant::now(),
                ack_saved: None,
                saved_acked: acked,
            }),
            room: Condvar::new(),
            work: tokio::sync::Notify::new(),
            _lock: lock,
        });
        let writer = Writer {
            spool: spool.clone(),
            file,
            seg_bytes,
            digest,
            next_seq: last + 1,
            buf: Vec::with_capacity(1 << 20),
            line: Vec::with_capacity(1024),
        };
        Ok((
            spool,
            writer,
            Recovered {
                last_sequence: last,
                acked,
                finished,
                truncated_bytes,
            },
        ))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `(appended, acked, closed)`.
    pub fn progress(&self) -> (u64, u64, bool) {
        let m = lock(&self.meta);
        (m.appended, m.acked, m.closed)
    }

    /// The first sequence still on disk (acknowledged segments are deleted; 1 for a new spool).
    pub fn first_held(&self) -> u64 {
        let m = lock(&self.meta);
        m.segments.front().map_or(m.appended + 1, |s| s.first)
    }

    /// Events spooled but not acknowledged.
    pub fn undelivered(&self) -> u64 {
        let m = lock(&self.meta);
        m.appended - m.acked
    }

    /// Bytes of the segments on disk.
    pub fn bytes(&self) -> u64 {
        lock(&self.meta).bytes
    }

    /// No more events will be appended.
    pub fn close(&self) {
        lock(&self.meta).closed = true;
        self.work.notify_one();
    }

    /// Sending has stopped for good: the writer must not wait for acknowledgements.
    pub fn give_up(&self) {
        lock(&self.meta).gave_up = true;
        self.room.notify_all();
    }

    /// Wait until an event past `after` is appended or the spool is closed.
    pub async fn wait_beyond(&self, after: u64) {
        loop {
            let notified = self.work.notified();
            {
                let m = lock(&self.meta);
                if m.appended > after || m.closed {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Block while the undelivered backlog is large and the gateway is taking events (so waiting
    /// lets the network catch up). Returns how long it waited.
    pub fn wait_for_room(&self) -> Duration {
        let start = Instant::now();
        let mut m = lock(&self.meta);
        while m.bytes > BACKPRESSURE_BYTES
            && !m.gave_up
            && m.last_ack.elapsed() < HEALTHY_WITHIN
            && m.appended > m.acked
        {
            m = self
                .room
                .wait_timeout(m, Duration::from_millis(250))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        start.elapsed()
    }

    /// The gateway committed every sequence up to `through`: remember it, delete what is no
    /// longer needed.
    ///
    /// The `acked` file is replaced at most once per [`ACK_SAVE_EVERY`], and always before a
    /// segment is deleted and when everything appended to a closed spool is acknowledged: a
    /// file a little behind only makes a later `flush` resend what the gateway already holds
    /// (answered as resends), while a write + rename per acknowledgement cost as much as the
    /// spool's own `fdatasync` at 10 lines/s.
    pub fn ack(&self, through: u64) -> io::Result<()> {
        let mut gone = Vec::new();
        let through = {
            let mut m = lock(&self.meta);
            let now = Instant::now();
            m.last_ack = now;
            let through = through.min(m.appended);
            if through <= m.acked {
                return Ok(());
            }
            m.acked = through;
            while m.segments.len() > 1 && m.segments[0].last <= through {
                let s = m.segments.pop_front().expect("checked");
                m.bytes -= s.bytes;
                gone.push(s.path);
            }
            let due = m
                .ack_saved
                .is_none_or(|t| now.duration_since(t) >= ACK_SAVE_EVERY);
            let last = m.closed && through == m.appended;
            if !(due || last || !gone.is_empty()) {
                drop(m);
                self.room.notify_all();
                return Ok(());
            }
            m.ack_saved = Some(now);
            m.saved_acked = through;
            through
        };
        self.room.notify_all();
        let tmp = self.dir.join("acked.tmp");
        fs::write(&tmp, format!("{through}\n"))?;
        fs::rename(&tmp, self.dir.join("acked"))?;
        for path in gone {
            fs::remove_file(path)?;
        }
        Ok(())
    }

    /// Write the `acked` file now if it is behind (at the end of sending; dropping the spool
    /// does it too).
    pub fn save_ack(&self) -> io::Result<()> {
        let through = {
            let mut m = lock(&self.meta);
            if m.saved_acked >= m.acked {
                return Ok(());
            }
            m.saved_acked = m.acked;
            m.ack_saved = Some(Instant::now());
            m.acked
        };
        let tmp = self.dir.join("acked.tmp");
        fs::write(&tmp, format!("{through}\n"))?;
        fs::rename(&tmp, self.dir.join("acked"))
    }

    /// Up to `max_events` events from sequence `from` (about `max_bytes` of JSON at most, but at
    /// least one), read from disk. Blocking.
    pub fn read(&self, from: u64, max_events: usize, max_bytes: usize) -> io::Result<Vec<Event>> {
        let (paths, appended) = {
            let m = lock(&self.meta);
            let paths: Vec<PathBuf> = m
                .segments
                .iter()
                .filter(|s| s.last >= from && s.last >= s.first)
                .map(|s| s.path.clone())
                .collect();
            (paths, m.appended)
        };
        let mut out: Vec<Event> = Vec::new();
        let mut bytes = 0;
        'segments: for path in paths {
            let buf = fs::read(&path)?;
            let Some((_, mut pos)) = record_at(&buf, 0) else {
                continue;
            };
            while let Some((payload, next)) = record_at(&buf, pos) {
                pos = next;
                let Some(seq) = payload_sequence(payload) else {
                    continue;
                };
                if seq < from {
                    continue;
                }
                if seq > appended || out.len() >= max_events {
                    break 'segments;
                }
                bytes += payload.len() + 16;
                if bytes > max_bytes && !out.is_empty() {
                    break 'segments;
                }
                let event = decode_event(payload).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "undecodable spool record")
                })?;
                out.push(event);
            }
        }
        match out.first() {
            Some(e) if e.sequence == from => Ok(out),
            _ if from > appended => Ok(Vec::new()),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("sequence {from} is no longer in the spool"),
            )),
        }
    }
}

impl Spool {
    /// Up to `max_events` events from sequence `from` (about `max_bytes` of JSON at most, but at
    /// least one), appended to `json` as the JSON array of an ingest request,
    /// `[{"data":…,"sequence":…,"type":…,"ts":…},…]`: each event's spooled canonical line with
    /// its `ts` added, nothing decoded or encoded again. Read through `cursor`: when `from`
    /// continues the cursor's last batch, reading goes on where it stopped. Nothing is appended
    /// when no event past `from` is. Blocking.
    pub fn read_batch(
        &self,
        cursor: &mut Cursor,
        from: u64,
        max_events: usize,
        max_bytes: usize,
        json: &mut Vec<u8>,
    ) -> io::Result<RawBatch> {
        let mut out = RawBatch {
            first: from,
            last: from.saturating_sub(1),
        };
        let start = json.len();
        let appended = lock(&self.meta).appended;
        if from > appended {
            return Ok(out);
        }
        if cursor.next_seq != from {
            // Not where the last batch ended (a resend, a skip): find `from` again.
            cursor.open = None;
            cursor.held = false;
            cursor.next_seq = from;
        }
        let mut count = 0;
        while count < max_events && cursor.next_seq <= appended {
            if cursor.open.is_none() {
                self.position(cursor, cursor.next_seq)?;
            }
            let (_, reader) = cursor.open.as_mut().expect("positioned");
            if !std::mem::take(&mut cursor.held) && !next_record(reader, &mut cursor.payload)? {
                // The end of this segment: the next sequence starts the next one.
                cursor.open = None;
                let seq = cursor.next_seq;
                let m = lock(&self.meta);
                if !m.segments.iter().any(|s| s.first == seq) {
                    return Err(invalid(format!(
                        "sequence {seq} is appended but not in the spool"
                    )));
                }
                continue;
            }
            let payload = &cursor.payload;
            let seq = cursor.next_seq;
            if payload.len() < 10 || payload_sequence(payload) != Some(seq) {
                return Err(invalid(format!(
                    "the spool record of sequence {seq} is damaged"
                )));
            }
            let line = &payload[8..];
            // `…}\n` → `…,"ts":<ts>}`
            let body = line
                .strip_suffix(b"}\n")
                .ok_or_else(|| invalid(format!("the spool record of sequence {seq} is damaged")))?;
            if count > 0 && json.len() - start + body.len() + 32 > max_bytes {
                // Kept for the next batch, which starts with it.
                cursor.held = true;
                break;
            }
            let ts = i64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
            json.push(if count == 0 { b'[' } else { b',' });
            json.extend_from_slice(body);
            json.extend_from_slice(b",\"ts\":");
            json.extend_from_slice(ts.to_string().as_bytes());
            json.push(b'}');
            out.last = seq;
            count += 1;
            cursor.next_seq = seq + 1;
        }
        if count > 0 {
            json.push(b']');
        }
        Ok(out)
    }

    /// Opens the segment holding `from` and reads up to its record.
    fn position(&self, cursor: &mut Cursor, from: u64) -> io::Result<()> {
        let (first, path) = {
            let m = lock(&self.meta);
            let seg = m
                .segments
                .iter()
                .rev()
                .find(|s| s.first <= from)
                .filter(|s| from <= s.last)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("sequence {from} is no longer in the spool"),
                    )
                })?;
            (seg.first, seg.path.clone())
        };
        let mut reader = io::BufReader::with_capacity(CURSOR_BUFFER, File::open(&path)?);
        cursor.held = false;
        let mut payload = std::mem::take(&mut cursor.payload);
        if !next_record(&mut reader, &mut payload)? || !is_header(&payload) {
            return Err(invalid(format!("{} has no header", path.display())));
        }
        let mut seq = first;
        while seq < from {
            // Skip by length: only the records before `from` of this segment.
            if !next_record(&mut reader, &mut payload)? {
                return Err(invalid(format!("{} ends before {from}", path.display())));
            }
            seq += 1;
        }
        cursor.payload = payload;
        cursor.open = Some((first, reader));
        cursor.next_seq = from;
        Ok(())
    }
}

impl Writer {
    /// The sequence the next staged event gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// Events staged or written so far and the SHA-256 of their canonical lines.
    pub fn digest(&self) -> (u64, String) {
        (self.digest.events(), self.digest.hex())
    }

    /// Bytes staged for the next [`Writer::commit`].
    pub fn staged(&self) -> usize {
        self.buf.len()
    }

    /// Spool bytes on disk plus what is staged.
    pub fn bytes(&self) -> u64 {
        self.spool.bytes() + self.buf.len() as u64
    }

    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    /// Number an event and stage it for the next [`Writer::commit`]. Returns its sequence.
    pub fn stage(&mut self, kind: EventKind, data: &Value, ts: i64) -> io::Result<u64> {
        if self.file.is_none() || self.seg_bytes + self.buf.len() as u64 >= SEGMENT_BYTES {
            self.rotate()?;
        }
        let sequence = self.next_seq;
        self.line.clear();
        canonical_line_of(data, sequence, kind.as_str(), &mut self.line);
        self.digest.push_line(&self.line);
        push_record(&mut self.buf, &[&ts.to_le_bytes(), &self.line]);
        self.next_seq += 1;
        Ok(sequence)
    }

    /// [`Writer::stage`] for one line of output (a JSON string as `data`), without building a
    /// `Value` for it.
    pub fn stage_line(&mut self, kind: EventKind, text: &str, ts: i64) -> io::Result<u64> {
        if self.file.is_none() || self.seg_bytes + self.buf.len() as u64 >= SEGMENT_BYTES {
            self.rotate()?;
        }
        let sequence = self.next_seq;
        self.line.clear();
        canonical_text_line(text, sequence, kind.as_str(), &mut self.line);
        self.digest.push_line(&self.line);
        push_record(&mut self.buf, &[&ts.to_le_bytes(), &self.line]);
        self.next_seq += 1;
        Ok(sequence)
    }

    /// Write the staged events with one `write` and one `fdatasync`, then offer them to the
    /// sender.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let file = self.file.as_mut().expect("stage opens a segment");
        file.write_all(&self.buf)?;
        file.sync_data()?;
        let written = self.buf.len() as u64;
        self.seg_bytes += written;
        self.buf.clear();
        {
            let mut m = lock(&self.spool.meta);
            m.appended = self.next_seq - 1;
            m.bytes += written;
            if let Some(s) = m.segments.back_mut() {
                s.last = self.next_seq - 1;
                s.bytes += written;
            }
        }
        self.spool.work.notify_one();
        Ok(())
    }

    /// Commit what is staged and start a new segment whose header holds the digest so far.
    fn rotate(&mut self) -> io::Result<()> {
        self.commit()?;
        let first = self.next_seq;
        let path = self.spool.dir.join(segment_name(first));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        let mut head = Vec::new();
        let state = format!("{first} {}\n", self.digest.save());
        push_record(&mut head, &[HEADER, state.as_bytes()]);
        file.write_all(&head)?;
        file.sync_data()?;
        sync_dir(&self.spool.dir)?;
        self.file = Some(file);
        self.seg_bytes = head.len() as u64;
        let mut m = lock(&self.spool.meta);
        m.bytes += head.len() as u64;
        m.segments.push_back(Segment {
            first,
            last: first - 1,
            path,
            bytes: head.len() as u64,
        });
        Ok(())
    }
}

/// The run's signing key, saved so `flush` can deliver without the token. Mode 0600.
pub fn save_run_key(run_dir: &Path, run_id: &str, key: &[u8; 32]) -> anyhow::Result<()> {
    let path = run_dir.join("run.key");
    let tmp = run_dir.join("run.key.tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(format!("{run_id} {}\n", hex::encode(key)).as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("create {}", path.display()))?;
    Ok(())
}

/// The key [`save_run_key`] saved for `run_id`.
pub fn load_run_key(run_dir: &Path, run_id: &str) -> anyhow::Result<[u8; 32]> {
    let path = run_dir.join("run.key");
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "read {} (flush needs the key a start of this run saved)",
            path.display()
        )
    })?;
    let (id, key) = text
        .trim()
        .split_once(' ')
        .context("the run key file is malformed")?;
    anyhow::ensure!(id == run_id, "{} belongs to run {id}", path.display());
    hex::decode(key)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .context("the run key file is malformed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_s_sequence_is_read_from_its_end_or_searched_for() {
        let rec = |line: &str| [&7i64.to_le_bytes()[..], line.as_bytes()].concat();
        for (line, want) in [
            (
                r#"{"data":"a:b \"sequence\":1","sequence":12,"type":"stdout"}"#,
                Some(12),
            ),
            (
                r#"{"data":{"sequence":5},"sequence":9,"type":"marker"}"#,
                Some(9),
            ),
            // Not the canonical order: found by the search all the same.
            (r#"{"sequence":3,"type":"stdout","data":"x:y"}"#, Some(3)),
            (r#"{"data":"no key","type":"stdout"}"#, None),
            (r#"{"data":"x"}"#, None),
        ] {
            assert_eq!(payload_sequence(&rec(line)), want, "{line}");
        }
    }

    fn stage_lines(w: &mut Writer, n: usize, text: &str) {
        for i in 0..n {
            w.stage(EventKind::Stdout, &json!(format!("{text} {i}")), 7)
                .unwrap();
        }
        w.commit().unwrap();
    }

    #[test]
    fn append_read_ack_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let spool_dir = dir.path().join("spool");
        let (spool, mut w, rec) = Spool::open(&spool_dir).unwrap();
        assert_eq!(rec.last_sequence, 0);
        stage_lines(&mut w, 5, "a");
        let got = spool.read(2, 2, 1 << 20).unwrap();
        assert_eq!(
            got.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(got[0].data, json!("a 1"));
        assert_eq!(got[0].ts, 7);
        spool.ack(3).unwrap();
        let (_, sha) = w.digest();
        drop((spool, w));

        let (spool, w, rec) = Spool::open(&spool_dir).unwrap();
        assert_eq!(
            rec,
            Recovered {
                last_sequence: 5,
                acked: 3,
                finished: false,
                truncated_bytes: 0
            }
        );
        assert_eq!(w.digest(), (5, sha));
        assert_eq!(spool.read(4, 10, 1 << 20).unwrap().len(), 2);
    }

    /// A spool written by a v1 runner (SHA-256 record checks, `#spool v1` header) is still read,
    /// repaired and continued: an upgrade in the middle of a run loses nothing.
    #[test]
    fn a_v1_spool_is_read_and_continued() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut w, _) = Spool::open(dir.path()).unwrap();
        stage_lines(&mut w, 3, "v");
        let (_, sha3) = w.digest();
        let seg = spool.dir().join(segment_name(1));
        drop((spool, w));
        // Rewrite every record as v1 wrote it.
        let buf = fs::read(&seg).unwrap();
        let mut v1 = Vec::new();
        let mut pos = 0;
        while let Some((payload, next)) = record_at(&buf, pos) {
            let payload = match payload.strip_prefix(HEADER) {
                Some(rest) => [HEADER_V1, rest].concat(),
                None => payload.to_vec(),
            };
            v1.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v1.extend_from_slice(&Sha256::digest(&payload)[..4]);
            v1.extend_from_slice(&payload);
            pos = next;
        }
        assert_eq!(pos, buf.len());
        fs::write(&seg, &v1[..v1.len() - 2]).unwrap(); // and tear its last record

        let (spool, mut w, rec) = Spool::open(dir.path()).unwrap();
        assert_eq!(rec.last_sequence, 2, "the torn third record is cut");
        w.stage(EventKind::Stdout, &json!("v 2"), 7).unwrap();
        w.commit().unwrap();
        assert_eq!(w.digest(), (3, sha3), "the digest goes on across formats");
        let mut body = Vec::new();
        let batch = spool
            .read_batch(&mut Cursor::default(), 1, 10, 1 << 20, &mut body)
            .unwrap();
        assert_eq!((batch.first, batch.last), (1, 3));
        let events: Vec<Event> = serde_json::from_slice(&body).unwrap();
        assert_eq!(events[2].data, json!("v 2"));
    }

    #[test]
    fn a_second_owner_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Spool::open(dir.path()).unwrap();
        let err = Spool::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another claude-runner"), "{err}");
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut w, _) = Spool::open(dir.path()).unwrap();
        stage_lines(&mut w, 3, "b");
        let seg = spool.dir().join(segment_name(1));
        let whole = fs::metadata(&seg).unwrap().len();
        drop((spool, w));
        for cut in [1u64, 5, 9, 20] {
            let f = OpenOptions::new().write(true).open(&seg).unwrap();
            f.set_len(whole - cut).unwrap();
            drop(f);
            let (spool, w, rec) = Spool::open(dir.path()).unwrap();
            assert_eq!(rec.last_sequence, 2, "cut {cut}");
            assert!(rec.truncated_bytes > 0);
            assert_eq!(w.next_sequence(), 3);
            drop((spool, w));
            // Put the third record back for the next cut.
            let (spool, mut w, _) = Spool::open(dir.path()).unwrap();
            w.stage(EventKind::Stdout, &json!("b 2"), 7).unwrap();
            w.commit().unwrap();
            drop((spool, w));
            assert_eq!(fs::metadata(&seg).unwrap().len(), whole);
        }
        // A flipped byte inside the last record fails its checksum the same way.
        let mut bytes = fs::read(&seg).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x20;
        fs::write(&seg, bytes).unwrap();
        let (_, _, rec) = Spool::open(dir.path()).unwrap();
        assert_eq!(rec.last_sequence, 2);
    }

    #[test]
    fn segments_rotate_and_acked_ones_are_deleted_keeping_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut w, _) = Spool::open(dir.path()).unwrap();
        let big = "x".repeat(16 * 1024);
        for _ in 0..3 {
            stage_lines(&mut w, 200, &big); // ~3.2 MiB per round
        }
        let segs = || {
            fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "seg")
                })
                .count()
        };
        assert!(segs() >= 2, "rotated");
        let all = spool.read(1, 10_000, usize::MAX).unwrap();
        assert_eq!(all.len(), 600);
        assert_eq!(w.digest().1, common::digest::stream_sha256(&all));
        spool.ack(599).unwrap();
        assert_eq!(segs(), 1, "only the newest segment stays");
        assert!(
            spool.read(1, 1, usize::MAX).is_err(),
            "deleted events cannot be read"
        );
        let (_, sha) = w.digest();
        drop((spool, w));
        let (_, w, rec) = Spool::open(dir.path()).unwrap();
        assert_eq!(rec.last_sequence, 600);
        assert_eq!(
            w.digest(),
            (600, sha),
            "the digest resumes from the segment header"
        );
    }

    /// `read_batch` from `from` into a fresh body, parsed back as events.
    fn batch(spool: &Spool, c: &mut Cursor, from: u64, max: usize, bytes: usize) -> Vec<Event> {
        let mut json = b"prefix".to_vec();
        let got = spool.read_batch(c, from, max, bytes, &mut json).unwrap();
        assert!(json.starts_with(b"prefix"));
        if got.is_empty() {
            assert_eq!(json, b"prefix");
            return Vec::new();
        }
        let events: Vec<Event> = serde_json::from_slice(&json[6..]).unwrap();
        assert_eq!(got.len(), events.len() as u64);
        assert_eq!(
            (got.first, got.last),
            (from, events.last().unwrap().sequence)
        );
        events
    }

    #[test]
    fn read_batch_continues_across_segments_resends_and_matches_read() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut w, _) = Spool::open(dir.path()).unwrap();
        let big = "y\t\"\u{1b}é".repeat(4 * 1024);
        for round in 0..3 {
            stage_lines(&mut w, 200, &format!("{round} {big}")); // ~3.3 MiB per round: rotates
        }
        w.stage(
            EventKind::Marker,
            &json!({"event": "x", "n": [1, {"b": 2, "a": 1}]}),
            -5,
        )
        .unwrap();
        w.commit().unwrap();
        let all = spool.read(1, 10_000, usize::MAX).unwrap();
        assert_eq!(all.len(), 601);
        let mut c = Cursor::default();
        let mut got = Vec::new();
        let mut from = 1;
        while from <= 601 {
            let b = batch(&spool, &mut c, from, 70, 1 << 20);
            assert!(!b.is_empty());
            from = b.last().unwrap().sequence + 1;
            got.extend(b);
        }
        assert_eq!(got, all, "batches in order equal the decoded spool");
        assert!(batch(&spool, &mut c, 602, 70, 1 << 20).is_empty());
        // A resend from earlier, a skip ahead, a single event past the byte bound.
        assert_eq!(batch(&spool, &mut c, 150, 3, 1 << 20), all[149..152]);
        assert_eq!(batch(&spool, &mut c, 500, 2, 1 << 20), all[499..501]);
        assert_eq!(batch(&spool, &mut c, 501, 10, 1), all[500..501]);
        // More appended after the cursor reached the end: it continues.
        assert_eq!(batch(&spool, &mut c, 600, 10, 1 << 20), all[599..601]);
        stage_lines(&mut w, 2, "late");
        let late = batch(&spool, &mut c, 602, 10, 1 << 20);
        assert_eq!(
            late.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [602, 603]
        );
        // Acknowledged segments are gone: reading them fails instead of skipping.
        spool.ack(599).unwrap();
        let mut json = Vec::new();
        assert!(
            spool
                .read_batch(&mut Cursor::default(), 1, 5, 1 << 20, &mut json)
                .is_err()
        );
    }

    #[test]
    fn the_acked_file_is_saved_at_most_once_a_second_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut w, _) = Spool::open(dir.path()).unwrap();
        stage_lines(&mut w, 5, "a");
        let saved = || fs::read_to_string(dir.path().join("acked")).unwrap();
        spool.ack(1).unwrap();
        spool.ack(2).unwrap();
        assert_eq!(saved(), "1\n", "the second within a second is not written");
        assert_eq!(spool.progress().1, 2, "but it counts");
        spool.save_ack().unwrap();
        assert_eq!(saved(), "2\n");
        spool.ack(4).unwrap();
        drop((spool, w));
        assert_eq!(saved(), "4\n", "dropping the spool saves it");
        let (_, _, rec) = Spool::open(dir.path()).unwrap();
        assert_eq!(rec.acked, 4);
    }

    #[test]
    fn the_run_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        save_run_key(dir.path(), "r_1", &[9; 32]).unwrap();
        let mode = fs::metadata(dir.path().join("run.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_run_key(dir.path(), "r_1").unwrap(), [9; 32]);
        assert!(load_run_key(dir.path(), "r_2").is_err());
    }
}
