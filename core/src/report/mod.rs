//! Result records shared by the native binary and the web page (which can open native files).

mod schema;

pub use schema::{
    AttackReport, AttackResult, ClassProbability, DataSummary, EvalReport, ImagePrediction,
    ModelSummary, PredictReport, SCHEMA_VERSION, ToolInfo,
};
