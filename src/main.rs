//! The `keel` command line. Parsing only: every subcommand calls into the library.

fn main() {
    println!("keel {}", env!("CARGO_PKG_VERSION"));
}
