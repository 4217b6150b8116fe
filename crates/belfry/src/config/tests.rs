//! Resolving and checking the configuration.

use super::*;

#[test]
fn public_endpoints_are_host_and_port_only() {
    let cases: &[(&str, bool)] = &[
        ("chat.example.com", true),
        ("chat.example.com:8443", true),
        ("127.0.0.1:7755", true),
        ("[::1]:7755", true),
        ("", false),
        ("https://chat.example.com", false),
        ("wss://chat.example.com", false),
        ("chat.example.com/connect", false),
        ("chat.example.com:", false),
        ("chat.example.com:0", false),
        ("chat.example.com:99999", false),
        ("user@chat.example.com", false),
        ("chat example.com", false),
    ];
    for (endpoint, ok) in cases {
        assert_eq!(
            check_public_endpoint(endpoint).is_ok(),
            *ok,
            "{endpoint:?}: {:?}",
            check_public_endpoint(endpoint)
        );
    }
}

#[test]
fn tls_settings_that_cannot_take_effect_are_refused() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    type Case = (&'static str, fn(&mut Config), Option<&'static str>);
    let cases: &[Case] = &[
        ("defaults", |_| {}, None),
        (
            "names",
            |c| c.tls_names = vec!["phone.local".into(), "10.0.0.2".into()],
            None,
        ),
        (
            "bad name",
            |c| c.tls_names = vec!["not a name".into()],
            Some("tls_names"),
        ),
        (
            "cert alone",
            |c| c.tls_cert = Some("c.pem".into()),
            Some("both"),
        ),
        (
            "key alone",
            |c| c.tls_key = Some("k.pem".into()),
            Some("both"),
        ),
        (
            "own cert and names",
            |c| {
                c.tls_cert = Some("c.pem".into());
                c.tls_key = Some("k.pem".into());
                c.tls_names = vec!["x.local".into()];
            },
            Some("tls_names"),
        ),
        ("off", |c| c.tls = TlsMode::Off, None),
        (
            "off with a TLS address",
            |c| {
                c.tls = TlsMode::Off;
                c.tls_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
            },
            Some("tls_listen"),
        ),
        (
            "off with a cert",
            |c| {
                c.tls = TlsMode::Off;
                c.tls_cert = Some("c.pem".into());
                c.tls_key = Some("k.pem".into());
            },
            Some("tls_cert"),
        ),
        (
            "no connections",
            |c| c.max_connections = 0,
            Some("max_connections"),
        ),
        (
            "no queue",
            |c| c.session_queue_frames = 0,
            Some("session_queue_frames"),
        ),
    ];
    for (what, change, want) in cases {
        let mut c = Config::with_data_dir(PathBuf::from("d"));
        c.listen = addr;
        change(&mut c);
        match (c.check(), want) {
            (Ok(()), None) => {}
            (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{what}: {e}"),
            (r, _) => panic!("{what}: {r:?}"),
        }
    }
}

#[test]
fn flags_give_the_tls_address_and_the_public_endpoint_over_the_file() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.toml");
    std::fs::write(
        &path,
        "tls_listen = \"127.0.0.1:1\"\npublic_endpoint = \"file.example.com\"\n",
    )
    .unwrap();
    let file_only = ServeArgs {
        config: Some(path.clone()),
        ..ServeArgs::default()
    };
    let c = Config::resolve(file_only).unwrap();
    assert_eq!(c.tls_listen, Some(SocketAddr::from(([127, 0, 0, 1], 1))));
    assert_eq!(c.public_endpoint.as_deref(), Some("file.example.com"));
    let cli = Cli::try_parse_from([
        "belfry",
        "--config",
        path.to_str().unwrap(),
        "--tls-listen",
        "127.0.0.1:8443",
        "--public-endpoint",
        "chat.example.com:443",
    ])
    .unwrap();
    let c = Config::resolve(cli.serve).unwrap();
    assert_eq!(c.tls_listen, Some(SocketAddr::from(([127, 0, 0, 1], 8443))));
    assert_eq!(c.public_endpoint.as_deref(), Some("chat.example.com:443"));
}

/// No secret the server holds can reach a log line through `Debug`.
#[test]
fn debug_output_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.toml");
    std::fs::write(
        &path,
        "[[access_keys]]\nid = \"AKIDFILE\"\nsecret = \"file-secret-7f3a\"\n",
    )
    .unwrap();
    let mut c = Config::resolve(ServeArgs {
        config: Some(path),
        data_dir: Some(dir.path().to_path_buf()),
        ..ServeArgs::default()
    })
    .unwrap();
    assert_eq!(c.access_keys[0].secret.expose(), "file-secret-7f3a");
    c.admin_key = Some(("AKIDADMIN".into(), "env-secret-91bc".into()));
    let admin = generate_admin_credential();
    let page = belfry_core::paging::PageKey::new(generate_page_key());
    let printed = format!("{c:?} {admin:?} {page:?}");
    for secret in [
        "file-secret-7f3a",
        "env-secret-91bc",
        admin.secret_access_key.expose(),
        &hex::encode(page.expose()),
        &format!("{:?}", page.expose()),
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("AKIDFILE") && printed.contains("[redacted]"));
    // The files an earlier version wrote are read back whole; none is no error.
    assert!(legacy_admin_credential(dir.path()).unwrap().is_none());
    assert!(legacy_page_key(dir.path()).unwrap().is_none());
    let raw = generate_page_key();
    super::secrets::write_legacy(dir.path(), &admin, &raw).unwrap();
    let read = legacy_admin_credential(dir.path()).unwrap().unwrap();
    assert_eq!(read.access_key_id, admin.access_key_id);
    assert_eq!(read.secret_access_key, admin.secret_access_key);
    assert_eq!(legacy_page_key(dir.path()).unwrap(), Some(raw));
}

