//! The `kubesim` command line: one function per subcommand, in `cli/`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: a simulation allocates and frees millions of small objects, and
/// glibc's malloc spends a share that grows with the heap consolidating
/// fragments (README, "Dependencies and why").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A closed pipe (`kubesim run … | head -1`) ends the process quietly, as
    // it does for every Unix tool, instead of a panic in println!.
    // SAFETY: called first, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
