//! zkb: reads Zimbra logs, recognises known problems and answers each with its fix.
//!
//! The modules follow the data flow: [`sources`] yield byte streams, [`framing`] splits them
//! into events, [`parse`] turns an event into fields, [`rules`] and [`matcher`] decide which
//! rules an event matches, [`kb`] supplies the fixes, [`scan`] runs the whole pipeline over
//! files, and [`output`] prints what was found.

pub mod baseline;
pub mod board;
pub mod check;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod diff;
pub mod error;
pub mod explain;
pub mod framing;
pub mod generate;
pub mod kb;
pub mod kind;
pub mod learn;
pub mod maint;
pub mod matcher;
pub mod output;
pub mod parse;
pub mod preflight;
pub mod priority;
pub mod relay;
pub mod report;
pub mod rules;
pub mod run;
pub mod scan;
pub mod search;
pub mod sources;
pub mod state;
pub mod store;
pub mod version;
pub mod watch;

/// The shipped rules and KB, embedded at build time (see `build.rs`).
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}
