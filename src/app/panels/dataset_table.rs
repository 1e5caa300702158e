//! The dataset view's table: one row per video of a batch run, under the budget on the slider.
//! A filter box (expressions over the summary's columns, as `adalens query` takes them), sort
//! by any column header, multi-select, quick filters, and a row opens in the inspector. Only
//! the rows on screen are laid out (25,000 rows scroll as fast as 20).

use crate::app::command::Command;
use crate::app::{AdalensApp, Flip};
use crate::batch::query::{cell_compared, column, Cell, Compared};
use crate::batch::table::RowStatus;
use crate::decision::lanes::LaneKind;

/// The columns shown, with their widths (the summary's names; `adalens query` prints them all).
const SHOWN: [(&str, &str, f32); 12] = [
    ("index", "#", 44.0),
    ("path", "video", 200.0),
    ("label", "label", 110.0),
    ("top1_name", "top-1", 110.0),
    ("top1_prob", "p", 52.0),
    ("correct", "right", 44.0),
    ("exit_step", "exit", 40.0),
    ("gflops", "GFLOPs", 70.0),
    ("kept_frames", "kept", 44.0),
    ("stages_3d", "3D", 36.0),
    ("cubes_used", "cubes", 46.0),
    ("error", "error", 240.0),
];
/// The columns a compared run (B) adds.
const SHOWN_COMPARED: [(&str, &str, f32); 4] = [
    ("exit_b", "B exit", 50.0),
    ("gflops_b", "B GFLOPs", 70.0),
    ("gflops_diff", "B-A GFLOPs", 80.0),
    ("flip", "A to B", 110.0),
];
const ROW_HEIGHT: f32 = 30.0;
const THUMB_WIDTH: f32 = 54.0;

/// Filters a researcher reaches for first.
const QUICK: [(&str, &str); 4] = [
    ("Wrong", "correct == false"),
    (
        "Wrong, exited early",
        "correct == false && exit_step < steps - 1",
    ),
    ("Right at the glance", "correct == true && exit_step == 0"),
    ("Failed", "status == \"failed\""),
];

impl AdalensApp {
    pub(crate) fn dataset_table_ui(&mut self, ui: &mut egui::Ui) {
        let mut open = None;
        let mut want_thumbs = Vec::new();
        // A run of logged traces: its first categorical lane as a column of bars.
        let lane = self.logged.as_ref().and_then(|l| {
            let spec = &l
                .lanes
                .iter()
                .find(|t| t.spec.kind == LaneKind::Categorical)?
                .spec;
            Some((spec, &l.row_lanes))
        });
        let frame = self.panel_frame(egui::Frame::central_panel(ui.style()));
        egui::CentralPanel::default().frame(frame).show(ui, |ui| {
            let Some(d) = &mut self.dataset else { return };
            ui.horizontal(|ui| {
                let label = ui.label("Filter");
                let mut text = d.filter_text.clone();
                ui.add(
                    egui::TextEdit::singleline(&mut text)
                        .hint_text("e.g. correct == false && exit_step <= 1")
                        .desired_width(360.0),
                )
                .labelled_by(label.id)
                .on_hover_text(
                    "An expression over the columns (as `adalens query` takes it): ==, !=, <, \
                     <=, &&, ||, !, arithmetic; text in double quotes",
                );
                if text != d.filter_text {
                    d.set_filter(text);
                }
                for (name, expr) in QUICK {
                    if ui
                        .small_button(name)
                        .on_hover_text(format!("Filter: {expr}"))
                        .clicked()
                    {
                        d.set_filter(expr.to_string());
                    }
                }
                if d.other.is_some()
                    && ui
                        .small_button("Flipped A to B")
                        .on_hover_text("Filter: flip != \"\"")
                        .clicked()
                {
                    d.set_filter("flip != \"\"".into());
                }
                if ui.small_button("Clear").clicked() {
                    d.set_filter(String::new());
                    d.set_class_filter(None);
                }
            });
            if let Some(e) = &d.filter_error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.horizontal(|ui| {
                let total = d.table.rows.len();
                ui.label(format!(
                    "{} of {total} videos shown · {} selected",
                    d.visible.len(),
                    d.selected.len()
                ));
                if let Some(c) = d.class_filter {
                    ui.label(format!("· label {}", d.table.class_name(c)));
                }
                if !d.selected.is_empty() {
                    if ui.small_button("Clear selection").clicked() {
                        d.selected.clear();
                    }
                    if ui
                        .small_button("Export figure of the selection…")
                        .on_hover_text("adalens figure --grid of these videos, with their labels")
                        .clicked()
                    {
                        self.commands.push(Command::ExportSelection);
                    }
                }
            });
            ui.separator();
            // The header: click to sort, again to turn the direction.
            ui.horizontal(|ui| {
                ui.add_sized([THUMB_WIDTH, 18.0], egui::Label::new("exit"));
                ui.add_sized([40.0, 18.0], egui::Label::new(""));
                let compared = if d.other.is_some() {
                    &SHOWN_COMPARED[..]
                } else {
                    &[]
                };
                if let Some((spec, _)) = lane {
                    ui.add_sized([LANE_WIDTH, 18.0], egui::Label::new(&spec.name));
                }
                for &(name, title, w) in SHOWN.iter().chain(compared) {
                    let Some(c) = column(name) else { continue };
                    let arrow = match d.sort {
                        Some((s, false)) if s == c => " ^",
                        Some((s, true)) if s == c => " v",
                        _ => "",
                    };
                    let b = egui::Button::new(format!("{title}{arrow}")).frame(false);
                    let r = ui.add_sized([w, 18.0], b);
                    let what = format!("Sort by {name}");
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &what));
                    if r.on_hover_text(&what).clicked() {
                        d.sort_by(c);
                    }
                }
            });
            ui.separator();
            let mut scroll = egui::ScrollArea::both().auto_shrink(false);
            if let Some(y) = d.scroll_to.take() {
                scroll = scroll.vertical_scroll_offset(y);
            }
            let d = &*d;
            let other = d.other.as_ref().map(|o| Compared {
                table: &o.table,
                decided: &o.decided,
                pair: &o.pair,
            });
            let mut clicked: Option<(usize, egui::Modifiers)> = None;
            scroll.show_rows(ui, ROW_HEIGHT, d.visible.len(), |ui, range| {
                for pos in range {
                    let i = d.visible[pos];
                    want_thumbs.push(i);
                    let (r, open_clicked) = row_ui(ui, d, i, other.as_ref(), lane);
                    if r.double_clicked() || open_clicked {
                        open = Some(i);
                    } else if r.clicked() {
                        clicked = Some((pos, ui.input(|inp| inp.modifiers)));
                    }
                }
            });
            if let (Some((pos, m)), Some(d)) = (clicked, &mut self.dataset) {
                d.click_row(pos, m.command, m.shift);
            }
        });
        self.want_row_thumbs(&want_thumbs);
        if let Some(i) = open {
            self.push(Command::OpenRow(i));
        }
    }
}

