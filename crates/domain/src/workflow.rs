//! The workflows records move through (DESIGN section 4: "state machines ... refuse illegal
//! transitions with a clear error"): each kind's states, the steps between them and who may take
//! each step. A record's state is never stored in its content: it is the `to` of its latest
//! `record.transition` event, or the machine's first state. What a step needs beyond being legal
//! (signatures, evidence) is decided by the rules of the kind, e.g. `change_control`.

use serde::Serialize;

use crate::roles::Role;

/// One legal step: from any of `from` to `to`, taken by a holder of one of `by` (any role that
/// may write records when empty).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub from: &'static [&'static str],
    pub to: &'static str,
    #[serde(skip_serializing_if = "<[Role]>::is_empty")]
    pub by: &'static [Role],
}

/// A kind's workflow: its first state, its end states and its steps.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub kind: &'static str,
    pub initial: &'static str,
    /// States no step leaves: the record is closed and its content may no longer change.
    pub terminal: &'static [&'static str],
    pub steps: &'static [Step],
}

/// Why a step is not taken, before any evidence is looked at.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StepRefused {
    #[error("`{to}` is not a state of {kind}: its states are {}", .states.join(", "))]
    UnknownState {
        kind: &'static str,
        to: String,
        states: Vec<&'static str>,
    },
    #[error("{kind} is `{from}` and cannot move to `{to}`; from `{from}` it can move to {}", list_or_none(.allowed))]
    Illegal {
        kind: &'static str,
        from: String,
        to: String,
        allowed: Vec<&'static str>,
    },
    #[error("role {role} may not move a {kind} to `{to}`: only {} may", .by.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or "))]
    Role {
        kind: &'static str,
        to: &'static str,
        role: Role,
        by: &'static [Role],
    },
}

fn list_or_none(states: &[&str]) -> String {
    match states.is_empty() {
        true => "nothing: it is closed".to_owned(),
        false => states
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

impl Machine {
    /// Every state, the first one first, each once.
    pub fn states(&self) -> Vec<&'static str> {
        let mut states = vec![self.initial];
        for step in self.steps {
            for state in step.from.iter().chain(std::iter::once(&step.to)) {
                if !states.contains(state) {
                    states.push(state);
                }
            }
        }
        states
    }

    /// The states reachable from `from` in one step.
    pub fn next(&self, from: &str) -> Vec<&'static str> {
        self.steps
            .iter()
            .filter(|s| s.from.contains(&from))
            .map(|s| s.to)
            .collect()
    }

    pub fn is_terminal(&self, state: &str) -> bool {
        self.terminal.contains(&state)
    }

    /// The step from `from` to `to` when it is legal and `role` may take it.
    pub fn step(&self, from: &str, to: &str, role: Role) -> Result<&'static Step, StepRefused> {
        let states = self.states();
        if !states.contains(&to) {
            return Err(StepRefused::UnknownState {
                kind: self.kind,
                to: to.to_owned(),
                states,
            });
        }
        let step = self
            .steps
            .iter()
            .find(|s| s.to == to && s.from.contains(&from))
            .ok_or_else(|| StepRefused::Illegal {
                kind: self.kind,
                from: from.to_owned(),
                to: to.to_owned(),
                allowed: self.next(from),
            })?;
        if !step.by.is_empty() && !step.by.contains(&role) {
            return Err(StepRefused::Role {
                kind: self.kind,
                to: step.to,
                role,
                by: step.by,
            });
        }
        Ok(step)
    }
}

/// Change control (DESIGN section 2, change request): raised as a draft, submitted with its
/// impact, risk and re-validation scope, approved by QA's signature (or pre-approved by a
/// predetermined change control plan), implemented by a new model version, verified against
/// its re-validation protocols, closed. QA alone rejects; anyone who may write may cancel an
/// open request.
pub static CHANGE_REQUEST: Machine = Machine {
    kind: "change_request",
    initial: "draft",
    terminal: &["closed", "rejected", "cancelled"],
    steps: &[
        Step {
            from: &["draft"],
            to: "submitted",
            by: &[],
        },
        Step {
            from: &["submitted"],
            to: "approved",
            by: &[],
        },
        Step {
            from: &["submitted"],
            to: "rejected",
            by: &[Role::Qa],
        },
        Step {
            from: &["approved"],
            to: "in_implementation",
            by: &[],
        },
        Step {
            from: &["in_implementation"],
            to: "implemented",
            by: &[],
        },
        Step {
            from: &["implemented"],
            to: "verified",
            by: &[],
        },
        Step {
            from: &["verified"],
            to: "closed",
            by: &[Role::Qa],
        },
        Step {
            from: &["draft", "submitted", "approved", "in_implementation"],
            to: "cancelled",
            by: &[],
        },
    ],
};

