//! Starting QEMU with a system image.
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::firmware::SystemImage;
use crate::toolchain::{ensure_apt_packages, which};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-aarch64";

/// Installs QEMU (Debian's qemu-system-arm) if it is missing.
pub fn ensure_installed() -> Result<()> {
    if !which(QEMU) {
        ensure_apt_packages(&["qemu-system-arm"], "QEMU (qemu-system-aarch64)", false)?;
    }
    Ok(())
}

/// The machine every system of the `qemu-virt` board runs on.
pub fn base_command(img: &SystemImage) -> Command {
    command_with_serial(img, "stdio")
}

/// [`base_command`] with the serial port on `serial` (a QEMU `-serial` device, e.g.
/// `chardev:ID` or `file:PATH`).
pub fn command_with_serial(img: &SystemImage, serial: &str) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args([
        "-M",
        "virt,virtualization=on,gic-version=3",
        "-cpu",
        "max,pauth-impdef=on",
        "-smp",
        "4",
        "-m",
        "1G",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        serial,
        "-no-reboot",
        "-kernel",
    ])
    .arg(&img.elf);
    if let Some(disk) = passthrough_disk(img) {
        let drive = format!(
            "file={},if=none,format=raw,readonly=on,id=hvdisk",
            disk.display()
        );
        cmd.args([
            "-drive",
            &drive,
            "-device",
            "virtio-blk-device,drive=hvdisk",
        ]);
    }
    cmd
}

/// The device a system that gives `virtio-mmio-3` (the page of the top slot) to a VM
/// finds there: a virtio-blk disk, QEMU's first `-device` taking the top slot. The disk
/// (`passthrough.img` beside the image) is an ext2 file system labelled `hvdisk` holding
/// `hello.txt` ([`DISK_TEXT`]), made with e2fsprogs' `mke2fs -d`. `None` for other
/// systems, or with a warning if the disk cannot be made.
fn passthrough_disk(img: &SystemImage) -> Option<PathBuf> {
    let text = std::fs::read_to_string(&img.spec.system).ok()?;
    if !text.contains("\"virtio-mmio-3\"") {
        return None;
    }
    let dir = img.elf.parent()?;
    let disk = dir.join("passthrough.img");
    let made = (|| -> Result<()> {
        let files = dir.join("passthrough.d");
        std::fs::create_dir_all(&files)?;
        std::fs::write(files.join("hello.txt"), DISK_TEXT)?;
        let _ = std::fs::remove_file(&disk);
        let find = || {
            ["mke2fs", "/usr/sbin/mke2fs", "/sbin/mke2fs"]
                .into_iter()
                .find(|m| Command::new(m).arg("-V").output().is_ok())
        };
        if find().is_none() {
            ensure_apt_packages(
                &["e2fsprogs"],
                "e2fsprogs (to make the passthrough disk)",
                false,
            )?;
        }
        let mke2fs =
            find().ok_or_else(|| anyhow::anyhow!("mke2fs not found (Debian package e2fsprogs)"))?;
        let out = Command::new(mke2fs)
            .args(["-q", "-F", "-t", "ext2", "-L", "hvdisk", "-d"])
            .arg(&files)
            .arg(&disk)
            .arg("4M")
            .output()?;
        if !out.status.success() {
            anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    })();
    match made {
        Ok(()) => Some(disk),
        Err(e) => {
            eprintln!(
                "xtask: no passthrough disk for {}: {e:#}",
                img.spec.system.display()
            );
            None
        }
    }
}

/// The file the passthrough disk holds; the Linux case reads it back.
pub const DISK_TEXT: &str = "read back through a passed-through virtio-blk device\n";

/// Boots interactively: the console is the terminal; Ctrl-C stops QEMU. Returns QEMU's
/// exit status.
pub fn run_interactive(img: &SystemImage, extra: &[String]) -> Result<i32> {
    let mut cmd = base_command(img);
    cmd.args(extra);
    eprintln!(
        "xtask: booting {} under QEMU (Ctrl-C to stop)",
        img.elf.display()
    );
    // Ctrl-C reaches QEMU too (same process group); we only wait for it to exit.
    let _ = ctrlc::set_handler(|| {});
    let status = cmd.status().with_context(|| format!("starting {QEMU}"))?;
    Ok(status.code().unwrap_or(130))
}

/// The outcome of a bounded QEMU run.
pub struct Outcome {
    /// Everything the serial port printed.
    pub output: String,
    /// QEMU's exit code, or `None` if it was killed at the deadline.
    pub status: Option<i32>,
    /// Wall time until exit (or the deadline).
    pub elapsed: Duration,
    /// Wall time until the first line containing the `first_line` marker, if any.
    pub first_line: Option<Duration>,
}

/// Runs QEMU non-interactively, collecting the serial output; kills it after `timeout`.
pub fn run_bounded(cmd: Command, timeout: Duration, marker: Option<&str>) -> Result<Outcome> {
    run_scripted(cmd, timeout, marker, &[])
}

/// Like [`run_bounded`], typing on the serial console: each `(wait_for, send)` step waits
/// until the output contains `wait_for` (after the previous step's match), then writes
/// `send` to QEMU's standard input.
pub fn run_scripted(
    mut cmd: Command,
    timeout: Duration,
    marker: Option<&str>,
    script: &[(&str, &str)],
) -> Result<Outcome> {
    cmd.stdin(if script.is_empty() {
        Stdio::null()
    } else {
        Stdio::piped()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {QEMU}"))?;
    let mut stdin = child.stdin.take();
    let mut step = 0;
    let mut searched_from = 0;
    let mut stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let mut first_line = None;
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            out.extend_from_slice(&chunk);
        }
        if step < script.len() {
            let text = String::from_utf8_lossy(&out[searched_from..]).into_owned();
            if let Some(i) = text.find(script[step].0) {
                if let Some(w) = stdin.as_mut() {
                    use std::io::Write;
                    let _ = w.write_all(script[step].1.as_bytes());
                    let _ = w.flush();
                }
                searched_from += i + script[step].0.len();
                step += 1;
            }
        }
        if first_line.is_none() && marker.is_some_and(|m| String::from_utf8_lossy(&out).contains(m))
        {
            first_line = Some(start.elapsed());
        }
        if let Some(st) = child.try_wait()? {
            break st.code();
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    // Drain what the reader thread still holds.
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
        out.extend_from_slice(&chunk);
    }
    if let Some(mut e) = child.stderr.take() {
        let mut s = Vec::new();
        let _ = e.read_to_end(&mut s);
        out.extend_from_slice(&s);
    }
    Ok(Outcome {
        output: String::from_utf8_lossy(&out).into_owned(),
        status,
        elapsed,
        first_line,
    })
}
