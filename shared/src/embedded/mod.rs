//! The embedded engine: one SQLite file for the store and the queues, a folder for exports,
//! a folder of `.eml` files for e-mail.

mod db;

pub use db::SqliteDb;
