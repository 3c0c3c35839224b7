//! Transport `telemetry-net`: frames as UDP datagrams from 10.0.2.15 to 10.0.2.2:7777 (QEMU
//! user networking delivers them to the host's 127.0.0.1:7777) through the board's virtio-net
//! device; the UART shows text again.
//!
//! One CPU at a time drives the device: whichever holds the transport lock (the caller of
//! [`drain`]). It sends the rings of *every* CPU — each ring is single-producer (its CPU) and
//! drained by one consumer at a time (the lock holder), see `hv_telemetry::Ring` — so a CPU
//! that finds the transport busy loses nothing: the holder takes its frames along. A datagram
//! carries whole frames (up to 1472 bytes, frames of several CPUs mixed); the monitor reads
//! each datagram as a run of frames.
//!
//! Batching: a datagram costs a trip through smoltcp and the device, so [`due`] asks for a
//! drain only when a datagram's worth is waiting or the oldest bytes have waited a
//! millisecond; idle CPUs and the power-off drain everything. Backpressure instead of loss:
//! while some ring is more than half full, the holder polls the device until it takes more
//! (bounded by [`STALL_MS`]), and a CPU whose ring is over half full waits for the transport
//! instead of skipping it ([`must_wait`]), so the stream stays lossless as long as the device
//! keeps up on average.
//!
//! Polling only: smoltcp's interface (static IP, ARP for the gateway) runs when the holder
//! drains; the device's interrupts stay off. No virtio-net device (or no virtio-mmio slots on
//! the board): one text line on the UART, and the frames are discarded.
mod virtio;

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use hv_telemetry::{Ring, pack};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address};

use hv_arch::cpu;
use virtio::NetDevice;

/// Our address, the host's (the QEMU user network's gateway) and the monitor's port.
const LOCAL: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
pub const PORT: u16 = 7777;

/// Largest UDP payload in one 1500-byte IPv4 packet (no fragmentation).
const DATAGRAM: usize = 1500 - 20 - 8;
/// Datagrams the UDP socket holds before the device takes them.
const SOCKET_PACKETS: usize = 16;
/// A CPU asks for a drain from the run loop once this much waits in its ring.
const BATCH: usize = 1024;
/// ...or once its oldest bytes have waited this long (counter ticks = frequency / this).
const MAX_DELAY_PER_SECOND: u64 = 1000;
/// Longest the holder polls a stalled device, waiting for room (ms), before it gives up
/// (the rings then fill and drop, which the stream reports).
const STALL_MS: u64 = 5;
/// Longest a blocking drain (idle, power-off) or the final flush waits (ms).
const BLOCK_MS: u64 = 50;

/// Counter value of the last drain.
static LAST_DRAIN: AtomicU64 = AtomicU64::new(0);

/// What the lock holder works with.
enum State {
    /// Not probed yet (the first drain — CPU 0's hello — probes).
    Unprobed,
    /// No device: frames are discarded.
    Absent,
    Up(Net),
}

struct Net {
    dev: NetDevice,
    iface: Interface,
    sockets: SocketSet<'static>,
    udp: SocketHandle,
}

struct StateCell(UnsafeCell<State>);

// SAFETY: only the holder of the transport lock (`TRANSPORT_BUSY`, taken by every caller of
// this module's functions) touches the state.
unsafe impl Sync for StateCell {}

static STATE: StateCell = StateCell(UnsafeCell::new(State::Unprobed));

