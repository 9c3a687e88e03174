//! The page: Leptos, client-side rendered. The tensor work happens in `robustdx-worker`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(robustdx_web::ui::App);
}
