//! Undo and redo (Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y) of what a user moves while inspecting: the
//! budget, τ_f, τ_s and cube-cap sliders, the exit criterion, and the lane and overlay toggles.
//! A change is recorded once it settles (no pointer button held), so a whole drag is one step.

use super::state::{AppState, Lanes, Overlays, Sliders};

/// The settings undo restores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub sliders: Sliders,
    pub lanes: Lanes,
    pub overlays: Overlays,
}

impl Settings {
    pub fn of(state: &AppState) -> Self {
        Self {
            sliders: state.sliders,
            lanes: state.lanes,
            overlays: state.overlays,
        }
    }

    pub fn apply(self, state: &mut AppState) {
        state.sliders = self.sliders;
        state.lanes = self.lanes;
        state.overlays = self.overlays;
    }
}

/// Steps kept to undo.
const DEPTH: usize = 200;

#[derive(Debug, Default)]
pub struct History {
    past: Vec<Settings>,
    future: Vec<Settings>,
    /// The settings as last recorded.
    settled: Option<Settings>,
}

impl History {
    /// Record `now` as a step when it differs from the last settled settings and the input has
    /// settled (`settled`: no pointer button held).
    pub fn observe(&mut self, now: Settings, settled: bool) {
        match self.settled {
            None => self.settled = Some(now),
            Some(last) if last != now && settled => {
                self.past.push(last);
                if self.past.len() > DEPTH {
                    self.past.remove(0);
                }
                self.future.clear();
                self.settled = Some(now);
            }
            Some(_) => {}
        }
    }

    /// The settings before the last step, if any (`now` becomes redoable).
    pub fn undo(&mut self, now: Settings) -> Option<Settings> {
        let prev = self.past.pop()?;
        self.future.push(now);
        self.settled = Some(prev);
        Some(prev)
    }

    /// The settings the last undo left, if any.
    pub fn redo(&mut self, now: Settings) -> Option<Settings> {
        let next = self.future.pop()?;
        self.past.push(now);
        self.settled = Some(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_budget(b: f64) -> Settings {
        let mut s = Settings::of(&AppState::default());
        s.sliders.budget = Some(b);
        s
    }

    #[test]
    fn a_drag_is_one_step_and_undo_redo_walk_the_steps() {
        let mut h = History::default();
        h.observe(with_budget(1.0), true);
        // Dragging: values pass by with the button held, then it is let go at 3.
        h.observe(with_budget(1.5), false);
        h.observe(with_budget(2.0), false);
        h.observe(with_budget(3.0), true);
        h.observe(with_budget(4.0), true);
        assert_eq!(h.undo(with_budget(4.0)), Some(with_budget(3.0)));
        assert_eq!(h.undo(with_budget(3.0)), Some(with_budget(1.0)));
        assert_eq!(h.undo(with_budget(1.0)), None);
        assert_eq!(h.redo(with_budget(1.0)), Some(with_budget(3.0)));
        // A new change after an undo drops what could be redone.
        h.observe(with_budget(5.0), true);
        assert_eq!(h.redo(with_budget(5.0)), None);
        assert_eq!(h.undo(with_budget(5.0)), Some(with_budget(3.0)));
    }
}
