//! The web worker that runs the core (loaded by trunk's loader shim).

fn main() {
    console_error_panic_hook::set_once();
    robustdx_web::worker::start();
}
