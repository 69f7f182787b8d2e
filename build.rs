//! Embeds an rpath to libtorch so the binary, tests and benches start without LD_LIBRARY_PATH.

fn main() {
    // torch-sys (links = "tch") publishes the libtorch lib dir it linked against; it reaches us
    // as DEP_TCH_LIBTORCH_LIB because torch-sys is a direct dependency.
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
