//! The `recap` command-line tool. All logic lives in `recap::cli`.

fn main() -> std::process::ExitCode {
    recap::cli::main()
}
