//! Statistics the server computes from uploaded data, so that evidence in the trail is derived
//! rather than typed in: data profiles (CSV and Parquet), fairness metrics (as Fairlearn defines
//! them, from JSON columns or from the columns of a CSV or Parquet file), global importance
//! from attribution matrices, data drift (as scipy and Evidently compute it) and model
//! performance (as scikit-learn computes it). Pure functions over bytes and columns.

pub mod drift;
pub mod fairness;
pub mod fairness_file;
pub mod importance;
pub mod performance;
pub mod profile;
mod radix;
pub mod special;
pub mod table_columns;
