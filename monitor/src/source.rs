//! Where the bytes come from. Every source is a blocking [`Read`]; the caller decides threads.
//!
//! Syntax (`hvmon live <source>`):
//! - `serial:/dev/ttyUSB0[@115200]` — a serial device (no libudev: the path is given);
//! - `tcp:HOST:PORT` — connect (QEMU `-serial tcp:HOST:PORT,server`); `tcp-listen:ADDR:PORT` —
//!   accept one connection (QEMU `-serial tcp:HOST:PORT` as client);
//! - `unix:/path` — connect to a unix socket (QEMU `-chardev socket,path=…,server=on`);
//! - `udp:ADDR:PORT` — bind and receive datagrams, each holding one or more whole frames;
//! - `file:/path` or a plain existing path — a recording; `-` — standard input.

use std::fmt;
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Serial { path: String, baud: u32 },
    Tcp(String),
    TcpListen(String),
    Unix(String),
    Udp(String),
    File(String),
    Stdin,
}

impl std::str::FromStr for Source {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        if s == "-" {
            return Ok(Source::Stdin);
        }
        let Some((scheme, rest)) = s.split_once(':') else {
            return Ok(Source::File(s.to_owned()));
        };
        let rest = rest.to_owned();
        Ok(match scheme {
            "serial" => match rest.split_once('@') {
                Some((p, b)) => Source::Serial {
                    path: p.to_owned(),
                    baud: b.parse().with_context(|| format!("bad baud rate `{b}`"))?,
                },
                None => Source::Serial {
                    path: rest,
                    baud: 115_200,
                },
            },
            "tcp" => Source::Tcp(rest),
            "tcp-listen" => Source::TcpListen(rest),
            "unix" => Source::Unix(rest),
            "udp" => Source::Udp(rest),
            "file" => Source::File(rest),
            _ if std::path::Path::new(s).exists() => Source::File(s.to_owned()),
            other => bail!(
                "unknown source kind `{other}` in `{s}`: use serial:, tcp:, tcp-listen:, unix:, \
                 udp:, file:, a path or -"
            ),
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Serial { path, baud } => write!(f, "serial:{path}@{baud}"),
            Source::Tcp(a) => write!(f, "tcp:{a}"),
            Source::TcpListen(a) => write!(f, "tcp-listen:{a}"),
            Source::Unix(p) => write!(f, "unix:{p}"),
            Source::Udp(a) => write!(f, "udp:{a}"),
            Source::File(p) => write!(f, "{p}"),
            Source::Stdin => f.write_str("-"),
        }
    }
}

impl Source {
    /// Opens the source. Live sources block in `read` until data arrives; end of stream is 0.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        Ok(match self {
            Source::Serial { path, baud } => Box::new(
                serialport::new(path, *baud)
                    .timeout(Duration::from_secs(3600))
                    .open()
                    .with_context(|| format!("cannot open serial device {path}"))?,
            ),
            Source::Tcp(a) => {
                Box::new(TcpStream::connect(a).with_context(|| format!("cannot connect to {a}"))?)
            }
            Source::TcpListen(a) => {
                let l = TcpListener::bind(a).with_context(|| format!("cannot listen on {a}"))?;
                Box::new(l.accept()?.0)
            }
            Source::Unix(p) => Box::new(unix(p)?),
            Source::Udp(a) => Box::new(Datagrams::bind(a)?),
            Source::File(p) => {
                Box::new(std::fs::File::open(p).with_context(|| format!("cannot open {p}"))?)
            }
            Source::Stdin => Box::new(io::stdin()),
        })
    }

    /// Whether the source ends by itself (a file) rather than being live.
    pub fn is_recording(&self) -> bool {
        matches!(self, Source::File(_))
    }
}

#[cfg(unix)]
fn unix(p: &str) -> Result<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(p).with_context(|| format!("cannot connect to {p}"))
}

#[cfg(not(unix))]
fn unix(_: &str) -> Result<std::fs::File> {
    bail!("unix sockets are not supported on this platform")
}

/// UDP as a byte stream: each datagram is returned followed by a 0x00 delimiter, so a datagram
/// cut short (or one whose last frame lacks its delimiter) cannot merge with the next one.
pub struct Datagrams {
    socket: UdpSocket,
    buf: Vec<u8>,
    pos: usize,
}

impl Datagrams {
    pub fn bind(addr: &str) -> Result<Self> {
        let socket = UdpSocket::bind(addr).with_context(|| format!("cannot bind UDP {addr}"))?;
        Ok(Datagrams {
            socket,
            buf: Vec::new(),
            pos: 0,
        })
    }

    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.socket.local_addr()
    }
}

impl Read for Datagrams {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.buf.len() {
            self.buf.resize(65_536, 0);
            let n = self.socket.recv(&mut self.buf)?;
            self.buf.truncate(n);
            self.buf.push(0);
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!("-".parse::<Source>().unwrap(), Source::Stdin);
        assert_eq!(
            "serial:/dev/ttyS0@9600".parse::<Source>().unwrap(),
            Source::Serial {
                path: "/dev/ttyS0".into(),
                baud: 9600
            }
        );
        assert_eq!(
            "tcp:localhost:4444".parse::<Source>().unwrap(),
            Source::Tcp("localhost:4444".into())
        );
        assert_eq!(
            "rec.bin".parse::<Source>().unwrap(),
            Source::File("rec.bin".into())
        );
        assert!("bogus:x".parse::<Source>().is_err());
    }

    #[test]
    fn udp_datagrams_are_delimited() {
        let mut d = Datagrams::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"ab", d.local_addr().unwrap()).unwrap();
        let mut out = [0u8; 8];
        let n = d.read(&mut out).unwrap();
        assert_eq!(&out[..n], b"ab\0");
    }
}
