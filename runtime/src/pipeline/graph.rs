//! The stage graph: stages are nodes, `needs` entries are edges from a stage
//! to the stages it waits for.
//!
//! These functions work on stage indices and ignore `needs` that name no
//! stage, so they are safe on any list of stages; loading a pipeline refuses
//! unknown `needs` and cycles before anything else relies on the order.

use std::collections::{BTreeSet, HashMap};

use super::StageSpec;

/// Stage index by id.
fn index_by_id(stages: &[StageSpec]) -> HashMap<&str, usize> {
    stages
        .iter()
        .enumerate()
        .map(|(i, stage)| (stage.id.as_str(), i))
        .collect()
}

/// The indices of the stages `stage` directly needs, in `needs` order.
fn needs_of<'a>(
    stages: &'a [StageSpec],
    index: &'a HashMap<&str, usize>,
    stage: usize,
) -> impl Iterator<Item = usize> + 'a {
    stages[stage]
        .needs
        .iter()
        .filter_map(|need| index.get(need.as_str()).copied())
}

/// A cycle of `needs`, as stage indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cycle {
    /// Starts and ends on the same stage: `a -> b -> a` means `a` needs `b`,
    /// which needs `a`.
    pub path: Vec<usize>,
    /// The stage whose `needs` entry closes the cycle.
    pub from: usize,
    /// The stage that entry names.
    pub to: usize,
}

/// Finds a cycle of `needs`.
///
/// The search starts from stages in file order and follows `needs` in the
/// order written, so the same file always reports the same cycle.
pub(super) fn find_cycle(stages: &[StageSpec]) -> Option<Cycle> {
    let index = index_by_id(stages);
    let mut search = CycleSearch {
        stages,
        index: &index,
        state: vec![Visit::New; stages.len()],
        path: Vec::new(),
    };
    (0..stages.len()).find_map(|start| search.visit(start))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnPath,
    Done,
}

/// A depth-first search that keeps the path from its root, so that meeting a
/// stage already on the path yields the cycle itself.
struct CycleSearch<'a> {
    stages: &'a [StageSpec],
    index: &'a HashMap<&'a str, usize>,
    state: Vec<Visit>,
    path: Vec<usize>,
}

impl CycleSearch<'_> {
    fn visit(&mut self, stage: usize) -> Option<Cycle> {
        match self.state[stage] {
            Visit::Done => return None,
            Visit::OnPath => return Some(self.cycle_back_to(stage)),
            Visit::New => {}
        }
        self.state[stage] = Visit::OnPath;
        self.path.push(stage);
        let needs: Vec<usize> = needs_of(self.stages, self.index, stage).collect();
        if let Some(cycle) = needs.into_iter().find_map(|need| self.visit(need)) {
            return Some(cycle);
        }
        self.path.pop();
        self.state[stage] = Visit::Done;
        None
    }

    /// The cycle closed by an edge from the end of the path to `stage`,
    /// which is on the path.
    fn cycle_back_to(&self, stage: usize) -> Cycle {
        let start = self.path.iter().rposition(|&s| s == stage).unwrap_or(0);
        let mut path = self.path[start..].to_vec();
        path.push(stage);
        Cycle {
            from: self.path.last().copied().unwrap_or(stage),
            to: stage,
            path,
        }
    }
}

/// Stage indices in an order where every stage follows the stages it needs;
/// among the stages ready at each step, the earliest in the file goes first.
///
/// Stages caught in a cycle are left out (a loaded pipeline has none).
pub(super) fn execution_order(stages: &[StageSpec]) -> Vec<usize> {
    let index = index_by_id(stages);
    let mut done = vec![false; stages.len()];
    let mut order = Vec::with_capacity(stages.len());
    let is_ready = |stage: usize, done: &[bool]| {
        !done[stage] && needs_of(stages, &index, stage).all(|need| done[need])
    };
    while let Some(next) = (0..stages.len()).find(|&stage| is_ready(stage, &done)) {
        done[next] = true;
        order.push(next);
    }
    order
}

/// The indices of every stage `stage` needs, directly or transitively.
pub(super) fn upstream(stages: &[StageSpec], stage: usize) -> BTreeSet<usize> {
    let index = index_by_id(stages);
    let mut seen = BTreeSet::new();
    let mut pending: Vec<usize> = needs_of(stages, &index, stage).collect();
    while let Some(next) = pending.pop() {
        if seen.insert(next) {
            pending.extend(needs_of(stages, &index, next));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{ApprovalGate, StageId, StageKind};

    /// Stages from `(id, needs)` pairs.
    fn stages(spec: &[(&str, &[&str])]) -> Vec<StageSpec> {
        let id = |s: &str| StageId::new(s).expect("valid id");
        spec.iter()
            .enumerate()
            .map(|(line, (name, needs))| StageSpec {
                id: id(name),
                needs: needs.iter().map(|n| id(n)).collect(),
                kind: StageKind::Approval(ApprovalGate {
                    role: "R".into(),
                    min: 1,
                    forbid_self_approval: true,
                }),
                line,
            })
            .collect()
    }

    fn ids(stages: &[StageSpec], indices: impl IntoIterator<Item = usize>) -> Vec<String> {
        indices
            .into_iter()
            .map(|i| stages[i].id.to_string())
            .collect()
    }

    #[test]
    fn a_dag_has_no_cycle() {
        let dag = stages(&[("a", &[]), ("b", &["a"]), ("c", &["a", "b"])]);
        assert_eq!(find_cycle(&dag), None);
    }

    #[test]
    fn cycles_are_named_from_their_first_stage_in_the_file() {
        let looped = stages(&[("x", &[]), ("a", &["c"]), ("b", &["a"]), ("c", &["b", "x"])]);
        let cycle = find_cycle(&looped).expect("has a cycle");
        assert_eq!(ids(&looped, cycle.path), ["a", "c", "b", "a"]);
        assert_eq!(ids(&looped, [cycle.from, cycle.to]), ["b", "a"]);
    }

    #[test]
    fn a_cycle_reached_from_outside_starts_where_it_closes() {
        let looped = stages(&[("entry", &["p"]), ("p", &["q"]), ("q", &["p"])]);
        let cycle = find_cycle(&looped).expect("has a cycle");
        assert_eq!(ids(&looped, cycle.path), ["p", "q", "p"]);
    }

    #[test]
    fn execution_order_respects_needs_and_breaks_ties_by_file_order() {
        let dag = stages(&[
            ("promote", &["review"]),
            ("build", &[]),
            ("scan", &["build"]),
            ("test", &["build"]),
            ("review", &["scan", "test"]),
            ("lint", &[]),
        ]);
        let order = ids(&dag, execution_order(&dag));
        assert_eq!(
            order,
            ["build", "scan", "test", "review", "promote", "lint"]
        );
    }

    #[test]
    fn upstream_is_transitive() {
        let dag = stages(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        assert_eq!(ids(&dag, upstream(&dag, 2)), ["a", "b"]);
        assert!(upstream(&dag, 3).is_empty());
    }
}
