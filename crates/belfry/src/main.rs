//! `belfry`: a self-hosted Amazon Chime SDK Messaging and Identity server.

use clap::{Parser, Subcommand};

use belfry::config::{Config, ServeArgs};

// glibc's allocator spent a fifth of the request threads' time in malloc/free and their
// consolidation under load; mimalloc's thread-local pages make those cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "belfry",
    version,
    about = "A self-hosted Amazon Chime SDK Messaging server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Load a server with signed requests and report throughput and latency.
    Bench(belfry::bench::BenchArgs),
    /// Manage a running server: access keys, bootstrap an AppInstance, online backups.
    Admin(belfry::admin::AdminArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = Config::resolve(args)?;
            init_logging(&config.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(run(config))
        }
        Command::Bench(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(belfry::bench::run(args))
        }
        Command::Admin(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(belfry::admin::run(args))
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Every session is a socket: take all the descriptors the hard limit allows.
    match belfry::raise_nofile_limit() {
        Ok((soft, now, hard)) => {
            tracing::info!(soft, now, hard, "open-file limit raised to the hard limit")
        }
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
    let (state, admin, generated) = belfry::build_state(&config).await?;
    let server = belfry::bind(&config, state).await?;
    let addr = server.addr;
    if generated {
        match &config.store {
            belfry::config::StoreKind::Sqlite => println!(
                "Generated an admin credential (kept in the store, {}).",
                config.data_dir.join("belfry.db").display()
            ),
            belfry::config::StoreKind::Postgres(_) => println!(
                "Generated an admin credential (kept in the PostgreSQL store, shared by every node)."
            ),
        }
    }
    if config.admin_key.is_none() {
        println!("To use this server from the AWS CLI, boto3 or an AWS SDK:");
        println!("export AWS_ACCESS_KEY_ID={}", admin.access_key_id);
        println!(
            "export AWS_SECRET_ACCESS_KEY={}",
            admin.secret_access_key.expose()
        );
        println!("export AWS_REGION={}", config.region);
        println!("export AWS_DEFAULT_REGION={}", config.region);
        println!("export AWS_ENDPOINT_URL=http://{addr}");
    }
    if let Some(dev) = &server.dev_ca {
        // Absolute, so the line works from any directory.
        let ca = std::fs::canonicalize(&dev.ca_cert).unwrap_or_else(|_| dev.ca_cert.clone());
        if dev.ca_created {
            println!(
                "Generated a development certificate authority for https:// and wss:// on the same address ({}).",
                ca.display()
            );
        }
        println!("To trust it from Node.js (amazon-chime-sdk-js, the AWS SDK for JavaScript):");
        println!("export NODE_EXTRA_CA_CERTS={}", ca.display());
        println!(
            "To trust it in a browser, import {} as a trusted certificate authority (certificate settings, Authorities).",
            ca.display()
        );
    }
    let tls = match (&server.dev_ca, config.tls) {
        (_, belfry::config::TlsMode::Off) => "off",
        (Some(_), _) => "development CA",
        (None, _) => "own certificate",
    };
    tracing::info!(
        %addr,
        tls_addr = server.tls_addr.map(|a| a.to_string()),
        tls,
        data_dir = %config.data_dir.display(),
        region = %config.region,
        "belfry listening"
    );
    let token = server.state.shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
    belfry::serve(server).await?;
    tracing::info!("belfry stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        // A handler that cannot be installed must not read as a request to stop.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight and closing sessions");
}
