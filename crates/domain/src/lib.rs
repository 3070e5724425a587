//! The GxP domain: what the log's events mean. Record types and their JSON Schemas, field-level
//! diffs between versions, users, roles and what each may do, passwords and tokens, electronic
//! signatures, and the projections (current state) rebuilt from the log. No I/O: the server
//! feeds it events and stores what it returns.

pub mod actions;
pub mod capa;
pub mod change_control;
pub mod computed;
pub mod criteria;
pub mod decisions;
pub mod diff;
pub mod dossier;
pub mod feedback;
pub mod gate;
pub mod identity;
pub mod lifecycle;
pub mod lineage;
pub mod mlflow;
pub mod monitoring;
pub mod notifications;
pub mod profiled;
pub mod projection;
pub mod risk;
pub mod roles;
pub mod schemas;
pub mod signature;
pub mod training;
pub mod validation;
pub mod workflow;
