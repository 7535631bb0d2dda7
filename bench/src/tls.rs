//! A TLS terminator in front of DynamoDB Local, on loopback only, with a test CA made
//! for this run: what the functions meet in AWS (an HTTPS endpoint) without leaving the
//! machine. The functions trust the CA through `SSL_CERT_FILE`, which the SDK's default
//! HTTPS client reads (`rustls-native-certs`) in place of the system's roots.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::Failure;

/// Where the system's roots are on Debian and Ubuntu; Lambda's own bundle
/// (`/etc/pki/tls/certs/ca-bundle.crt` on `provided.al2023`) is about as long.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The trust the functions are given, as files for `SSL_CERT_FILE`.
pub struct Trust {
    /// An empty directory, for `SSL_CERT_DIR`: without it, a machine that sets it (as
    /// this one does, to `/etc/ssl/certs`) has the client read every file there too.
    pub no_cert_dir: PathBuf,
    /// The test CA alone: a client that reads and parses one root.
    pub test_ca_only: PathBuf,
    /// The system's roots and the test CA: a client that reads and parses a whole
    /// bundle, as in Lambda.
    pub system_roots_and_test_ca: PathBuf,
    /// How many roots that bundle holds.
    pub system_root_count: usize,
}

/// A running terminator: `url` is the HTTPS endpoint for `AWS_ENDPOINT_URL_DYNAMODB`.
pub struct Terminator {
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Terminator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Makes a test CA and a certificate for `127.0.0.1` signed by it, writes the trust
/// files under `dir`, and starts the terminator forwarding to `upstream`.
pub async fn start(dir: &Path, upstream: SocketAddr) -> Result<(Terminator, Trust), Failure> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "join-requests bench test CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&leaf_key, &issuer)?;

    let no_cert_dir = dir.join("no-cert-dir");
    std::fs::create_dir_all(&no_cert_dir)?;
    let test_ca_only = dir.join("test-ca.pem");
    std::fs::write(&test_ca_only, ca.pem())?;
    let system_roots = std::fs::read_to_string(SYSTEM_ROOTS)?;
    let system_roots_and_test_ca = dir.join("system-roots-and-test-ca.pem");
    std::fs::write(&system_roots_and_test_ca, format!("{system_roots}\n{}", ca.pem()))?;
    let trust = Trust {
        no_cert_dir,
        test_ca_only,
        system_roots_and_test_ca,
        system_root_count: system_roots.matches("BEGIN CERTIFICATE").count(),
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Without it, Nagle holds a small write (a session ticket, then the first
                // answer) for the client's delayed ACK: 40 ms that no real endpoint adds.
                let _ = stream.set_nodelay(true);
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let Ok(mut plain) = TcpStream::connect(upstream).await else { return };
                let _ = plain.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Ok((Terminator { url, server }, trust))
}
