//! The telemetry stream of a QEMU run, through the `hvmon` library.
//!
//! - [`run`]: `cargo xtask run` — QEMU's serial port on a unix socket that `hvmon`'s live view
//!   reads (TUI on a terminal, plain lines otherwise); the run ends when the last VM powers off
//!   (QEMU exits, the socket closes) or on Ctrl-C / `q`, with the monitor's summary line.
//! - [`decode_run`]: boots a system with a deadline and returns what the stream said (the
//!   integration tests judge runs by it).
//! - [`bench`]: `cargo xtask bench telemetry` — events/s without loss, cost of one event.
//!
//! With `telemetry-net` the serial port keeps text and the stream comes as UDP datagrams to
//! the host (QEMU user networking forwards the guest's 10.0.2.2 to the host's loopback): the
//! host end ([`UdpStream`]) is bound to 127.0.0.1:7777 before QEMU starts, so the hello is not
//! lost, and it ends once QEMU has exited and the socket has gone quiet. One run at a time
//! can use the port.
use std::collections::BTreeMap;
use std::io::Read;
use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hv_protocol::{Stats, TRAP_KINDS};
use hvmon::Summary;
use hvmon::elf::Elf;
use hvmon::info::Info;
use hvmon::source::Source;
use hvmon::view::state::HV_LOG;
use hvmon::view::{self, LiveOptions, LiveState};

use crate::firmware::{self, SystemImage, SystemSpec};
use crate::qemu;
use crate::toolchain::{HV_TARGET, Toolchain};

/// UDP port the `telemetry-net` transport sends to (host side of QEMU user networking).
pub const NET_PORT: u16 = 7777;

fn uses_net(img: &SystemImage) -> bool {
    img.spec.features.iter().any(|f| f == "telemetry-net")
        && !img.spec.features.iter().any(|f| f == "telemetry-null")
}

/// QEMU arguments of the virtio-net device the `telemetry-net` transport drives.
const NET_ARGS: [&str; 6] = [
    "-global",
    "virtio-mmio.force-legacy=false",
    "-netdev",
    "user,id=n0",
    "-device",
    "virtio-net-device,netdev=n0",
];

/// The host end of the `telemetry-net` transport as a byte stream for the monitor: each
/// datagram (whole frames) followed by a 0x00 delimiter, like `hvmon`'s `udp:` source. It
/// ends (`read` returns 0) once `done` is set (QEMU exited) and no datagram came for
/// [`UdpStream::QUIET`].
pub struct UdpStream {
    socket: UdpSocket,
    done: Arc<AtomicBool>,
    buf: Vec<u8>,
    pos: usize,
    /// Datagrams received.
    pub datagrams: u64,
}

impl UdpStream {
    const POLL: Duration = Duration::from_millis(50);
    const QUIET: Duration = Duration::from_millis(300);
    /// Bytes of socket receive buffer asked for: QEMU hands over up to 256 datagrams at a
    /// time, which overflow Linux's default (~200 KiB, ~90 small datagrams) whenever this
    /// process is descheduled — on a two-core host running QEMU, often.
    const RECV_BUFFER: usize = 8 << 20;

    /// Binds 127.0.0.1:[`NET_PORT`].
    pub fn bind(done: Arc<AtomicBool>) -> Result<Self> {
        let socket = UdpSocket::bind(("127.0.0.1", NET_PORT)).with_context(|| {
            format!("cannot bind UDP 127.0.0.1:{NET_PORT} for the telemetry-net stream (another run using it?)")
        })?;
        socket.set_read_timeout(Some(Self::POLL))?;
        set_recv_buffer(&socket, Self::RECV_BUFFER);
        Ok(UdpStream {
            socket,
            done,
            buf: Vec::new(),
            pos: 0,
            datagrams: 0,
        })
    }
}

/// Asks for a receive buffer of `bytes` (`SO_RCVBUF`, which the kernel caps at
/// `net.core.rmem_max`, 4 MiB on a default Linux, still twenty times its default); returns the
/// size the socket has then. Best effort: a refusal leaves the default.
fn set_recv_buffer(socket: &UdpSocket, bytes: usize) -> usize {
    let s = socket2::SockRef::from(socket);
    let _ = s.set_recv_buffer_size(bytes);
    s.recv_buffer_size().unwrap_or(0)
}