/// One row; its response (click to select, double-click to open) and whether its Open button
/// was clicked.
fn row_ui(
    ui: &mut egui::Ui,
    d: &crate::app::DatasetView,
    i: usize,
    other: Option<&Compared>,
    lane: Option<RowLanes>,
) -> (egui::Response, bool) {
    let row = &d.table.rows[i];
    let dec = &d.decided[i];
    let selected = d.selected.contains(&i);
    // The row's own click first: the cells and the Open button laid over it take theirs.
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(ui.available_width().max(1000.0), ROW_HEIGHT),
        egui::Sense::click(),
    );
    let tint = match d.flips.get(&i) {
        Some(Flip::RightToWrong) => Some(egui::Color32::from_rgba_unmultiplied(234, 67, 53, 60)),
        Some(Flip::WrongToRight) => Some(egui::Color32::from_rgba_unmultiplied(52, 168, 83, 60)),
        None => None,
    };
    if let Some(t) = tint {
        ui.painter().rect_filled(rect, 0.0, t);
    }
    if selected {
        ui.painter().rect_filled(
            rect,
            0.0,
            ui.visuals().selection.bg_fill.gamma_multiply(0.5),
        );
    }
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    let ui = &mut child;
    match d.thumbs.get(&i) {
        Some((_, Some(t))) => {
            ui.add(
                egui::Image::new(t).fit_to_exact_size(egui::vec2(THUMB_WIDTH, ROW_HEIGHT - 2.0)),
            );
        }
        _ => {
            ui.add_sized([THUMB_WIDTH, ROW_HEIGHT - 2.0], egui::Label::new(""));
        }
    }
    let open = ui
        .small_button("Open")
        .on_hover_text(format!(
            "Open {} at its exit, with its stored decisions",
            row.path
        ))
        .clicked();
    let mut text_of_row = Vec::new();
    if let Some((spec, rows)) = lane {
        match rows.get(&i) {
            None => {
                ui.add_sized([LANE_WIDTH, ROW_HEIGHT], egui::Label::new(""));
            }
            Some(counts) => {
                super::logged_lanes::category_bar(ui, spec, counts, egui::vec2(LANE_WIDTH, 12.0));
                let parts: Vec<String> = spec
                    .categories
                    .iter()
                    .zip(counts)
                    .map(|(c, n)| format!("{} x{n}", c.name))
                    .collect();
                text_of_row.push(format!("{} {}", spec.name, parts.join(" ")));
            }
        }
    }
    let compared = if other.is_some() {
        &SHOWN_COMPARED[..]
    } else {
        &[]
    };
    for &(name, _, w) in SHOWN.iter().chain(compared) {
        let Some(c) = column(name) else { continue };
        let value = cell_compared(&d.table, i, dec, c, other);
        let shown = match (&value, name) {
            (Cell::Text(p), "path") => std::path::Path::new(p)
                .file_name()
                .map_or(p.clone(), |f| f.to_string_lossy().into_owned()),
            (Cell::Float(v), "top1_prob") => format!("{v:.2}"),
            (Cell::Float(v), "gflops" | "gflops_b" | "gflops_diff") => format!("{v:.4}"),
            (Cell::Text(f), "flip") => f.replace('_', " "),
            (Cell::Bool(true), "correct") => "yes".into(),
            (Cell::Bool(false), "correct") => "no".into(),
            _ => value.text(),
        };
        let mut text = egui::RichText::new(&shown);
        if row.status == RowStatus::Failed {
            text = text.color(ui.visuals().error_fg_color);
        }
        let r = ui.add_sized(
            [w, ROW_HEIGHT],
            egui::Label::new(text).truncate().selectable(false),
        );
        if name == "path" {
            r.on_hover_text(&row.path);
        }
        text_of_row.push(format!("{name} {}", value.text()));
    }
    let label = text_of_row.join(", ");
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    let response =
        response.on_hover_text("Click to select (Ctrl / Shift for more); double-click to open");
    (response, open)
}

/// Width of the lane column (a run of logged traces).
const LANE_WIDTH: f32 = 120.0;

/// A run's categorical lane and each row's frames per category.
type RowLanes<'a> = (
    &'a crate::decision::lanes::LaneSpec,
    &'a std::collections::HashMap<usize, Vec<usize>>,
);