/// The socket's storage, lent to smoltcp once.
struct SocketMem {
    sockets: [SocketStorage<'static>; 1],
    tx_meta: [udp::PacketMetadata; SOCKET_PACKETS],
    tx_data: [u8; SOCKET_PACKETS * DATAGRAM],
    rx_meta: [udp::PacketMetadata; 1],
    rx_data: [u8; 64],
}

struct SocketCell(UnsafeCell<SocketMem>);

// SAFETY: borrowed once, when the device comes up (under the transport lock).
unsafe impl Sync for SocketCell {}

static SOCKET_MEM: SocketCell = SocketCell(UnsafeCell::new(SocketMem {
    sockets: [SocketStorage::EMPTY; 1],
    tx_meta: [udp::PacketMetadata::EMPTY; SOCKET_PACKETS],
    tx_data: [0; SOCKET_PACKETS * DATAGRAM],
    rx_meta: [udp::PacketMetadata::EMPTY; 1],
    rx_data: [0; 64],
}));

/// The state.
///
/// # Safety
/// The caller holds the transport lock, and holds no other reference from this function.
unsafe fn state() -> &'static mut State {
    // SAFETY: by the contract, the lock holder is the only user.
    unsafe { &mut *STATE.0.get() }
}

fn now_ticks() -> u64 {
    cpu::counter()
}

fn ms(n: u64) -> u64 {
    cpu::counter_frequency() / 1000 * n
}

fn instant(ticks: u64) -> Instant {
    let us = (ticks as u128 * 1_000_000 / cpu::counter_frequency().max(1) as u128) as i64;
    Instant::from_micros(us)
}

/// Probes and brings up the device and the interface (first call only).
fn bring_up(s: &mut State) {
    if !matches!(s, State::Unprobed) {
        return;
    }
    *s = State::Absent;
    let Some(mut dev) = virtio::probe() else {
        note(b"telemetry-net: no virtio-net device on the virtio-mmio bus; telemetry is discarded");
        return;
    };
    let now = instant(now_ticks());
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(dev.mac())));
    config.random_seed = now_ticks();
    let mut iface = Interface::new(config, &mut dev, now);
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::Ipv4(LOCAL), 24));
    });
    let _ = iface.routes_mut().add_default_ipv4_route(GATEWAY);
    // SAFETY: this runs once (the state leaves `Unprobed` above), under the transport lock;
    // nothing else refers to SOCKET_MEM.
    let mem = unsafe { &mut *SOCKET_MEM.0.get() };
    let tx = udp::PacketBuffer::new(&mut mem.tx_meta[..], &mut mem.tx_data[..]);
    let rx = udp::PacketBuffer::new(&mut mem.rx_meta[..], &mut mem.rx_data[..]);
    let mut socket = udp::Socket::new(rx, tx);
    if socket.bind(PORT).is_err() {
        return;
    }
    let mut sockets = SocketSet::new(&mut mem.sockets[..]);
    let udp = sockets.add(socket);
    *s = State::Up(Net {
        dev,
        iface,
        sockets,
        udp,
    });
    note(b"telemetry-net: UDP from 10.0.2.15 to 10.0.2.2:7777 through virtio-net");
}

/// One text line on the UART (`hv: …`).
fn note(line: &[u8]) {
    super::super::super::textout::write_line(b"hv: ", line);
}

impl Net {
    /// Lets smoltcp receive (ARP) and hand queued datagrams to the device.
    fn poll(&mut self) {
        self.dev.service();
        self.iface
            .poll(instant(now_ticks()), &mut self.dev, &mut self.sockets);
    }

    /// Moves whole frames from the rings into datagrams while the socket has room; returns
    /// whether it moved anything. `first` is drained first (the caller's ring).
    fn fill<const N: usize>(&mut self, rings: &[Ring<N>], first: usize) -> bool {
        let socket = self.sockets.get_mut::<udp::Socket>(self.udp);
        let to = IpEndpoint::new(IpAddress::Ipv4(GATEWAY), PORT);
        let mut moved = false;
        while rings.iter().any(|r| !r.is_empty()) && socket.can_send() {
            // `send_with` calls the closure only once the datagram has its room.
            let sent = socket.send_with(DATAGRAM, to, |buf| pack(rings, first, buf));
            match sent {
                Ok(n) if n > 0 => moved = true,
                _ => break,
            }
        }
        moved
    }