impl Read for UdpStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut quiet_since: Option<Instant> = None;
        while self.pos >= self.buf.len() {
            self.buf.resize(65_536, 0);
            match self.socket.recv(&mut self.buf) {
                Ok(n) => {
                    self.buf.truncate(n);
                    self.buf.push(0);
                    self.pos = 0;
                    self.datagrams += 1;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    self.buf.clear();
                    self.pos = 0;
                    if self.done.load(Ordering::Acquire) {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= Self::QUIET {
                            return Ok(0);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// `cargo xtask run`: QEMU plus the live monitor. Returns the exit status for the process:
/// QEMU's when it ended by itself (0 after the last VM's power-off), 130 when stopped.
///
/// On a terminal (and not under CI) the monitor's TUI shows the run and keeps its final view
/// until the user presses `q`; otherwise console lines are printed as they come and the
/// summary tables at the end. QEMU's own messages (its stderr) are kept out of the view and
/// shown only when QEMU fails.
pub fn run(
    img: &SystemImage,
    extra: &[String],
    record: Option<PathBuf>,
    plain: bool,
) -> Result<i32> {
    let elf = Elf::load(&img.elf.to_string_lossy()).ok();
    let tui = !plain && view::can_show_tui();
    let dir = img.elf.parent().unwrap_or(Path::new(".")).to_path_buf();
    let qemu_done = Arc::new(AtomicBool::new(false));
    let mut udp = None;
    let (mut cmd, source, serial_log) = if uses_net(img) {
        // The serial port keeps text: into a file, so it does not fight with the TUI.
        let log = dir.join("serial.log");
        let mut cmd = qemu::command_with_serial(img, &format!("file:{}", log.display()));
        cmd.args(NET_ARGS);
        udp = Some(UdpStream::bind(qemu_done.clone())?);
        (cmd, Source::Udp(format!("127.0.0.1:{NET_PORT}")), Some(log))
    } else {
        let sock = dir.join("serial.sock");
        let _ = std::fs::remove_file(&sock);
        let mut cmd = qemu::command_with_serial(img, "chardev:hvser");
        // QEMU waits for the monitor to connect before it starts the machine: no byte is lost.
        cmd.args([
            "-chardev",
            &format!("socket,id=hvser,path={},server=on,wait=on", sock.display()),
        ]);
        (cmd, Source::Unix(sock.display().to_string()), None)
    };
    cmd.args(extra);
    // Own process group: Ctrl-C goes to the monitor, which then stops QEMU. QEMU's stderr
    // ("waiting for connection", warnings) is collected, not shown over the view.
    cmd.stdin(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    eprintln!(
        "xtask: booting {} under QEMU{}",
        img.spec.label(),
        if tui { "" } else { " (Ctrl-C to stop)" }
    );
    if let Some(l) = &serial_log {
        eprintln!("xtask: serial output in {}", l.display());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", qemu::QEMU))?;
    let mut qemu_err = child.stderr.take().expect("piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = qemu_err.read_to_string(&mut s);
        s
    });
    // A watcher owns QEMU: it tells the stream (UDP) and the view when QEMU has exited, and
    // stops it when the user quits first.
    let quit = Arc::new(AtomicBool::new(false));
    let note = Arc::new(std::sync::Mutex::new(None::<String>));
    let watcher = {
        let (done, quit, note) = (qemu_done.clone(), quit.clone(), note.clone());
        std::thread::spawn(move || -> Result<Option<i32>> {
            loop {
                if let Some(st) = child.try_wait()? {
                    done.store(true, Ordering::Release);
                    if let Ok(mut n) = note.lock() {
                        *n = Some(match st.code() {
                            Some(0) => "run ended: every VM powered off, QEMU exited (0)".into(),
                            Some(c) => format!("run ended: QEMU exited with status {c}"),
                            None => format!("run ended: QEMU was stopped ({st})"),
                        });
                    }
                    return Ok(st.code());
                }
                if quit.load(Ordering::Acquire) {
                    return stop(&mut child);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let opts = || LiveOptions {
        record: record.clone(),
        tui,
        quiet: false,
        elf: elf.as_ref().and_then(|e| Elf::load(&e.path).ok()),
        stats_every: Duration::from_secs(5),
        linger: tui,
        end_note: Some(note.clone()),
        summary_at_end: !tui,
        input: None,
    };
    let session = match (&source, udp) {
        (_, Some(udp)) => view::run_reader(&source, Box::new(udp), opts()),
        (Source::Unix(p), _) => connect_when_ready(Path::new(p), &qemu_done).and_then(|sock| {
            // the socket's other direction is the UART's input: keys typed in the TUI
            let mut o = opts();
            o.input = Some(Box::new(sock.try_clone()?));
            view::run_reader(&source, Box::new(sock), o)
        }),
        _ => view::run(&source, opts()),
    };
    quit.store(true, Ordering::Release);
    let status = watcher
        .join()
        .map_err(|_| anyhow::anyhow!("the QEMU watcher panicked"))??;
    let qemu_stderr = err_thread.join().unwrap_or_default();
    let show_qemu = |why: &str| {
        let text = qemu_messages(&qemu_stderr);
        if !text.is_empty() {
            eprintln!("xtask: {why}; QEMU said:\n{text}");
        }
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            show_qemu("the monitor stopped");
            return Err(e);
        }
    };
    if status.is_some_and(|c| c != 0) {
        show_qemu(&format!("QEMU exited with status {}", status.unwrap_or(0)));
    }
    let summary = Summary::of(&session);
    eprintln!("hvmon: {}", summary.line());
    if let Some(r) = &record {
        eprintln!(
            "xtask: raw stream recorded to {} (replay: cargo run -p hvmon -- summary {})",
            r.display(),
            r.display()
        );
    }
    if !summary.clean() && status == Some(0) {
        return Ok(3);
    }
    Ok(status.unwrap_or(130))
}

/// QEMU's stderr without its expected chatter (the socket server's "waiting for connection").
fn qemu_messages(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.contains("waiting for connection") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Connects to QEMU's serial socket once it exists (retrying while it cannot connect yet).
fn connect_when_ready(
    sock: &Path,
    qemu_done: &AtomicBool,
) -> Result<std::os::unix::net::UnixStream> {
    let start = Instant::now();
    loop {
        if qemu_done.load(Ordering::Acquire) {
            bail!("QEMU exited before the monitor connected");
        }
        if sock.exists() {
            match std::os::unix::net::UnixStream::connect(sock) {
                Ok(s) => return Ok(s),
                Err(e) if start.elapsed() > Duration::from_secs(10) => {
                    return Err(e).with_context(|| format!("cannot connect to {}", sock.display()));
                }
                Err(_) => {}
            }
        }
        if start.elapsed() > Duration::from_secs(10) {
            bail!("QEMU did not open its serial socket {}", sock.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits briefly for QEMU to exit by itself (the power-off), else stops it. Returns its
/// status, or `None` when it had to be stopped.
fn stop(qemu: &mut Child) -> Result<Option<i32>> {
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        if let Some(st) = qemu.try_wait()? {
            return Ok(st.code());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = qemu.kill();
    let _ = qemu.wait();
    Ok(None)
}

/// What the telemetry stream of one bounded run said.
#[derive(Debug, Default)]
pub struct DecodedRun {
    /// The hello (None: none arrived).
    pub hello: Option<Info>,
    /// Console lines by VM name, in order.
    pub consoles: BTreeMap<String, Vec<String>>,
    /// Console records that ended without a newline (sent before their line ended), by VM
    /// name, in order.
    pub partials: BTreeMap<String, Vec<String>>,
    /// The hypervisor's log lines (defmt frames decoded with the image's ELF).
    pub log: Vec<String>,
    /// `Switch` records received (all CPUs).
    pub switches_seen: u64,
    /// Switches the hypervisor counted itself (sum of each CPU's last `Counters`); None when
    /// no CPU sent `Counters`.
    pub switches_reported: Option<u64>,
    /// `Trap` records received, by `TrapKind as usize`.
    pub traps_seen: [u64; TRAP_KINDS],
    /// Traps the hypervisor counted itself (last `Counters` of each CPU, summed).
    pub traps_reported: Option<[u64; TRAP_KINDS]>,
    /// `Hypercall` records received.
    pub hypercalls: u64,
    /// Records received.
    pub records: u64,
    /// CPUs that sent records.
    pub cpus_with_records: usize,
    /// (VM name, reason) of every `VmExit`, in order.
    pub vm_exits: Vec<(String, String)>,
    /// Every `Elastic` record (VM name, pool, from, to), in order.
    pub elastic: Vec<(String, u16, u32, u32)>,
    /// Every `Migrated` record (vCPU, from CPU, to CPU, cause), in time order (the CPUs'
    /// streams interleave as they arrive; the counter they stamp with is global).
    pub migrations: Vec<(u16, u16, u16, &'static str)>,
    /// `Shadow` records per (lwVM name, operation name).
    pub shadow: BTreeMap<(String, &'static str), u64>,
    /// Records the hypervisor reported as dropped (`Dropped`).
    pub dropped: u64,
    /// Records lost in transport (sequence gaps).
    pub seq_lost: u64,
    /// Frames that did not decode.
    pub decode_errors: u64,
    /// All decoder counters.
    pub stats: Stats,
    /// First to last record timestamp, in nanoseconds.
    pub span_ns: u64,
    /// The monitor's summary line.
    pub summary: String,
    /// QEMU's exit status (None: killed at the deadline).
    pub status: Option<i32>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// What QEMU printed on stderr.
    pub qemu_stderr: String,
    /// The serial port's text when the stream came over UDP (`telemetry-net`).
    pub serial: String,
}

impl DecodedRun {
    /// Lines VM `vm` printed.
    pub fn lines(&self, vm: &str) -> &[String] {
        self.consoles.get(vm).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether nothing was lost or damaged.
    pub fn clean(&self) -> bool {
        self.dropped == 0 && self.seq_lost == 0 && self.decode_errors == 0
    }
}

/// Boots `img` under QEMU (`extra` QEMU arguments appended), feeds the telemetry stream to
/// the monitor library until QEMU exits or `timeout` passes, and returns what it decoded. The
/// stream is the serial port (`telemetry-uart`, the default features) or, for images with
/// `telemetry-net`, the UDP datagrams on 127.0.0.1:7777 (QEMU gets the virtio-net device; the
/// serial port's text lands in [`DecodedRun::serial`]).
pub fn decode_run(img: &SystemImage, timeout: Duration) -> Result<DecodedRun> {
    decode_run_with(img, timeout, &[])
}

/// [`decode_run`] with extra QEMU arguments (e.g. `-icount`).
pub fn decode_run_with(img: &SystemImage, timeout: Duration, extra: &[&str]) -> Result<DecodedRun> {
    let elf = Elf::load(&img.elf.to_string_lossy())
        .with_context(|| format!("reading {}", img.elf.display()))?;
    let net = uses_net(img);
    let qemu_done = Arc::new(AtomicBool::new(false));
    // Bound before QEMU starts: the hello is the first datagram.
    let udp = if net {
        Some(UdpStream::bind(qemu_done.clone())?)
    } else {
        None
    };
    let mut cmd = qemu::base_command(img);
    if net {
        cmd.args(NET_ARGS);
    }
    cmd.args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", qemu::QEMU))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (stream, serial_thread): (Box<dyn Read + Send>, _) = match udp {
        Some(udp) => {
            let mut stdout = stdout;
            let serial = std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = stdout.read_to_end(&mut s);
                String::from_utf8_lossy(&s).into_owned()
            });
            (Box::new(udp), Some(serial))
        }
        None => (Box::new(stdout), None),
    };
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut stream = stream;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut state = LiveState::new(Some(elf));
    let mut run = DecodedRun::default();
    let mut fresh = Vec::new();
    let mut killed = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(chunk) => state.feed(&chunk)?,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        fresh.append(&mut state.fresh);
        if !killed && start.elapsed() > timeout {
            let _ = child.kill();
            killed = true;
        }
        // The UDP stream ends once it knows QEMU has gone (the serial port ends by itself).
        if net && !qemu_done.load(Ordering::Relaxed) && child.try_wait()?.is_some() {
            qemu_done.store(true, Ordering::Release);
        }
    }
    let status = child.wait()?;
    run.elapsed = start.elapsed();
    run.status = if killed { None } else { status.code() };
    state.finish();
    fresh.append(&mut state.fresh);
    run.qemu_stderr = err_thread.join().unwrap_or_default();
    if let Some(t) = serial_thread {
        run.serial = t.join().unwrap_or_default();
    }

    let info = state.session.info().cloned();
    for (vm, text) in std::mem::take(&mut state.partial_records) {
        let name = info.as_ref().map_or(format!("vm{vm}"), |i| i.vm_name(vm));
        run.partials.entry(name).or_default().push(text);
    }
    for (vm, line) in fresh {
        if vm == HV_LOG {
            run.log.push(line);
        } else {
            let name = info.as_ref().map_or(format!("vm{vm}"), |i| i.vm_name(vm));
            run.consoles.entry(name).or_default().push(line);
        }
    }
    let m = &state.session.metrics;
    run.switches_seen = m.cpus.values().map(|c| c.switches).sum();
    run.traps_seen = m.traps_total();
    run.hypercalls = m.cpus.values().map(|c| c.hypercalls).sum();
    run.records = m.cpus.values().map(|c| c.records).sum();
    run.cpus_with_records = m.cpus.values().filter(|c| c.records > 0).count();
    let reported: Vec<_> = m.cpus.values().filter_map(|c| c.reported).collect();
    if !reported.is_empty() {
        run.switches_reported = Some(reported.iter().map(|r| u64::from(r.1)).sum());
        let mut t = [0u64; TRAP_KINDS];
        for r in &reported {
            for (a, b) in t.iter_mut().zip(r.0) {
                *a += u64::from(b);
            }
        }
        run.traps_reported = Some(t);
    }
    run.vm_exits = m
        .vm_exits
        .iter()
        .map(|e| {
            (
                info.as_ref()
                    .map_or(format!("vm{}", e.vm), |i| i.vm_name(e.vm)),
                e.reason.to_string(),
            )
        })
        .collect();
    run.elastic = m
        .elastic
        .iter()
        .map(|e| {
            let name = info
                .as_ref()
                .map_or(format!("vm{}", e.vm), |i| i.vm_name(e.vm));
            (name, e.pool, e.from, e.to)
        })
        .collect();
    let mut moves = m.migrations.clone();
    moves.sort_by_key(|x| x.ts);
    run.migrations = moves
        .iter()
        .map(|x| (x.vcpu, x.from, x.to, x.cause))
        .collect();
    run.shadow = m
        .shadow_ops
        .iter()
        .map(|(&(vm, op), &n)| {
            let name = info.as_ref().map_or(format!("vm{vm}"), |i| i.vm_name(vm));
            ((name, op), n)
        })
        .collect();
    let stats = state.session.stats().clone();
    run.dropped = stats.dropped_reported;
    run.seq_lost = stats.seq_lost;
    run.decode_errors = stats.decode_errors;
    let summary = Summary::of(&state.session);
    run.span_ns = summary.span_ns;
    run.summary = summary.line();
    run.stats = stats;
    run.hello = info;
    Ok(run)
}

/// Builds the hypervisor of `spec` without default features (no telemetry: the baseline of
/// the benchmark). Guests must be built.
fn build_hv_without_telemetry(tc: &Toolchain, spec: &SystemSpec) -> Result<SystemImage> {
    let mut cmd = tc.cargo_build(HV_TARGET);
    cmd.args(["-p", "hv", "--no-default-features"])
        .env(
            "HV_BOARD",
            crate::paths::root()
                .join("boards")
                .join(&spec.board)
                .join("board.toml"),
        )
        .env("HV_SYSTEM", &spec.system)
        .env("HV_IMAGES_DIR", firmware::guest_images_dir());
    if !cmd.status()?.success() {
        bail!("building the hypervisor without telemetry failed");
    }
    let built = crate::paths::firmware_target()
        .join(HV_TARGET)
        .join("release")
        .join("hv");
    let dir = crate::paths::images()
        .join(&spec.board)
        .join(format!("{}+no-telemetry", spec.label()));
    std::fs::create_dir_all(&dir)?;
    let elf = dir.join("hv.elf");
    std::fs::copy(&built, &elf)?;
    Ok(SystemImage {
        elf,
        spec: spec.clone(),
    })
}

/// Mean counter ticks per hypercall over the rounds the tmbench guest printed
/// (`tmbench: round R: N calls in T ticks`), as text or in `Console` records.
fn ticks_per_call(lines: &[String]) -> Option<f64> {
    let mut calls = 0u64;
    let mut ticks = 0u64;
    for l in lines {
        let Some(rest) = l.split(": ").nth(2) else {
            continue;
        };
        let w: Vec<&str> = rest.split_whitespace().collect();
        if let [n, "calls", "in", t, "ticks"] = w[..] {
            calls += n.parse::<u64>().ok()?;
            ticks += t.parse::<u64>().ok()?;
        }
    }
    (calls > 0).then(|| ticks as f64 / calls as f64)
}

/// Lines of the tmbench VM from a text run (`[tmbench] …` on the serial port).
fn text_lines(out: &str, vm: &str) -> Vec<String> {
    let tag = format!("[{vm}] ");
    out.lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix(tag.as_str()))
        .map(String::from)
        .collect()
}

/// `cargo xtask bench telemetry`: prints
/// - sustained events/s over the UART and over UDP (`telemetry-net`) on one CPU, and with four
///   CPUs sharing the transport (and losses); "lossless" when no record was dropped or lost;
/// - instructions per hypercall without telemetry, with events encoded and discarded
///   (`telemetry-null`), with the UART and with the UDP transport, under
///   `-icount shift=0,sleep=off` (one instruction per ns, the counter ticks every 16
///   instructions); each hypercall produces two records (`Trap`, `Hypercall`), so the emit
///   cost per event is half the difference between the first two, the send cost half the
///   difference between a transport and `telemetry-null`.
pub fn bench(what: &str) -> Result<()> {
    if what != "telemetry" {
        bail!("unknown benchmark `{what}` (known: telemetry)");
    }
    qemu::ensure_installed()?;
    let tc = Toolchain::detect_or_install()?;
    firmware::build_guests(&tc)?;
    let icount = ["-icount", "shift=0,sleep=off"];
    let timeout = Duration::from_secs(120);

    // The stream must be right before its figures mean anything.
    for case in crate::itest_telemetry::cases() {
        let img = firmware::build_hv(
            &tc,
            &SystemSpec::new("qemu-virt", case.system, case.features),
        )?;
        case.run(&img)
            .with_context(|| format!("test qemu::{}", case.name))?;
        println!("test qemu::{} ... ok", case.name);
    }

    // Rates in counter time depend on how busy the host is: best of a few runs, and the
    // losses of the worst.
    const RUNS: usize = 3;
    let mut one_cpu = Vec::new();
    for (transport, features) in [("uart", ""), ("udp", "telemetry-net")] {
        let one = firmware::build_hv(&tc, &SystemSpec::new("qemu-virt", "tmbench", features))?;
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            let r = decode_run(&one, timeout)?;
            check_bench_run(&r, "tmbench")?;
            runs.push(r);
        }
        let rate = |r: &DecodedRun| r.records as f64 / (r.span_ns as f64 / 1e9);
        let best = runs
            .iter()
            .max_by(|a, b| rate(a).total_cmp(&rate(b)))
            .expect("runs");
        let lost = runs.iter().map(|r| r.seq_lost).max().unwrap_or(0);
        let dropped = runs.iter().map(|r| r.dropped).max().unwrap_or(0);
        println!(
            "{transport:<4}, 1 CPU:  {:>8.0} events/s sustained (best of {RUNS}: {} records in {:.3} s of counter time), lost {lost}, dropped {dropped}{}",
            rate(best),
            best.records,
            best.span_ns as f64 / 1e9,
            if runs.iter().all(DecodedRun::clean) {
                " — lossless"
            } else {
                ""
            }
        );
        let four = firmware::build_hv(&tc, &SystemSpec::new("qemu-virt", "tmbench4", features))?;
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            runs.push(decode_run(&four, timeout)?);
        }
        let r4 = runs
            .iter()
            .max_by(|a, b| rate(a).total_cmp(&rate(b)))
            .expect("runs");
        let offered = r4.records + r4.dropped;
        println!(
            "{transport:<4}, 4 CPUs: {:>8.0} events/s delivered (best of {RUNS}), {} of {} records dropped by full rings ({:.1}%), lost in transport {}",
            rate(r4),
            r4.dropped,
            offered,
            100.0 * r4.dropped as f64 / offered.max(1) as f64,
            r4.seq_lost
        );
        one_cpu.push(one);
    }

    let spec = SystemSpec::new("qemu-virt", "tmbench", "");
    let off = build_hv_without_telemetry(&tc, &spec)?;
    let o = qemu::run_bounded(
        {
            let mut c = qemu::base_command(&off);
            c.args(icount);
            c
        },
        timeout,
        None,
    )?;
    let t_off = ticks_per_call(&text_lines(&o.output, "tmbench"))
        .context("no tmbench rounds in the run without telemetry")?;
    let null = firmware::build_hv(
        &tc,
        &SystemSpec::new("qemu-virt", "tmbench", "telemetry-null"),
    )?;
    let o = qemu::run_bounded(
        {
            let mut c = qemu::base_command(&null);
            c.args(icount);
            c
        },
        timeout,
        None,
    )?;
    let t_null = ticks_per_call(&text_lines(&o.output, "tmbench"))
        .context("no tmbench rounds in the telemetry-null run")?;
    let u = decode_run_with(&one_cpu[0], timeout, &icount)?;
    let t_uart = ticks_per_call(u.lines("tmbench"))
        .context("no tmbench rounds in the telemetry-uart run")?;
    let n = decode_run_with(&one_cpu[1], timeout, &icount)?;
    let t_net =
        ticks_per_call(n.lines("tmbench")).context("no tmbench rounds in the telemetry-net run")?;
    let insns = |t: f64| t * 16.0;
    println!(
        "instructions per hypercall (icount): {:.0} without telemetry, {:.0} with events discarded, {:.0} with the UART, {:.0} with UDP",
        insns(t_off),
        insns(t_null),
        insns(t_uart),
        insns(t_net)
    );
    println!(
        "cost of one event: {:.0} instructions to emit (encode + ring), {:.0} more to send it on the UART, {:.0} more over UDP (2 events per hypercall)",
        (insns(t_null) - insns(t_off)) / 2.0,
        (insns(t_uart) - insns(t_null)) / 2.0,
        (insns(t_net) - insns(t_null)) / 2.0
    );
    Ok(())
}

fn check_bench_run(r: &DecodedRun, vm: &str) -> Result<()> {
    if r.hello.is_none() || r.status != Some(0) {
        bail!(
            "benchmark run failed (status {:?}): {}\n{}",
            r.status,
            r.summary,
            r.qemu_stderr
        );
    }
    if ticks_per_call(r.lines(vm)).is_none() {
        bail!("VM {vm} printed no rounds: {:?}", r.lines(vm));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receive_buffer_grows() {
        let socket = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        let before = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        let after = set_recv_buffer(&socket, UdpStream::RECV_BUFFER);
        assert!(after >= before, "{after} < {before}");
        // the kernel reports twice what it grants; it grants at least the default
        assert!(after > 0);
    }
}
