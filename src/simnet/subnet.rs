//! The networks hosts take their addresses from: 10.0.0.0/16 by default, or a subnet a
//! scenario gives a group of hosts.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 network, written `10.1.0.0/24`: a base address and a prefix length. Its host
/// addresses are the ones between the network address and the broadcast address.
///
/// ```
/// use std::net::Ipv4Addr;
/// use weft::simnet::Subnet;
///
/// let subnet: Subnet = "10.1.0.0/24".parse()?;
/// assert_eq!(subnet.capacity(), 254);
/// assert_eq!(subnet.host(0), Some(Ipv4Addr::new(10, 1, 0, 1)));
/// assert_eq!(subnet.host(253), Some(Ipv4Addr::new(10, 1, 0, 254)));
/// assert_eq!(subnet.host(254), None, "10.1.0.255 is the broadcast address");
/// // Hosts a scenario gives no address: 10.0.0.1, 10.0.0.2, ..., 10.0.0.255, 10.0.1.0, ...
/// assert_eq!(Subnet::DEFAULT.host(255), Some(Ipv4Addr::new(10, 0, 1, 0)));
/// # Ok::<(), weft::simnet::SubnetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    base: Ipv4Addr,
    prefix: u8,
}

/// A subnet that cannot be used, in the words a file would write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Not an address and a prefix length.
    #[error("subnet {0:?}: expected an address and a prefix length, like \"10.1.0.0/24\"")]
    Shape(String),
    /// A prefix length too long to leave a host address (or past 32).
    #[error(
        "subnet {0:?}: the prefix length must be from 0 to 30 (a /31 or /32 has no host addresses)"
    )]
    Prefix(String),
    /// The address has bits set past the prefix.
    #[error("subnet {given:?}: the address has host bits set; the network is {network}")]
    HostBits {
        /// What was written.
        given: String,
        /// The network it is inside.
        network: Subnet,
    },
}

impl Subnet {
    /// Where hosts without an address live: 10.0.0.0/16, 65,534 hosts, the first 254
    /// at 10.0.0.1 to 10.0.0.254 as in a /24.
    pub const DEFAULT: Self = Self {
        base: Ipv4Addr::new(10, 0, 0, 0),
        prefix: 16,
    };

    /// The network `base/prefix`; `base` must have no bits set past the prefix.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Result<Self, SubnetError> {
        let given = || format!("{base}/{prefix}");
        if prefix > 30 {
            return Err(SubnetError::Prefix(given()));
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let network = Ipv4Addr::from(u32::from(base) & mask);
        if network != base {
            return Err(SubnetError::HostBits {
                given: given(),
                network: Self {
                    base: network,
                    prefix,
                },
            });
        }
        Ok(Self { base, prefix })
    }

    /// The network address.
    pub fn base(&self) -> Ipv4Addr {
        self.base
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many host addresses it has (all but the network and broadcast addresses).
    pub fn capacity(&self) -> u32 {
        // At most /30, so the size is at least 4 and the subtraction cannot wrap; a /0
        // has 2^32 - 2 host addresses, which fit.
        ((1u64 << (32 - u32::from(self.prefix))) - 2) as u32
    }

    /// The `n`th host address, from 0: the base plus `n + 1`; `None` past the last.
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        (n < self.capacity()).then(|| Ipv4Addr::from(u32::from(self.base) + n + 1))
    }

    /// Whether `ip` is one of its host addresses.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let offset = u32::from(ip).wrapping_sub(u32::from(self.base));
        offset >= 1 && offset <= self.capacity()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    fn from_str(text: &str) -> Result<Self, SubnetError> {
        let shape = || SubnetError::Shape(text.to_owned());
        let (base, prefix) = text.trim().split_once('/').ok_or_else(shape)?;
        let base: Ipv4Addr = base.parse().map_err(|_| shape())?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| SubnetError::Prefix(text.to_owned()))?;
        Self::new(base, prefix).map_err(|error| match error {
            // Say it as it was written.
            SubnetError::Prefix(_) => SubnetError::Prefix(text.to_owned()),
            other => other,
        })
    }
}

impl Serialize for Subnet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Subnet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subnet such as \"10.1.0.0/24\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Subnet, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_network_keeps_the_first_254_hosts_where_a_24_had_them() {
        for n in 0..254 {
            assert_eq!(
                Subnet::DEFAULT.host(n),
                Some(Ipv4Addr::new(10, 0, 0, n as u8 + 1))
            );
        }
        assert_eq!(Subnet::DEFAULT.capacity(), 65_534);
        assert_eq!(
            Subnet::DEFAULT.host(65_533),
            Some(Ipv4Addr::new(10, 0, 255, 254))
        );
        assert_eq!(Subnet::DEFAULT.host(65_534), None);
    }

    #[test]
    fn subnets_parse_print_and_refuse_in_a_files_words() {
        let subnet: Subnet = "192.168.4.0/22".parse().unwrap();
        assert_eq!(subnet.to_string(), "192.168.4.0/22");
        assert_eq!(subnet.capacity(), 1022);
        assert!(subnet.contains(Ipv4Addr::new(192, 168, 7, 254)));
        assert!(!subnet.contains(Ipv4Addr::new(192, 168, 7, 255)));
        assert!(!subnet.contains(Ipv4Addr::new(192, 168, 4, 0)));
        assert_eq!(
            "0.0.0.0/0".parse::<Subnet>().unwrap().capacity(),
            u32::MAX - 1
        );
        let error = |text: &str| text.parse::<Subnet>().unwrap_err().to_string();
        assert_eq!(
            error("10.1.0.7/24"),
            "subnet \"10.1.0.7/24\": the address has host bits set; the network is 10.1.0.0/24"
        );
        assert!(
            error("10.1.0.0/31").contains("from 0 to 30"),
            "{}",
            error("10.1.0.0/31")
        );
        assert!(error("10.1.0.0/300").contains("from 0 to 30"));
        for shape in ["10.1.0.0", "10.1.0/24", "10.1.0.0/", "10.1.0.0/-1", "x/8"] {
            assert!(error(shape).contains("like \"10.1.0.0/24\""), "{shape}");
        }
    }
}