#[test]
fn timeouts_over_a_day_are_refused() {
    let mut c = Config::with_data_dir("/tmp/x".into());
    c.header_read_timeout_secs = u64::MAX;
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("header_read_timeout_secs"), "{e}");
}

#[test]
fn cors_origins_come_from_the_file_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.toml");
    let resolve = |text: &str| {
        std::fs::write(&path, text).unwrap();
        Config::resolve(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
    };
    assert_eq!(resolve("").unwrap().cors_origins, ["*"]);
    let c = resolve(r#"cors_origins = ["https://chat.example.com"]"#).unwrap();
    assert_eq!(c.cors_origins, ["https://chat.example.com"]);
    let e = resolve(r#"cors_origins = ["chat.example.com"]"#).unwrap_err();
    assert!(format!("{e:#}").contains("cors_origins"), "{e:#}");
}

#[test]
fn the_file_takes_every_new_key() {
    let text = r#"
        tls = "off"
        public_endpoint = "chat.example.com"
        max_connections = 10
        drain_secs = 3
        handshake_timeout_ms = 500
        ping_interval_secs = 5
        max_sessions = 7
        session_queue_frames = 64
        header_read_timeout_secs = 4
        body_read_timeout_secs = 6
    "#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.toml");
    std::fs::write(&path, text).unwrap();
    let c = Config::resolve(ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    })
    .unwrap();
    assert_eq!(c.tls, TlsMode::Off);
    assert_eq!(c.public_endpoint.as_deref(), Some("chat.example.com"));
    assert_eq!(
        (c.max_connections, c.drain_secs, c.handshake_timeout_ms),
        (10, 3, 500)
    );
    assert_eq!(
        (c.ping_interval_secs, c.max_sessions, c.session_queue_frames),
        (5, 7, 64)
    );
    assert_eq!(
        (c.header_read_timeout_secs, c.body_read_timeout_secs),
        (4, 6)
    );
}

/// The cluster example in `examples/cluster/` is a configuration the server accepts.
#[test]
fn the_cluster_example_configuration_resolves() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster/node.toml");
    let c = Config::resolve(ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    })
    .unwrap();
    assert_eq!(
        c.store,
        StoreKind::Postgres("postgres://belfry@db.internal:5432/belfry".into())
    );
    assert_eq!(c.bus.as_deref(), Some("nats://nats.internal:4222"));
    assert_eq!(c.bus_subject, "belfry.prod.events");
    assert_eq!(c.tls, TlsMode::Off);
}

#[test]
fn a_bus_needs_a_shared_store_and_a_nats_url() {
    let mut c = Config::with_data_dir("/tmp/x".into());
    c.bus = Some("nats://127.0.0.1:4222".into());
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("only one node can use a SQLite store"), "{e}");
    c.store = StoreKind::Postgres("postgres://h/db".into());
    c.check().unwrap();
    c.bus = Some("http://nats".into());
    assert!(c.check().unwrap_err().to_string().contains("nats://"));
    c.bus = Some("nats://n".into());
    c.bus_subject = "a..b".into();
    assert!(c.check().unwrap_err().to_string().contains("bus_subject"));
    assert_eq!(
        format!(
            "{:?}",
            StoreKind::Postgres("postgres://u:hunter2@h/db".into())
        ),
        "Postgres(postgres://u:[redacted]@h/db)"
    );
}

#[test]
fn metrics_is_main_off_or_an_address_and_the_flag_beats_the_file() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }
    assert_eq!(
        Config::resolve(ServeArgs::default()).unwrap().metrics,
        MetricsMode::Main
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.toml");
    let resolve = |file: &str, flags: &[&str]| {
        std::fs::write(&path, file).unwrap();
        let mut args = vec!["belfry", "--config", path.to_str().unwrap()];
        args.extend_from_slice(flags);
        Config::resolve(Cli::try_parse_from(args).unwrap().serve)
    };
    assert_eq!(
        resolve("metrics = \"off\"\n", &[]).unwrap().metrics,
        MetricsMode::Off
    );
    assert_eq!(
        resolve("metrics = \"off\"\n", &["--metrics", "127.0.0.1:9100"])
            .unwrap()
            .metrics,
        MetricsMode::Listen(SocketAddr::from(([127, 0, 0, 1], 9100)))
    );
    assert_eq!(
        resolve("metrics = \"127.0.0.1:9100\"\n", &["--metrics", "main"])
            .unwrap()
            .metrics,
        MetricsMode::Main
    );
    let bad = resolve("metrics = \"on\"\n", &[]).unwrap_err();
    assert!(bad.to_string().contains("main, off or an address"), "{bad}");
}
