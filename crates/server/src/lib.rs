//! The modeltrail HTTP server: the REST API under `/api/v1`, authentication and the authority
//! check every endpoint makes, versioned records and electronic signatures over the domain
//! crate, and the ledger (checkpoints, events, proofs) over HTTP. Every change of state is an
//! event appended through the one sequencer; what the server answers from is the projection the
//! sequencer keeps current.

mod auth;
mod charts;
mod config;
mod dossier;
mod error;
mod json;
mod metrics;
mod monitor;
mod openapi;
pub mod report;
mod routes;
mod sessions;
mod start;
mod state;
mod ui;
mod webhooks;

pub use config::{ServerConfig, TlsFiles, WebhookConfig};
pub use start::{serve, start, Running, StartError};
