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
    let (state, admin, generated) = belfry::build_state(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if generated {
        println!(
            "Generated an admin credential (kept in {}/admin-credentials.toml, mode 0600).",
            config.data_dir.display()
        );
    }
    if config.admin_key.is_none() {
        println!("To use this server from the AWS CLI, boto3 or an AWS SDK:");
        println!("export AWS_ACCESS_KEY_ID={}", admin.access_key_id);
        println!("export AWS_SECRET_ACCESS_KEY={}", admin.secret_access_key);
        println!("export AWS_REGION={}", config.region);
        println!("export AWS_DEFAULT_REGION={}", config.region);
        println!("export AWS_ENDPOINT_URL=http://{addr}");
    }
    tracing::info!(%addr, data_dir = %config.data_dir.display(), region = %config.region, "belfry listening");
    belfry::serve(state, listener, shutdown_signal()).await?;
    tracing::info!("belfry stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
    tracing::info!("shutdown requested; finishing in-flight requests");
}
