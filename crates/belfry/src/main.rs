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
            belfry::logging::init(&config.log_format);
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
    banner(&config, &server, &admin, generated);
    let stop = shutdown_signal();
    let tls = match (&server.dev_ca, config.tls) {
        (_, belfry::config::TlsMode::Off) => "off",
        (Some(_), _) => "development CA",
        (None, _) => "own certificate",
    };
    tracing::info!(
        %addr,
        tls_addr = server.tls_addr.map(|a| a.to_string()),
        metrics_addr = server.metrics_addr.map(|a| a.to_string()),
        tls,
        data_dir = %config.data_dir.display(),
        region = %config.region,
        "belfry listening"
    );
    let token = server.state.shutdown.clone();
    tokio::spawn(async move {
        stop.await;
        token.cancel();
    });
    belfry::serve(server).await?;
    tracing::info!("belfry stopped");
    Ok(())
}

/// What the operator needs to use the server: the credential to export (its secret only when
/// it was just generated: later starts say where it is kept) and the development CA.
fn banner(
    config: &Config,
    server: &belfry::Server,
    admin: &belfry::AdminCredential,
    generated: bool,
) {
    let addr = server.addr;
    use belfry::config::StoreKind;
    let out = belfry::logging::Banner::new(&config.log_format);
    let kept = match &config.store {
        StoreKind::Sqlite => format!(
            "kept in the store, {}",
            config.data_dir.join("belfry.db").display()
        ),
        StoreKind::Postgres(_) => "kept in the PostgreSQL store, shared by every node".into(),
    };
    if generated {
        out.say(&format!("Generated an admin credential ({kept})."));
    }
    if config.admin_key.is_none() {
        let about = "To use this server from the AWS CLI, boto3 or an AWS SDK:";
        out.say(about);
        out.export(about, "AWS_ACCESS_KEY_ID", &admin.access_key_id);
        if generated {
            out.export(
                about,
                "AWS_SECRET_ACCESS_KEY",
                admin.secret_access_key.expose(),
            );
        } else {
            out.say(&format!(
                "AWS_SECRET_ACCESS_KEY: the admin secret printed at the first start ({kept})."
            ));
        }
        out.export(about, "AWS_REGION", &config.region);
        out.export(about, "AWS_DEFAULT_REGION", &config.region);
        out.export(about, "AWS_ENDPOINT_URL", &format!("http://{addr}"));
    }
    if let Some(dev) = &server.dev_ca {
        // Absolute, so the line works from any directory.
        let ca = std::fs::canonicalize(&dev.ca_cert).unwrap_or_else(|_| dev.ca_cert.clone());
        if dev.ca_created {
            out.say(&format!(
                "Generated a development certificate authority for https:// and wss:// on the same address ({}).",
                ca.display()
            ));
        }
        let node = "To trust it from Node.js (amazon-chime-sdk-js, the AWS SDK for JavaScript):";
        out.say(node);
        out.export(node, "NODE_EXTRA_CA_CERTS", &ca.display().to_string());
        out.say(&format!(
            "To trust it in a browser, import {} as a trusted certificate authority (certificate settings, Authorities).",
            ca.display()
        ));
    }
}

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal sent as soon as the server says it listens
/// is a request to stop rather than the default action (an unclean exit).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        // A handler that cannot be installed must not read as a request to stop.
        #[cfg(unix)]
        {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {},
                _ = wait(term) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown requested; finishing requests in flight and closing sessions");
    }
}
