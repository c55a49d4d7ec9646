//! The `sflow` binary: hands the command line to `sflow::cli`.

fn main() -> std::process::ExitCode {
    sflow::cli::run()
}
