pub mod path;
pub use path::{ClaimPath, PathElem};
