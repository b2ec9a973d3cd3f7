//! The authoritative registry of citizens and their documents.
