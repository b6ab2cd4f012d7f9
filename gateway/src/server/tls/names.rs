//! The names a generated certificate covers: validated host names and IP addresses, and the
//! name constraints that keep the generated CA from vouching for anything else.

use std::net::IpAddr;

use anyhow::bail;
use rcgen::{CidrSubnet, GeneralSubtree};
use rustls_pki_types::ServerName;

/// Names every generated leaf certificate covers.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// DER of the object identifier of the name constraints extension (2.5.29.30).
const NAME_CONSTRAINTS_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1e];

/// A name the leaf must cover, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Name {
    Dns(String),
    Ip(IpAddr),
}

impl Name {
    pub(super) fn san(&self) -> String {
        match self {
            Name::Dns(s) => s.clone(),
            Name::Ip(ip) => ip.to_string(),
        }
    }

    /// A server name a client could use, to check the leaf covers this name.
    pub(super) fn server_name(&self) -> Option<ServerName<'static>> {
        match self {
            Name::Ip(ip) => Some(ServerName::IpAddress((*ip).into())),
            Name::Dns(s) => {
                let probe = match s.strip_prefix("*.") {
                    Some(rest) => format!("wildcard-probe.{rest}"),
                    None => s.clone(),
                };
                ServerName::try_from(probe).ok()
            }
        }
    }
}

pub(super) fn parse_name(raw: &str) -> anyhow::Result<Name> {
    let s = raw.trim();
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(Name::Ip(ip));
    }
    let lower = s.trim_end_matches('.').to_ascii_lowercase();
    let name = Name::Dns(lower);
    if name.server_name().is_none() {
        bail!("{raw:?} is neither an IP address nor a valid DNS name for the TLS certificate");
    }
    Ok(name)
}

pub(super) fn requested_names(extra: &[String]) -> anyhow::Result<Vec<Name>> {
    let mut names = Vec::new();
    for raw in DEFAULT_NAMES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        if raw.trim().is_empty() {
            continue;
        }
        let name = parse_name(raw)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The subtrees a CA generated for `names` is limited to: each DNS name (and the names under
/// it; a wildcard's base), each IP address alone.
pub(super) fn permitted_subtrees(names: &[Name]) -> Vec<GeneralSubtree> {
    names
        .iter()
        .map(|n| match n {
            Name::Dns(s) => GeneralSubtree::DnsName(s.trim_start_matches("*.").to_string()),
            Name::Ip(ip) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                *ip,
                if ip.is_ipv4() { 32 } else { 128 },
            )),
        })
        .collect()
}

/// Whether a certificate carries the name constraints extension.
pub(super) fn is_name_constrained(cert: &[u8]) -> bool {
    cert.windows(NAME_CONSTRAINTS_OID.len())
        .any(|w| w == NAME_CONSTRAINTS_OID)
}