    /// Datagrams not yet handed to the device.
    fn queued(&mut self) -> usize {
        self.sockets.get_mut::<udp::Socket>(self.udp).send_queue()
    }
}

// ------------------------------------------------------------------ the transport API

/// Sends the hello (CPU 0's first drain): brings the device up first.
pub fn send_hello(bytes: &[u8]) {
    // SAFETY: called by `drain`'s caller with the transport lock held.
    let s = unsafe { state() };
    bring_up(s);
    if let State::Up(net) = s {
        if bytes.len() > DATAGRAM {
            // Names of many VMs: more than a datagram (no IP fragmentation here).
            note(b"telemetry-net: the hello does not fit a datagram; the monitor will refuse the stream");
            return;
        }
        let to = IpEndpoint::new(IpAddress::Ipv4(GATEWAY), PORT);
        let socket = net.sockets.get_mut::<udp::Socket>(net.udp);
        let _ = socket.send_slice(bytes, to);
        net.poll();
    }
}

/// Whether the run loop should take the transport for `pending` bytes in its ring.
pub fn due(pending: usize, now: u64) -> bool {
    pending >= BATCH
        || (pending > 0
            && now.wrapping_sub(LAST_DRAIN.load(Ordering::Relaxed))
                >= cpu::counter_frequency() / MAX_DELAY_PER_SECOND)
}

/// Whether the run loop should wait for the transport rather than skip it when busy: when
/// its ring is over half full (backpressure: the guest waits instead of losing records).
pub fn must_wait(pending: usize, capacity: usize) -> bool {
    pending > capacity / 2
}

/// Sends what the rings hold (the caller holds the transport; `cpu` is its ring). `block`:
/// until the caller's ring (and, when no other CPU has frames waiting, the socket) is empty,
/// bounded by [`BLOCK_MS`]; otherwise what the device takes now, waiting only while some ring
/// is over half full (bounded by [`STALL_MS`]).
/// (`_yield`: a datagram's worth at a time is short; the network always sends it all.)
pub fn drain<const N: usize>(cpu: usize, rings: &[Ring<N>], block: bool, _yield: bool) {
    LAST_DRAIN.store(now_ticks(), Ordering::Relaxed);
    // SAFETY: the caller holds the transport lock.
    let s = unsafe { state() };
    let State::Up(net) = s else {
        if matches!(s, State::Absent) {
            for r in rings {
                r.consume(r.len());
            }
        }
        return;
    };
    let start = now_ticks();
    loop {
        net.poll();
        let moved = net.fill(rings, cpu);
        if moved {
            net.poll();
        }
        let over = rings.iter().any(|r| r.len() > N / 2);
        // Blocking (an idle CPU, the power-off): until this CPU's frames are out of its ring,
        // and out of the socket unless another CPU has frames waiting (it will poll the
        // device when it sends them) — an idle CPU does not pump the others' streams, so its
        // own vCPUs' wake-ups are not delayed by them.
        let others_busy = rings
            .iter()
            .enumerate()
            .any(|(i, r)| i != cpu && !r.is_empty());
        let done = if block {
            rings[cpu].is_empty() && (net.queued() == 0 || others_busy)
        } else {
            !over
        };
        if done {
            return;
        }
        let limit = if block { BLOCK_MS } else { STALL_MS };
        if now_ticks().wrapping_sub(start) > ms(limit) {
            return;
        }
        core::hint::spin_loop();
    }
}

/// Waits (bounded) until the device has sent everything handed to it: the last datagrams
/// must leave before the machine powers off.
pub fn flush() {
    // SAFETY: called with the transport lock held (power-off path).
    let State::Up(net) = (unsafe { state() }) else {
        return;
    };
    let start = now_ticks();
    while (net.queued() != 0 || net.dev.tx_in_flight() != 0)
        && now_ticks().wrapping_sub(start) < ms(BLOCK_MS)
    {
        net.poll();
        core::hint::spin_loop();
    }
}
