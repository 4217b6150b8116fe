//! TLS: the rustls configuration every TLS connection uses, built from the operator's own
//! certificate or, by default, from a development certificate authority that the server makes
//! for itself on first start, so `https://` and `wss://` work with no configuration.
//!
//! The development CA lives in `<data-dir>/tls/`: `ca.pem` (what clients trust, readable by
//! everyone), `ca-key.pem` (0600), and the server certificate it signs, `server.pem` and
//! `server-key.pem` (0600). Later starts reuse them; the server certificate is issued again,
//! by the same CA, when it is about to expire or no longer names exactly the configured hosts,
//! so a client that trusts `ca.pem` once keeps trusting the server.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::config::{self, Config, TlsMode};

/// The development CA's directory inside the data directory.
pub const TLS_DIR: &str = "tls";
const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server-key.pem";

/// Names the development certificate always covers.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// A certificate this close to expiry is replaced at start.
const RENEW_BEFORE: Duration = Duration::days(30);
/// Browsers refuse server certificates valid for more than 397 days (Apple's rule, the
/// strictest); with the backdating below the total stays under it.
const SERVER_VALIDITY: Duration = Duration::days(396);
const CA_VALIDITY: Duration = Duration::days(3650);
/// Certificates start an hour in the past, so a client whose clock is a little behind still
/// accepts one made a moment ago.
const BACKDATE: Duration = Duration::hours(1);

/// The TLS the server runs with.
pub struct Tls {
    /// The rustls configuration for every TLS connection.
    pub config: Arc<ServerConfig>,
    /// The development CA's files, when the certificate comes from it.
    pub dev: Option<DevCa>,
}

/// The development CA's files, and what this start did to them.
#[derive(Debug, Clone)]
pub struct DevCa {
    /// `ca.pem`: what clients trust (`NODE_EXTRA_CA_CERTS`, a browser's authorities).
    pub ca_cert: PathBuf,
    /// `server.pem`: the server certificate, signed by the CA.
    pub server_cert: PathBuf,
    /// `server-key.pem`: its private key.
    pub server_key: PathBuf,
    /// A new CA was made on this start: clients must be told to trust it.
    pub ca_created: bool,
    /// A new server certificate was issued on this start.
    pub server_issued: bool,
}

/// A TLS client configuration trusting only the PEM certificates in `ca`, and the server name
/// to check for `authority` (`host[:port]`, IPv6 in brackets): what Belfry's own clients (the
/// load generator's sessions, `belfry admin` over https) connect with.
pub fn client_trusting(
    ca: &Path,
    authority: &str,
) -> anyhow::Result<(
    Arc<rustls::ClientConfig>,
    rustls_pki_types::ServerName<'static>,
)> {
    let pem = std::fs::read(ca).with_context(|| format!("reading CA {}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.context("parsing the CA PEM")?)
            .context("adding the CA")?;
    }
    if roots.is_empty() {
        bail!("no certificate in {}", ca.display());
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("{host} is not a TLS server name"))?;
    Ok((Arc::new(config), name))
}

/// The crypto provider for the server's TLS. Named explicitly because aws-lc-rs is in the
/// dependency graph too, and rustls refuses to guess between two.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS as `config` asks for it: `None` when it is off, the operator's certificate when given,
/// else the development CA's (made or renewed now if needed).
pub fn from_config(config: &Config) -> anyhow::Result<Option<Tls>> {
    if config.tls == TlsMode::Off {
        return Ok(None);
    }
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let (chain, key) = load_pem(cert, key)?;
        return Ok(Some(Tls {
            config: server_config(chain, key)?,
            dev: None,
        }));
    }
    let dev = dev_ca(
        &config.data_dir.join(TLS_DIR),
        &config.tls_names,
        SystemTime::now(),
    )?;
    let (chain, key) = load_pem(&dev.server_cert, &dev.server_key)?;
    Ok(Some(Tls {
        config: server_config(chain, key)?,
        dev: Some(dev),
    }))
}