/// Exceptions and deviations (DESIGN section 2): opened, investigated, given CAPA, the CAPA
/// carried out and its effectiveness checked, closed by QA; QA alone cancels one (with the
/// step's reason).
pub static EXCEPTION: Machine = Machine {
    kind: "exception",
    initial: "open",
    terminal: &["closed", "cancelled"],
    steps: &[
        Step {
            from: &["open"],
            to: "investigating",
            by: &[],
        },
        Step {
            from: &["investigating"],
            to: "capa_planned",
            by: &[],
        },
        Step {
            from: &["capa_planned"],
            to: "capa_in_progress",
            by: &[],
        },
        Step {
            from: &["capa_in_progress"],
            to: "effectiveness_check",
            by: &[],
        },
        Step {
            from: &["effectiveness_check"],
            to: "closed",
            by: &[Role::Qa],
        },
        Step {
            from: &[
                "open",
                "investigating",
                "capa_planned",
                "capa_in_progress",
                "effectiveness_check",
            ],
            to: "cancelled",
            by: &[Role::Qa],
        },
    ],
};

/// Corrective and preventive actions: planned, carried out, their effectiveness checked, closed
/// by QA; QA alone cancels.
pub static CAPA: Machine = Machine {
    kind: "capa",
    initial: "planned",
    terminal: &["closed", "cancelled"],
    steps: &[
        Step {
            from: &["planned"],
            to: "in_progress",
            by: &[],
        },
        Step {
            from: &["in_progress"],
            to: "effectiveness_check",
            by: &[],
        },
        Step {
            from: &["effectiveness_check"],
            to: "closed",
            by: &[Role::Qa],
        },
        Step {
            from: &["effectiveness_check"],
            to: "in_progress",
            by: &[],
        },
        Step {
            from: &["planned", "in_progress", "effectiveness_check"],
            to: "cancelled",
            by: &[Role::Qa],
        },
    ],
};

/// The workflow of `kind`, when records of that kind have one.
pub fn machine(kind: &str) -> Option<&'static Machine> {
    [&CHANGE_REQUEST, &EXCEPTION, &CAPA]
        .into_iter()
        .find(|m| m.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_illegal_step_names_the_state_and_the_steps_there_are() {
        let e = CHANGE_REQUEST
            .step("draft", "approved", Role::Qa)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "change_request is `draft` and cannot move to `approved`; from `draft` it can move \
             to `submitted`, `cancelled`"
        );
        let e = CHANGE_REQUEST
            .step("closed", "draft", Role::Qa)
            .unwrap_err();
        assert!(e.to_string().ends_with("nothing: it is closed"), "{e}");
        let e = CHANGE_REQUEST.step("draft", "done", Role::Qa).unwrap_err();
        assert!(e.to_string().starts_with("`done` is not a state of change_request: its states are draft, submitted, approved"), "{e}");
    }

    #[test]
    fn a_step_kept_for_a_role_refuses_the_others() {
        let e = CHANGE_REQUEST
            .step("submitted", "rejected", Role::Developer)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "role developer may not move a change_request to `rejected`: only qa may"
        );
        assert!(CHANGE_REQUEST
            .step("submitted", "rejected", Role::Qa)
            .is_ok());
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for machine in [&CHANGE_REQUEST, &EXCEPTION, &CAPA] {
            for state in machine.terminal {
                assert!(machine.next(state).is_empty(), "{} {state}", machine.kind);
            }
        }
        assert_eq!(
            EXCEPTION.states(),
            [
                "open",
                "investigating",
                "capa_planned",
                "capa_in_progress",
                "effectiveness_check",
                "closed",
                "cancelled"
            ]
        );
        let e = EXCEPTION.step("open", "closed", Role::Qa).unwrap_err();
        assert!(
            e.to_string().contains("`investigating`, `cancelled`"),
            "{e}"
        );
        assert!(CHANGE_REQUEST.states().contains(&"verified"));
    }
}
