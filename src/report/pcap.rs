//! A run as a packet capture: synthetic TCP/IPv4 packets that Wireshark and tshark
//! open, with "Follow TCP Stream" showing exactly the bytes each program read.
//!
//! Each connection of the transcript becomes a TCP stream between the hosts'
//! simulated addresses and the ports SimNet gave them: a three-way handshake when the
//! connection first appears, one data segment per read (so the re-segmentation SimNet
//! chose is visible; reads over [`MAX_SEGMENT`] bytes are split), a FIN where the reader
//! saw the end of the stream, and an RST where a side was reset or aborted. Timestamps
//! are the virtual times, in nanoseconds. Sequence and acknowledgement numbers follow
//! the bytes, and etherparse computes the IPv4 and TCP checksums.
//!
//! The transcript names a connection's ends as `HOST:PORT`, and a listening end is
//! shared by every connection accepted on that port, so the capture reads connections
//! from the directions (`A:P > B:Q`) and attributes an end's events only when one
//! live connection has that end. Which end connected is read from the ports (SimNet's
//! ephemeral ports are 40001 to 65000); if that does not decide it, the end that sent
//! first connected. The handshake is placed at the connecting end's open.
//!
//! What the capture cannot show: bytes a receiver discarded (the transcript keeps only
//! their count), pure acknowledgements, retransmissions, connects that never completed
//! or connections that carried nothing, and an abort on a listening end shared by
//! several live connections (the peer's reset shows it instead).
//!
//! ```
//! use weft::report::{RunInfo, pcap};
//! use weft::scenario::Scenario;
//!
//! let catalogue = weft::programs::catalogue();
//! let scenario = Scenario::load("sim/pingpong.toml".as_ref(), &catalogue).unwrap();
//! let info = RunInfo::new(&scenario.name, 1, &scenario.network(&catalogue, 1).unwrap());
//! let transcript = scenario.run(&catalogue, 1).unwrap().transcript;
//! let mut file = Vec::new();
//! let packets = pcap::write(&transcript, &info, &mut file).unwrap();
//! assert!(packets > 3);
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::Duration;

use etherparse::{PacketBuilder, TcpHeader};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::RunInfo;
use super::timeline::{Endpoint, Subject};
use crate::testing::{EventKind, Transcript};
use crate::transport::Disconnect;

/// The most payload one segment carries: an IPv4 packet is at most 65,535 bytes,
/// less 20 for the IPv4 header and 20 for the TCP header.
pub const MAX_SEGMENT: usize = 65_535 - 40;

/// Initial sequence numbers: fixed, so the same run gives the same file.
const CONNECTOR_ISN: u32 = 1_000;
const ACCEPTOR_ISN: u32 = 5_000;
const WINDOW: u16 = 65_535;
const TTL: u8 = 64;
const EPHEMERAL: std::ops::RangeInclusive<u16> = 40_001..=65_000;

/// Why a capture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// The transcript names a host the run's host list does not have.
    #[error("host {0:?} of the transcript has no address in the run")]
    UnknownHost(String),
    /// Writing the file failed.
    #[error("cannot write the capture: {0}")]
    Write(String),
}

/// Writes `transcript` as a pcap file (raw IPv4 link type, nanosecond timestamps,
/// little-endian) to `out`. Returns the number of packets written.
pub fn write(transcript: &Transcript, info: &RunInfo, out: impl Write) -> Result<usize, PcapError> {
    let header = PcapHeader {
        snaplen: 65_535,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::NanoSecond,
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    let mut capture = Capture {
        info,
        flows: Vec::new(),
        live: BTreeMap::new(),
        opened: BTreeMap::new(),
        packets: Vec::new(),
    };
    for event in transcript.events() {
        capture.event(event.at.since_epoch(), &event.who, &event.what)?;
    }
    // Handshakes are placed back at the opens, before packets already built: order
    // by time, keeping the building order among equal times.
    let mut packets = capture.packets;
    packets.sort_by_key(|(at, _)| *at);
    let mut writer =
        PcapWriter::with_header(out, header).map_err(|e| PcapError::Write(e.to_string()))?;
    for (at, data) in &packets {
        let len = u32::try_from(data.len()).expect("packets are at most 65,535 bytes");
        (writer.write_packet(&PcapPacket::new(*at, len, data)))
            .map_err(|e| PcapError::Write(e.to_string()))?;
    }
    Ok(packets.len())
}

/// One TCP stream. End 0 connected, end 1 accepted.
struct Flow {
    ends: [Endpoint; 2],
    addrs: [Ipv4Addr; 2],
    next_seq: [u32; 2],
    lost: [bool; 2],
    reset: bool,
}

impl Flow {
    fn side(&self, end: &Endpoint) -> usize {
        usize::from(self.ends[1] == *end)
    }
}

/// The packets of a transcript, being built.
struct Capture<'a> {
    info: &'a RunInfo,
    flows: Vec<Flow>,
    /// Live streams by their ends (in sending order of the first direction seen).
    live: BTreeMap<(Endpoint, Endpoint), usize>,
    /// Ends that opened and are not yet in a stream, with when.
    opened: BTreeMap<Endpoint, Duration>,
    packets: Vec<(Duration, Vec<u8>)>,
}

