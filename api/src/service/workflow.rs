//! The task state machine and who may move a task.
//!
//! OPEN → IN_PROGRESS → DONE → VERIFIED; IN_PROGRESS ⇄ BLOCKED (with a reason); any open state →
//! CANCELLED (with a reason). The assignee moves its own work; only a coordinator or an
//! administrator verifies; a department may cancel what it raised.

use entities::{enums::TaskStatus, task};

use crate::{
    error::{ApiError, ApiResult},
    principal::{Principal, Role},
};

pub fn legal_next(from: TaskStatus) -> &'static [TaskStatus] {
    use TaskStatus::*;
    match from {
        Open => &[InProgress, Cancelled],
        InProgress => &[Done, Blocked, Cancelled],
        Blocked => &[InProgress, Cancelled],
        Done => &[Verified],
        Verified | Cancelled => &[],
    }
}

fn name(s: TaskStatus) -> &'static str {
    use TaskStatus::*;
    match s {
        Open => "OPEN",
        InProgress => "IN_PROGRESS",
        Blocked => "BLOCKED",
        Done => "DONE",
        Verified => "VERIFIED",
        Cancelled => "CANCELLED",
    }
}

/// Checks the move is legal and carries the reason it needs.
pub fn check_move(from: TaskStatus, to: TaskStatus, note: Option<&str>) -> ApiResult<()> {
    let legal = legal_next(from);
    if !legal.contains(&to) {
        let names: Vec<_> = legal.iter().map(|s| name(*s)).collect();
        let options = if names.is_empty() {
            "none: the task is closed".to_owned()
        } else {
            names.join(", ")
        };
        return Err(ApiError::bad_input(
            "to",
            format!(
                "a task cannot move from {} to {}; legal moves: {options}",
                name(from),
                name(to)
            ),
        ));
    }
    let needs_reason = matches!(to, TaskStatus::Blocked | TaskStatus::Cancelled);
    if needs_reason && note.is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::bad_input(
            "note",
            format!("moving a task to {} needs a reason in `note`", name(to)),
        ));
    }
    Ok(())
}

fn coordinates(who: &Principal) -> bool {
    matches!(who.role, Role::StateAdmin | Role::DistrictCoordinator)
}

fn is_assignee(who: &Principal, t: &task::Model) -> bool {
    who.organisation_id == Some(t.assignee_organisation_id)
}

fn raised(who: &Principal, t: &task::Model) -> bool {
    who.organisation_id.is_some() && who.organisation_id == t.raised_by_organisation_id
}

fn forbidden(what: &str) -> ApiError {
    ApiError::Forbidden {
        needs: what.to_owned(),
    }
}

/// Whether `who` may make this move on a task it can already see.
pub fn may_move(who: &Principal, t: &task::Model, to: TaskStatus) -> ApiResult<()> {
    if coordinates(who) {
        return Ok(());
    }
    match to {
        TaskStatus::Verified => Err(forbidden("a coordinator or administrator to verify")),
        TaskStatus::Cancelled if who.role == Role::Department && raised(who, t) => Ok(()),
        TaskStatus::Cancelled => Err(forbidden(
            "a coordinator, an administrator or the raising department to cancel",
        )),
        _ if is_assignee(who, t) && matches!(who.role, Role::Department | Role::Partner) => Ok(()),
        _ => Err(forbidden("the assignee to move its own work")),
    }
}

/// Editing or reassigning: coordinators and administrators, or whoever raised the task.
pub fn may_edit(who: &Principal, t: &task::Model) -> ApiResult<()> {
    if coordinates(who) || (matches!(who.role, Role::Department | Role::Partner) && raised(who, t))
    {
        Ok(())
    } else {
        Err(forbidden(
            "a coordinator, an administrator or the raiser to edit",
        ))
    }
}

/// Attaching evidence: the assignee, coordinators and administrators.
pub fn may_attach(who: &Principal, t: &task::Model) -> ApiResult<()> {
    if coordinates(who) || is_assignee(who, t) {
        Ok(())
    } else {
        Err(forbidden("the assignee, a coordinator or an administrator"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn the_machine_allows_exactly_the_documented_moves() {
        let all = [Open, InProgress, Blocked, Done, Verified, Cancelled];
        let allowed = [
            (Open, InProgress),
            (Open, Cancelled),
            (InProgress, Done),
            (InProgress, Blocked),
            (InProgress, Cancelled),
            (Blocked, InProgress),
            (Blocked, Cancelled),
            (Done, Verified),
        ];
        for from in all {
            for to in all {
                let ok = check_move(from, to, Some("reason")).is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn blocking_and_cancelling_need_a_reason_and_errors_list_legal_moves() {
        assert!(check_move(InProgress, Blocked, None).is_err());
        assert!(check_move(Open, Cancelled, Some("  ")).is_err());
        let err = check_move(Open, Done, None).expect_err("illegal");
        assert!(err.to_string().contains("IN_PROGRESS, CANCELLED"), "{err}");
    }
}