/// A rustls server configuration serving `chain` with `key`: ring, TLS 1.2 and 1.3, and ALPN
/// `http/1.1` only, since websocket upgrades are HTTP/1.1 (a client offering only `h2` is
/// refused in the handshake rather than failing later).
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_pem(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow!("reading TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("reading TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        bail!(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in {}",
            cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow!("reading TLS private key {}: {e}", key.display()))?;
    Ok((chain, key))
}

/// Makes or reuses the development CA and server certificate in `dir` for
/// [`DEFAULT_NAMES`] and `extra_names`, as of `now`.
pub fn dev_ca(dir: &Path, extra_names: &[String], now: SystemTime) -> anyhow::Result<DevCa> {
    let now = OffsetDateTime::from(now);
    crate::files::private_dir(dir)?;
    let paths = DevCa {
        ca_cert: dir.join(CA_CERT),
        server_cert: dir.join(SERVER_CERT),
        server_key: dir.join(SERVER_KEY),
        ca_created: false,
        server_issued: false,
    };
    let ca_key_path = dir.join(CA_KEY);
    let names = Names::new(extra_names)?;

    let existing = load_ca(&paths.ca_cert, &ca_key_path, now)?;
    let ca_created = existing.is_none();
    let (ca_der, ca_key) = match existing {
        Some(ca) => ca,
        None => {
            let (cert, key) = make_ca(now)?;
            // The key first: a crash between the two leaves a key without a certificate,
            // which the next start replaces, never a certificate nobody can sign for.
            config::write_private(&ca_key_path, key.serialize_pem().as_bytes())?;
            config::write_atomic(&paths.ca_cert, cert.pem().as_bytes(), 0o644)?;
            (cert.der().clone(), key)
        }
    };
    let issuer = Issuer::from_ca_cert_der(&ca_der, ca_key)
        .map_err(|e| anyhow!("reading {}: {e}", paths.ca_cert.display()))?;

    let reuse = !ca_created && server_still_good(&paths, &ca_der, &names, now);
    if !reuse {
        let (cert, key) = issue_server(&issuer, &names, now)?;
        config::write_private(&paths.server_key, key.serialize_pem().as_bytes())?;
        // Only the CA certificate is for others to read; the server's stays with its key.
        config::write_private(&paths.server_cert, cert.pem().as_bytes())?;
    }
    Ok(DevCa {
        ca_created,
        server_issued: !reuse,
        ..paths
    })
}

/// The CA in `cert_path`/`key_path`, or `None` when a new one must be made: there is none yet,
/// or it expires within [`RENEW_BEFORE`].
fn load_ca(
    cert_path: &Path,
    key_path: &Path,
    now: OffsetDateTime,
) -> anyhow::Result<Option<(CertificateDer<'static>, KeyPair)>> {
    if !cert_path.exists() {
        return Ok(None);
    }
    if !key_path.exists() {
        // Clients may trust this ca.pem already; replacing it silently would break them
        // without a word, so the operator decides.
        bail!(
            "{} exists but its key {} is missing; restore the key, or delete the directory \
             to make a new CA (which clients must then trust again)",
            cert_path.display(),
            key_path.display()
        );
    }
    let der = CertificateDer::from_pem_file(cert_path)
        .map_err(|e| anyhow!("reading {}: {e}", cert_path.display()))?;
    let key_pem = std::fs::read_to_string(key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let key =
        KeyPair::from_pem(&key_pem).map_err(|e| anyhow!("reading {}: {e}", key_path.display()))?;
    let cert = parse(&der).with_context(|| format!("reading {}", cert_path.display()))?;
    if cert.public_key().raw != key.subject_public_key_info().as_slice() {
        bail!(
            "{} and {} do not belong together; delete the directory to make a new CA",
            cert_path.display(),
            key_path.display()
        );
    }
    if expires_soon(&cert, now) {
        tracing::warn!(
            path = %cert_path.display(),
            "the development CA expires within 30 days; making a new one (trust it again)"
        );
        return Ok(None);
    }
    Ok(Some((der, key)))
}

/// A new self-signed CA, allowed to sign server certificates only (path length 0).
fn make_ca(now: OffsetDateTime) -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    // A name unique to this CA, so a user who trusts several (two machines, a reset data
    // directory) can tell them apart in their trust store.
    let id = hex::encode(&params.key_identifier(&key)[..6]);
    params.distinguished_name = name(&format!("Belfry development CA {id}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

/// A new server certificate (and key) for `names`, signed by `issuer`.
fn issue_server(
    issuer: &Issuer<'_, KeyPair>,
    names: &Names,
    now: OffsetDateTime,
) -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_strings())?;
    params.distinguished_name = name("Belfry development server");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = now + SERVER_VALIDITY;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert, key))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Belfry");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Whether the server certificate on disk can be served again: signed by this CA, matching
/// its key, valid for more than [`RENEW_BEFORE`], for exactly `names`. Anything unreadable
/// counts as no: the certificate is the server's own and is simply issued again.
fn server_still_good(paths: &DevCa, ca_der: &[u8], names: &Names, now: OffsetDateTime) -> bool {
    let check = || -> anyhow::Result<bool> {
        let (chain, key) = load_pem(&paths.server_cert, &paths.server_key)?;
        let [leaf] = chain.as_slice() else {
            return Ok(false);
        };
        // rustls checks that the key is the certificate's.
        server_config(chain.clone(), key)?;
        let cert = parse(leaf)?;
        let ca = parse(ca_der)?;
        let signed_by_ca = cert.issuer().as_raw() == ca.subject().as_raw()
            && cert.verify_signature(Some(ca.public_key())).is_ok();
        Ok(signed_by_ca && !expires_soon(&cert, now) && Names::of(&cert)? == *names)
    };
    match check() {
        Ok(good) => good,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "issuing a new development server certificate");
            false
        }
    }
}

