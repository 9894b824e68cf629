// glibc's allocator was a quarter of the server's CPU under load, much of it waiting on its
// arena locks (see BENCHMARKS.md); mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::main()
}
