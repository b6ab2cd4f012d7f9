//! `gateway`: parse the configuration, bind, print the start-up facts, serve until Ctrl-C or
//! SIGTERM, then drain.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use common::settings::{Layers, parse_dotenv};
use gateway::Gateway;
use gateway::config::{Args, Command, Config};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEWAY_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mut args = Args::parse();
    let command = args.command.take();
    let env_file = args.env_file.clone().unwrap_or_else(|| ".env".into());
    let dotenv = match std::fs::read_to_string(&env_file) {
        Ok(text) => parse_dotenv(&text).with_context(|| format!("{}", env_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.env_file.is_none() => {
            Default::default()
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", env_file.display())),
    };
    let layers = Layers {
        env: std::env::vars().collect(),
        dotenv,
    };
    let config = Config::resolve(args, &layers)?;
    match command {
        Some(Command::Enroll) => return enroll(&config).await,
        Some(Command::Backup { to }) => return backup(&config, &to).await,
        Some(Command::Restore { from }) => return restore(&config, &from).await,
        None => {}
    }

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    let bound = listener.local_addr()?;
    // Installed before serving: a SIGTERM from then on drains instead of killing the process.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listen for SIGTERM")?;
    let gw = Gateway::open(config, bound).await?;
    print_banner(&gw, bound);

    // systemd and container runtimes stop a service with SIGTERM, a terminal with Ctrl-C: both
    // stop accepting and let open requests finish.
    gw.run(listener, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
    })
    .await
}

/// `gateway enroll`: a one-time enrollment token, from the database directly.
async fn enroll(config: &Config) -> anyhow::Result<()> {
    let store = gateway::store::open(&config.database)
        .await
        .with_context(|| format!("open the database {}", config.database))?;
    let token = gateway::agents::new_enrollment(store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("make an enrollment token: {e:?}"))?;
    println!("{}", token.token);
    eprintln!(
        "gateway: a one-time enrollment token, valid for {} minutes: \
         claude-runner agent --enroll-token <token> --name <name>",
        gateway::agents::ENROLLMENT_TTL.as_secs() / 60
    );
    Ok(())
}

/// What a person needs right after start: where it listens, how to trust it, how to use it.
fn print_banner(gw: &Gateway, bound: std::net::SocketAddr) {
    if let Some(w) = &gw.warning {
        tracing::warn!("{w}");
    }
    println!("gateway listening on {} ({bound})", gw.base_url);
    if let Some(tls) = &gw.tls {
        if let Some(ca) = &tls.ca_path {
            println!("  CA certificate:    {}", ca.display());
        }
        if let Some(fp) = &tls.ca_fingerprint {
            println!("  CA SHA-256:        {fp}");
        }
        if let Some(acme) = &tls.acme {
            println!(
                "  certificate:       by ACME for {}",
                acme.domains().join(", ")
            );
        }
        if tls.generated {
            println!("  (a local CA and a certificate for localhost were generated on this start)");
        }
    } else {
        println!("  plain HTTP: no TLS");
    }
    if let gateway::artifacts::Bodies::Objects(objects) = &gw.state.artifact_bodies {
        println!("  artifact bodies:   {}", objects.describe());
    }
    if let Some(path) = &gw.generated_secret_path {
        println!(
            "  HMAC secret:       generated, saved in {}",
            path.display()
        );
    }
    if let Some(token) = &gw.new_admin_token {
        println!(
            "  admin token:       {}  (shown once; the gateway keeps only its hash)",
            token.expose()
        );
    }
    if let Some(password) = &gw.new_admin_password {
        println!(
            "  admin password:    {}  (web UI sign-in; shown once; set GATEWAY_ADMIN_PASSWORD to choose it)",
            password.expose()
        );
    }
    // Name the runner binary built beside this one when there is one, so the line can be pasted.
    let runner = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("claude-runner")))
        .filter(|p| p.exists())
        .map_or_else(|| "claude-runner".to_string(), |p| p.display().to_string());
    println!("start a runner against it:");
    println!(
        "  {runner} --env-file {} start --cmd \"your prompt\"",
        gw.runner_env_path.display()
    );
}

/// `gateway backup --to FILE`: a snapshot of a gateway that may be running.
async fn backup(config: &Config, to: &std::path::Path) -> anyhow::Result<()> {
    let (config2, to2) = (config.clone(), to.to_path_buf());
    let report = tokio::task::spawn_blocking(move || gateway::backup::backup(&config2, &to2))
        .await
        .context("the backup task failed")?
        .context("back up")?;
    println!(
        "backed up {} runs and {} files ({} bytes) to {}",
        report.runs,
        report.files.len(),
        report.bytes,
        to.display()
    );
    eprintln!(
        "warning: {} holds the HMAC secret, the TLS keys and every run's signing key. It is \
         readable by its owner only; keep it where only the gateway's operators can read it \
         (not a shared drive, not a repository), encrypted if it leaves the machine.",
        to.display()
    );
    if let Some(objects) = &config.artifact_store {
        eprintln!(
            "note: artifact bodies are in {objects} (ARTIFACT_STORE), which is not part of {}:              it holds their names, sizes and digests only. Back the bucket up on its own              (versioning or replication), and keep it with this file.",
            to.display()
        );
    }
    Ok(())
}

/// `gateway restore --from FILE`: into an empty data directory.
async fn restore(config: &Config, from: &std::path::Path) -> anyhow::Result<()> {
    let (config2, from2) = (config.clone(), from.to_path_buf());
    let report = tokio::task::spawn_blocking(move || gateway::backup::restore(&config2, &from2))
        .await
        .context("the restore task failed")?
        .context("restore")?;
    println!(
        "restored {} runs and {} files into {}; start the gateway with the same --data-dir",
        report.runs,
        report.files.len(),
        config.data_dir.display()
    );
    Ok(())
}