fn parse(der: &[u8]) -> anyhow::Result<X509Certificate<'_>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow!("not an X.509 certificate: {e}"))?;
    Ok(cert)
}

fn expires_soon(cert: &X509Certificate<'_>, now: OffsetDateTime) -> bool {
    cert.validity().not_after.timestamp() < (now + RENEW_BEFORE).unix_timestamp()
}

/// The set of names a server certificate covers, compared as sets (order and case aside).
#[derive(Debug, PartialEq, Eq)]
struct Names {
    dns: BTreeSet<String>,
    ips: BTreeSet<IpAddr>,
}

impl Names {
    /// [`DEFAULT_NAMES`] and `extra`.
    fn new(extra: &[String]) -> anyhow::Result<Self> {
        let mut names = Names {
            dns: BTreeSet::new(),
            ips: BTreeSet::new(),
        };
        for n in DEFAULT_NAMES
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
        {
            match n.parse::<IpAddr>() {
                Ok(ip) => {
                    names.ips.insert(ip);
                }
                Err(_) => {
                    if rustls_pki_types::DnsName::try_from(n).is_err() {
                        bail!("tls_names entry {n:?} is not a DNS name or an IP address");
                    }
                    names.dns.insert(n.to_ascii_lowercase());
                }
            }
        }
        Ok(names)
    }

