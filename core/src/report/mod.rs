//! Result records shared by the native binary and the web page (which can open native files).

mod schema;

pub use schema::{DataSummary, EvalReport, ModelSummary, SCHEMA_VERSION, ToolInfo};