#[derive(Clone, Copy)]
enum Segment<'p> {
    Syn,
    SynAck,
    Ack,
    Data(&'p [u8]),
    Fin,
    Rst,
}

impl Capture<'_> {
    fn event(&mut self, at: Duration, who: &str, what: &EventKind) -> Result<(), PcapError> {
        match (Subject::parse(who), what) {
            (Subject::Direction { from, to }, EventKind::Data(bytes)) => {
                let f = self.flow(at, &from, &to)?;
                for chunk in bytes.chunks(MAX_SEGMENT) {
                    self.send(at, f, &from, Segment::Data(chunk));
                }
            }
            (Subject::Direction { from, to }, EventKind::Eof) => {
                let f = self.flow(at, &from, &to)?;
                self.send(at, f, &from, Segment::Fin);
            }
            (Subject::End(end), EventKind::Open) => {
                self.opened.insert(end, at);
            }
            (Subject::End(end), EventKind::Lost(reason)) => self.lost(at, &end, *reason),
            _ => {}
        }
        Ok(())
    }

    /// The live stream between `from` and `to`, created (with its handshake) on the
    /// first bytes or end of stream between them.
    fn flow(&mut self, at: Duration, from: &Endpoint, to: &Endpoint) -> Result<usize, PcapError> {
        let key = if from <= to {
            (from.clone(), to.clone())
        } else {
            (to.clone(), from.clone())
        };
        if let Some(&f) = self.live.get(&key) {
            return Ok(f);
        }
        let connector_first = match (EPHEMERAL.contains(&from.port), EPHEMERAL.contains(&to.port)) {
            (true, false) => true,
            (false, true) => false,
            _ => true,
        };
        let ends = if connector_first {
            [from.clone(), to.clone()]
        } else {
            [to.clone(), from.clone()]
        };
        let addr = |end: &Endpoint| {
            (self.info.addr(&end.host)).ok_or_else(|| PcapError::UnknownHost(end.host.clone()))
        };
        let addrs = [addr(&ends[0])?, addr(&ends[1])?];
        // A listening end opens once per connection accepted on it: only the
        // connecting end's open dates the handshake.
        let opened = self.opened.remove(&ends[0]).unwrap_or(at).min(at);
        let f = self.flows.len();
        self.flows.push(Flow {
            ends: ends.clone(),
            addrs,
            next_seq: [CONNECTOR_ISN, ACCEPTOR_ISN],
            lost: [false; 2],
            reset: false,
        });
        self.live.insert(key, f);
        self.send(opened, f, &ends[0], Segment::Syn);
        self.send(opened, f, &ends[1], Segment::SynAck);
        self.send(opened, f, &ends[0], Segment::Ack);
        Ok(f)
    }

    /// An end's connection ended: a reset shows as an RST from its peer, an abort as
    /// an RST from itself (once per stream); a stream whose ends both ended is over.
    fn lost(&mut self, at: Duration, end: &Endpoint, reason: Disconnect) {
        let mut candidates = (self.live.iter())
            .filter(|((a, b), f)| {
                (a == end || b == end) && !self.flows[**f].lost[self.flows[**f].side(end)]
            })
            .map(|(k, f)| (k.clone(), *f));
        let (Some((key, f)), None) = (candidates.next(), candidates.next()) else {
            return;
        };
        let side = self.flows[f].side(end);
        let sender = match reason {
            Disconnect::Aborted => Some(side),
            Disconnect::Reset => Some(1 - side),
            Disconnect::Clean | Disconnect::TimedOut => None,
        };
        if let Some(sender) = sender
            && !self.flows[f].reset
        {
            let sender = self.flows[f].ends[sender].clone();
            self.send(at, f, &sender, Segment::Rst);
            self.flows[f].reset = true;
        }
        let flow = &mut self.flows[f];
        flow.lost[side] = true;
        if flow.lost == [true, true] {
            self.live.remove(&key);
        }
    }

    /// Builds one packet from `from` on stream `f`, and advances its sequence number.
    fn send(&mut self, at: Duration, f: usize, from: &Endpoint, segment: Segment<'_>) {
        let flow = &mut self.flows[f];
        let s = flow.side(from);
        let (seq, ack) = (flow.next_seq[s], flow.next_seq[1 - s]);
        let mut tcp = TcpHeader::new(flow.ends[s].port, flow.ends[1 - s].port, seq, WINDOW);
        let mut payload: &[u8] = &[];
        let advance = match segment {
            Segment::Syn => {
                tcp.syn = true;
                1
            }
            Segment::SynAck => {
                tcp.syn = true;
                tcp.ack = true;
                1
            }
            Segment::Ack => {
                tcp.ack = true;
                0
            }
            Segment::Data(bytes) => {
                tcp.ack = true;
                tcp.psh = true;
                payload = bytes;
                u32::try_from(bytes.len()).expect("segments are at most MAX_SEGMENT bytes")
            }
            Segment::Fin => {
                tcp.ack = true;
                tcp.fin = true;
                1
            }
            Segment::Rst => {
                tcp.rst = true;
                tcp.ack = true;
                0
            }
        };
        if tcp.ack {
            tcp.acknowledgment_number = ack;
        }
        flow.next_seq[s] = seq.wrapping_add(advance);
        let builder = PacketBuilder::ipv4(flow.addrs[s].octets(), flow.addrs[1 - s].octets(), TTL)
            .tcp_header(tcp);
        let mut packet = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut packet, payload)
            .expect("a segment of at most MAX_SEGMENT bytes fits an IPv4 packet");
        self.packets.push((at, packet));
    }
}