    /// The names in `cert`'s subjectAltName.
    fn of(cert: &X509Certificate<'_>) -> anyhow::Result<Self> {
        let mut names = Names {
            dns: BTreeSet::new(),
            ips: BTreeSet::new(),
        };
        let Some(san) = cert
            .subject_alternative_name()
            .map_err(|e| anyhow!("reading subjectAltName: {e}"))?
        else {
            return Ok(names);
        };
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => {
                    names.dns.insert(d.to_ascii_lowercase());
                }
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).map(IpAddr::from).ok(),
                        16 => <[u8; 16]>::try_from(*bytes).map(IpAddr::from).ok(),
                        _ => None,
                    };
                    names.ips.extend(ip);
                }
                _ => {}
            }
        }
        Ok(names)
    }

    fn to_strings(&self) -> Vec<String> {
        self.dns
            .iter()
            .cloned()
            .chain(self.ips.iter().map(IpAddr::to_string))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration as StdDuration, UNIX_EPOCH};

    use rustls::client::danger::ServerCertVerifier;
    use rustls_pki_types::{ServerName, UnixTime};

    use super::*;

    const DAY: StdDuration = StdDuration::from_secs(86_400);

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap()
    }

    /// Verifies `dev`'s server certificate for `name` at `at` as a client trusting only `ca.pem`.
    fn verify(dev: &DevCa, name: &str, at: SystemTime) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&dev.ca_cert).unwrap())
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        let leaf = CertificateDer::from_pem_file(&dev.server_cert).unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        let at = UnixTime::since_unix_epoch(at.duration_since(UNIX_EPOCH).unwrap());
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], at)
            .map(|_| ())
    }

    #[test]
    fn first_start_makes_a_ca_and_a_server_certificate_for_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let dev = dev_ca(dir.path(), &[], now).unwrap();
        assert!(dev.ca_created && dev.server_issued);
        for name in DEFAULT_NAMES {
            verify(&dev, name, now).unwrap();
        }
        assert!(verify(&dev, "example.com", now).is_err());
        let (chain, key) = load_pem(&dev.server_cert, &dev.server_key).unwrap();
        server_config(chain, key).unwrap();

        let leaf = read(&dev.server_cert);
        let leaf = CertificateDer::from_pem_slice(&leaf).unwrap();
        let v = parse(&leaf).unwrap().validity().clone();
        let days = (v.not_after.timestamp() - v.not_before.timestamp()) / 86_400;
        assert!(days <= 397, "server certificate valid for {days} days");
        let ca = CertificateDer::from_pem_file(&dev.ca_cert).unwrap();
        let v = parse(&ca).unwrap().validity().clone();
        let years = (v.not_after.timestamp() - v.not_before.timestamp()) / (365 * 86_400);
        assert_eq!(years, 10);
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_and_the_ca_is_readable_by_everyone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        dev_ca(dir.path(), &[], SystemTime::now()).unwrap();
        for (file, mode) in [
            (CA_CERT, 0o644),
            (CA_KEY, 0o600),
            (SERVER_CERT, 0o600),
            (SERVER_KEY, 0o600),
        ] {
            let m = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, mode, "{file}");
        }
    }

    #[test]
    fn later_starts_reuse_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let first = dev_ca(dir.path(), &["phone.local".into()], now).unwrap();
        let files: Vec<Vec<u8>> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY]
            .iter()
            .map(|f| read(&dir.path().join(f)))
            .collect();
        // Same names in another order and case: still the same certificate.
        let again = dev_ca(dir.path(), &["PHONE.local".into(), "::1".into()], now + DAY).unwrap();
        assert!(!again.ca_created && !again.server_issued);
        let after: Vec<Vec<u8>> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY]
            .iter()
            .map(|f| read(&dir.path().join(f)))
            .collect();
        assert_eq!(files, after);
        verify(&first, "phone.local", now).unwrap();
    }

    #[test]
    fn the_server_certificate_is_reissued_by_the_same_ca_when_names_change() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let first = dev_ca(dir.path(), &["phone.local".into()], now).unwrap();
        let ca = read(&first.ca_cert);
        let cases: &[(&[&str], bool)] = &[
            (&["phone.local", "192.168.1.20"], true), // a name added
            (&["192.168.1.20"], true),                // a name removed
            (&["192.168.1.20"], false),               // unchanged
        ];
        for (names, issued) in cases {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let dev = dev_ca(dir.path(), &names, now).unwrap();
            assert_eq!(dev.server_issued, *issued, "{names:?}");
            assert!(!dev.ca_created);
            for n in names.iter().map(String::as_str).chain(DEFAULT_NAMES) {
                verify(&dev, n, now).unwrap();
            }
        }
        assert!(verify(&first, "phone.local", now).is_err());
        assert_eq!(read(&first.ca_cert), ca, "the CA stays");
    }

    #[test]
    fn certificates_are_renewed_before_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let first = dev_ca(dir.path(), &[], now).unwrap();
        let ca = read(&first.ca_cert);
        // 340 days on, the server certificate has about 56 days left: kept.
        assert!(
            !dev_ca(dir.path(), &[], now + 340 * DAY)
                .unwrap()
                .server_issued
        );
        // 380 days on, it has about 16: issued again by the same CA, valid from then.
        let later = now + 380 * DAY;
        let renewed = dev_ca(dir.path(), &[], later).unwrap();
        assert!(renewed.server_issued && !renewed.ca_created);
        assert_eq!(read(&renewed.ca_cert), ca);
        verify(&renewed, "localhost", later + 300 * DAY).unwrap();
        // Ten years on, the CA itself is about to expire: a new one.
        let decade = now + 3640 * DAY;
        let new_ca = dev_ca(dir.path(), &[], decade).unwrap();
        assert!(new_ca.ca_created && new_ca.server_issued);
        assert_ne!(read(&new_ca.ca_cert), ca);
    }

    #[test]
    fn a_server_certificate_that_does_not_match_its_files_is_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let dev = dev_ca(dir.path(), &[], now).unwrap();
        let other = tempfile::tempdir().unwrap();
        let stranger = dev_ca(other.path(), &[], now).unwrap();
        // A key that is not the certificate's, then a certificate another CA signed.
        std::fs::copy(&stranger.server_key, &dev.server_key).unwrap();
        assert!(dev_ca(dir.path(), &[], now).unwrap().server_issued);
        std::fs::copy(&stranger.server_cert, &dev.server_cert).unwrap();
        std::fs::copy(&stranger.server_key, &dev.server_key).unwrap();
        let again = dev_ca(dir.path(), &[], now).unwrap();
        assert!(again.server_issued);
        verify(&again, "localhost", now).unwrap();
    }

    #[test]
    fn a_ca_without_its_key_is_an_error_not_a_silent_replacement() {
        let dir = tempfile::tempdir().unwrap();
        dev_ca(dir.path(), &[], SystemTime::now()).unwrap();
        std::fs::remove_file(dir.path().join(CA_KEY)).unwrap();
        let e = dev_ca(dir.path(), &[], SystemTime::now()).unwrap_err();
        assert!(format!("{e:#}").contains("is missing"), "{e:#}");
    }

    #[test]
    fn the_operators_own_certificate_is_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["chat.example.com".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_path = dir.path().join("fullchain.pem");
        let key_path = dir.path().join("privkey.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let (chain, k) = load_pem(&cert_path, &key_path).unwrap();
        assert_eq!(chain.len(), 1);
        let config = server_config(chain, k).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);

        // Another key than the certificate's.
        let wrong = dir.path().join("wrong.pem");
        std::fs::write(&wrong, KeyPair::generate().unwrap().serialize_pem()).unwrap();
        let (chain, k) = load_pem(&cert_path, &wrong).unwrap();
        let e = server_config(chain, k).unwrap_err();
        assert!(format!("{e:#}").contains("do not go together"), "{e:#}");
    }

    #[test]
    fn bad_pem_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let dev = dev_ca(&dir.path().join("tls"), &[], SystemTime::now()).unwrap();
        let missing = dir.path().join("missing.pem");
        let cases: &[(&Path, &Path, &str)] = &[
            (&garbage, &dev.server_key, "no PEM certificate"),
            (&dev.server_cert, &garbage, "reading TLS private key"),
            (&missing, &dev.server_key, "reading TLS certificate"),
            (&dev.server_cert, &missing, "reading TLS private key"),
        ];
        for (cert, key, want) in cases {
            let e = load_pem(cert, key).unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.contains(want), "{msg}");
            let path = if msg.contains("key") { key } else { cert };
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
    }

    #[test]
    fn from_config_follows_the_tls_setting() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_data_dir(dir.path().to_path_buf());
        config.tls = TlsMode::Off;
        assert!(from_config(&config).unwrap().is_none());
        config.tls = TlsMode::Auto;
        let tls = from_config(&config).unwrap().unwrap();
        let dev = tls.dev.unwrap();
        assert_eq!(dev.ca_cert, dir.path().join("tls").join("ca.pem"));
        config.tls_cert = Some(dev.server_cert.clone());
        config.tls_key = Some(dev.server_key.clone());
        assert!(from_config(&config).unwrap().unwrap().dev.is_none());
    }
}
