//! Sangam: the Jal Jeevan Mission convergence API.

pub mod db;
pub mod error;
pub mod principal;
pub mod service;
pub mod telemetry;
