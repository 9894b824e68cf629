//! How long free text may be. Every text a client writes has a limit, so a request cannot
//! store megabytes in a note; the error names the argument at fault.

use crate::error::{ApiError, ApiResult};

pub const TITLE: usize = 200;
pub const DESCRIPTION: usize = 10_000;
/// Comments, and the notes of transitions and reassignments.
pub const NOTE: usize = 4_000;
pub const CAPTION: usize = 500;
/// Names of water sources, laboratories and testers.
pub const NAME: usize = 200;
pub const URL: usize = 2_000;

/// BAD_USER_INPUT on `argument` when `text` has more than `max` characters.
pub fn at_most(argument: &str, text: &str, max: usize) -> ApiResult<()> {
    if text.chars().count() > max {
        return Err(ApiError::bad_input(
            argument,
            format!("`{argument}` has at most {max} characters"),
        ));
    }
    Ok(())
}

/// The same for optional text.
pub fn at_most_opt(argument: &str, text: Option<&str>, max: usize) -> ApiResult<()> {
    text.map_or(Ok(()), |t| at_most(argument, t, max))
}
