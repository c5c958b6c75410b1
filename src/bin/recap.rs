//! The `recap` command-line tool. All logic lives in the library's private `cli` module.

fn main() -> std::process::ExitCode {
    recap::cli_main()
}