#[cfg(test)]
mod tests {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use pcap_file::pcap::PcapReader;

    use super::*;
    use crate::time::Instant;

    fn info() -> RunInfo {
        RunInfo {
            scenario: "t".into(),
            description: String::new(),
            seed: 1,
            hosts: vec![
                ("server".into(), Ipv4Addr::new(10, 0, 0, 1)),
                ("client".into(), Ipv4Addr::new(10, 0, 0, 2)),
            ],
            failures: Vec::new(),
        }
    }

    /// (source port, flags "SAFRP", seq, ack, payload) of every packet.
    fn packets(file: &[u8]) -> Vec<(u16, String, u32, u32, Vec<u8>)> {
        let mut reader = PcapReader::new(file).unwrap();
        let mut out = Vec::new();
        while let Some(packet) = reader.next_packet() {
            let packet = packet.unwrap();
            let sliced = SlicedPacket::from_ip(&packet.data).unwrap();
            let Some(NetSlice::Ipv4(_)) = sliced.net else {
                panic!("not IPv4")
            };
            let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
                panic!("not TCP")
            };
            let flags: String = [
                (tcp.syn(), 'S'),
                (tcp.ack(), 'A'),
                (tcp.fin(), 'F'),
                (tcp.rst(), 'R'),
                (tcp.psh(), 'P'),
            ]
            .iter()
            .filter_map(|&(on, c)| on.then_some(c))
            .collect();
            out.push((
                tcp.source_port(),
                flags,
                tcp.sequence_number(),
                tcp.acknowledgment_number(),
                tcp.payload().to_vec(),
            ));
        }
        out
    }

    #[test]
    fn a_connection_is_a_handshake_reads_as_segments_and_fins_with_running_numbers() {
        let mut t = Transcript::new();
        let at = Instant::from_millis;
        t.record(at(1), "server:8000", EventKind::Open);
        t.record(at(2), "client:40001", EventKind::Open);
        t.record(
            at(3),
            "client:40001 > server:8000",
            EventKind::Data(b"ab".to_vec().into()),
        );
        t.record(
            at(4),
            "server:8000 > client:40001",
            EventKind::Data(b"xyz".to_vec().into()),
        );
        t.record(at(5), "client:40001 > server:8000", EventKind::Eof);
        t.record(at(6), "server:8000", EventKind::Lost(Disconnect::Reset));
        let mut file = Vec::new();
        assert_eq!(write(&t, &info(), &mut file).unwrap(), 7);
        let got = packets(&file);
        let want: Vec<(u16, String, u32, u32, Vec<u8>)> = vec![
            (40001, "S".into(), 1000, 0, vec![]),
            (8000, "SA".into(), 5000, 1001, vec![]),
            (40001, "A".into(), 1001, 5001, vec![]),
            (40001, "AP".into(), 1001, 5001, b"ab".to_vec()),
            (8000, "AP".into(), 5001, 1003, b"xyz".to_vec()),
            (40001, "AF".into(), 1003, 5004, vec![]),
            (40001, "AR".into(), 1004, 5004, vec![]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn reads_over_the_largest_segment_are_split() {
        let mut t = Transcript::new();
        let big = vec![7u8; MAX_SEGMENT * 2 + 10];
        t.record(
            Instant::ZERO,
            "server:8000 > client:40001",
            EventKind::Data(big.clone().into()),
        );
        let mut file = Vec::new();
        write(&t, &info(), &mut file).unwrap();
        let got = packets(&file);
        let sizes: Vec<usize> = got.iter().skip(3).map(|p| p.4.len()).collect();
        assert_eq!(sizes, [MAX_SEGMENT, MAX_SEGMENT, 10]);
        let joined: Vec<u8> = got.iter().flat_map(|p| p.4.clone()).collect();
        assert_eq!(joined, big);
    }

    #[test]
    fn a_host_without_an_address_is_an_error() {
        let mut t = Transcript::new();
        t.record(Instant::ZERO, "ghost:1 > client:40001", EventKind::Eof);
        let error = write(&t, &info(), Vec::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "host \"ghost\" of the transcript has no address in the run"
        );
    }
}
