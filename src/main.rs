//! The `samlhub` binary; see [`samlhub::cli`].

fn main() -> std::process::ExitCode {
    samlhub::cli::main()
}
