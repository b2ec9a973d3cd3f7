//! SD-JWT (RFC 9901) and the SD-JWT VC profile: issue, parse, present,
//! KB-JWT, verify. Pure: no I/O, no clock (time comes in as arguments), no
//! randomness except through [`SaltSource`].

pub mod compact;
pub mod disclosure;
pub mod issue;
pub mod kb;
pub mod path;
pub mod present;
pub mod process;
pub mod vc;
pub mod verify;

pub use compact::Compact;
pub use disclosure::Disclosure;
pub use issue::{IssueError, IssueOptions, Issued, RandomSalts, SaltSource, Template, issue};
pub use kb::{KbClaims, KbError, KbExpectations};
pub use path::{ClaimPath, PathElem};
pub use present::{HolderCredential, KeyBinding, PresentError};
pub use process::ProcessError;
pub use verify::{IssuerKeys, Verified, VerifyError, VerifyPolicy, verify};

#[cfg(test)]
mod tests;
