//! Statistics the server computes from uploaded data, so that evidence in the trail is derived
//! rather than typed in: data profiles (CSV and Parquet), fairness metrics (as Fairlearn defines
//! them) and global importance from attribution matrices. Pure functions over bytes and columns.

pub mod fairness;
pub mod importance;
pub mod profile;
