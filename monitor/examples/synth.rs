//! A synthetic telemetry stream on stdout, for trying hvmon without a hypervisor:
//! `cargo run -p hvmon --example synth -- 20000 | cargo run -p hvmon -- live -`
//! (optional second argument: microseconds to sleep between records, to watch the live view).

use std::io::Write;

use hv_protocol::*;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let pause: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let hello = Hello::new(
        0x5EED,
        0xC0F,
        62_500_000,
        2,
        "synthetic",
        "linux,rtos",
        &[0, 0, 1],
    );
    let mut out = std::io::stdout().lock();
    out.write_all(&frame_to_vec(&Frame::Hello(hello)))?;
    let mut seqs = [CpuSeq::new(0), CpuSeq::new(1)];
    let mut rng = 0x1234_5678u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut ts = [1000u64, 1000];
    let mut running = [0u16, 2];
    for i in 0..n {
        let cpu = (i % 2) as usize;
        ts[cpu] += 50 + next() % 400;
        let r = next();
        let vcpu = running[cpu];
        let e = match r % 10 {
            0 | 1 => {
                let to = if cpu == 0 { (vcpu + 1) % 2 } else { 2 };
                running[cpu] = to;
                Event::Switch {
                    from: Some(vcpu),
                    to: Some(to),
                    reason: SwitchReason::Slot,
                }
            }
            2 => Event::IrqInjected {
                vcpu,
                intid: 27,
                latency_ticks: 20 + (next() % 60) as u32,
            },
            3 if i % 20 == 3 => Event::Console {
                vm: cpu as u16,
                bytes: b"tick from the guest\n",
            },
            4 if i % 500 == 4 => Event::Counters {
                traps_by_kind: [i as u32; 7],
                switches: i as u32,
                injected: 1,
            },
            _ => {
                let kind = TrapKind::ALL[(next() % 7) as usize];
                Event::Trap {
                    vcpu,
                    kind,
                    duration_ticks: 30 + (next() % 200) as u32,
                }
            }
        };
        let h = seqs[cpu].next_header(ts[cpu]);
        out.write_all(&frame_to_vec(&Frame::Record(h, e)))?;
        if pause > 0 {
            out.flush()?;
            std::thread::sleep(std::time::Duration::from_micros(pause));
        }
    }
    Ok(())
}
