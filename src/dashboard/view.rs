//! Drawing the dashboard with ratatui: a header with counters and the events-per-second
//! sparkline, the upgrade pane of a site, the incident table, the selected incident's event and KB fix, a key line, and
//! the help overlay. Narrow terminals get the same panes, stacked and cut.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::{App, Context};
use crate::board::{state_label, State};
use crate::output::escape;
use crate::rules::Severity;

fn severity_style(s: Severity) -> Style {
    let color = match s {
        Severity::Critical => Color::Red,
        Severity::High => Color::LightRed,
        Severity::Medium => Color::Yellow,
        Severity::Low => Color::Cyan,
        Severity::Info => Color::Gray,
    };
    Style::default().fg(color)
}

pub fn draw(frame: &mut Frame, app: &mut App, ctx: &Context) {
    let site = app
        .site
        .as_ref()
        .filter(|_| app.upgrade_pane)
        .map(|(_, b)| b);
    // The upgrade pane: a line per server and per site finding, inside a border.
    let pane = site.map_or(0, |b| (b.hosts.len() + b.findings.len() + 2).min(14) as u16);
    let [header, spark, upgrade, table, detail, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(pane),
        Constraint::Min(5),
        Constraint::Percentage(40),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, ctx);
    if let Some(b) = site {
        draw_upgrade(frame, upgrade, b);
    }
    let rates = app.board.rates();
    let width = spark.width as usize;
    let shown = &rates[rates.len().saturating_sub(width)..];
    frame.render_widget(
        Sparkline::default()
            .data(shown)
            .style(Style::default().fg(Color::Green)),
        spark,
    );
    let visible = app.visible(ctx);
    draw_table(frame, table, app, ctx, &visible);
    draw_detail(frame, detail, app, ctx, &visible);
    draw_keys(frame, keys, app);
    if app.help {
        draw_help(frame);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, ctx: &Context) {
    let b = &app.board;
    let mut spans = vec![
        Span::styled("zkb watch ", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!(" {} events ({}/s)  ", b.events, b.current_rate())),
    ];
    for s in Severity::ALL.iter().rev() {
        spans.push(Span::styled(
            format!(
                "{} {}  ",
                s.as_str().to_uppercase(),
                b.by_severity[*s as usize]
            ),
            severity_style(*s),
        ));
    }
    spans.push(Span::raw(format!(
        "| ≥{} host={} ",
        app.filter.min_severity.as_str(),
        app.filter.host.as_deref().unwrap_or("all")
    )));
    if !app.filter.search.is_empty() || app.searching {
        spans.push(Span::raw(format!("/{}", app.filter.search)));
    }
    if app.paused {
        spans.push(Span::styled(
            "  PAUSED",
            Style::default().add_modifier(Modifier::REVERSED),
        ));
    }
    spans.push(Span::raw(format!("  {} rules", ctx.matcher.rules.len())));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_table(frame: &mut Frame, area: Rect, app: &mut App, ctx: &Context, visible: &[usize]) {
    let rows: Vec<Row> = visible
        .iter()
        .map(|&i| {
            let inc = &app.board.incidents[i];
            let rule = &ctx.matcher.rules[inc.rule];
            let group: Vec<&str> = inc
                .key
                .iter()
                .map(String::as_str)
                .filter(|k| !k.is_empty())
                .collect();
            Row::new(vec![
                Cell::from(rule.severity.as_str().to_uppercase())
                    .style(severity_style(rule.severity)),
                Cell::from(inc.count.to_string()),
                Cell::from(inc.last_seen.strftime("%H:%M:%S").to_string()),
                Cell::from(inc.last.host.clone().unwrap_or_else(|| "-".into())),
                Cell::from(title_cell(inc, rule)),
                Cell::from(group.join(" ")),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Fill(3),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new(["SEVERITY", "COUNT", "LAST", "HOST", "PROBLEM", "GROUP"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(Block::default().borders(Borders::TOP).title(format!(
        " incidents: {} shown of {} ",
        visible.len(),
        app.board.incidents.len()
    )))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    if visible.is_empty() {
        app.table.select(None);
    } else if app.table.selected().is_none_or(|s| s >= visible.len()) {
        app.table.select(Some(0));
    }
    frame.render_stateful_widget(table, area, &mut app.table);
}

fn draw_detail(frame: &mut Frame, area: Rect, app: &App, ctx: &Context, visible: &[usize]) {
    let block = Block::default().borders(Borders::TOP).title(" fix ");
    let Some(&i) = app.table.selected().and_then(|s| visible.get(s)) else {
        let text = if app.board.incidents.is_empty() {
            "No problems yet. Known problems appear here with their fix as soon as they are logged."
        } else {
            "No incident matches the filters (s: severity, h: host, /: search)."
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let inc = &app.board.incidents[i];
    let rule = &ctx.matcher.rules[inc.rule];
    let mut lines = vec![
        Line::from(vec![
            Span::styled(rule.title.clone(), severity_style(rule.severity)),
            Span::raw(format!("  [{}]", rule.id)),
        ]),
        Line::from(format!(
            "{}:{}  ({} times, last at {})",
            inc.last.file,
            inc.last.line,
            inc.count,
            inc.last_seen.strftime("%H:%M:%S")
        )),
    ];
    for l in inc.last.text.lines().take(4) {
        lines.push(Line::styled(
            format!("| {}", crate::output::escape(l, false)),
            Style::default().fg(Color::DarkGray),
        ));
    }
    for id in &rule.kb {
        let Some(entry) = ctx.kb.get(id) else {
            continue;
        };
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!("KB {}  ({id})", entry.title()),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        lines.push(Line::styled("Fix:", Style::default().fg(Color::Green)));
        for l in entry.section("Fix").unwrap_or("").lines() {
            lines.push(Line::from(l.to_string()));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0)),
        area,
    );
}

fn state_style(s: State) -> Style {
    let color = match s {
        State::NotStarted => Color::Gray,
        State::Running => Color::Yellow,
        State::Done => Color::Green,
        State::Failed => Color::Red,
        State::Interrupted => Color::Magenta,
    };
    Style::default().fg(color)
}

/// Where each server of the site stands, and the site's order and version findings.
fn draw_upgrade(frame: &mut Frame, area: Rect, b: &crate::board::Board) {
    let rows: Vec<Row> = b
        .hosts
        .iter()
        .map(|h| {
            let versions = match (&h.from_version, &h.to_version) {
                (Some(a), Some(b)) => format!("{a} → {b}"),
                _ => "-".into(),
            };
            let mut step = h
                .schema_step
                .map(|(n, m)| format!("schema {n}/{m} "))
                .unwrap_or_default();
            if let Some(m) = h.elapsed_min {
                step.push_str(&format!("{m} min "));
            }
            if matches!(h.state, State::Running | State::Failed | State::Interrupted) {
                step.push_str(&escape(h.step.as_deref().unwrap_or(""), false));
            }
            Row::new(vec![
                Cell::from(escape(&h.host, false).into_owned()),
                Cell::from(h.role.clone()),
                Cell::from(state_label(h.state)).style(state_style(h.state)),
                Cell::from(versions),
                Cell::from(step),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Length(38),
        Constraint::Min(10),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" upgrade (u hides) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [hosts, findings] =
        Layout::vertical([Constraint::Length(b.hosts.len() as u16), Constraint::Min(0)])
            .areas(inner);
    frame.render_widget(Table::new(rows, widths), hosts);
    let lines: Vec<Line> = b
        .findings
        .iter()
        .map(|f| {
            Line::styled(
                format!(
                    "{} {}: {}",
                    f.severity.to_uppercase(),
                    f.id,
                    escape(&f.message, false)
                ),
                Style::default().fg(Color::LightRed),
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), findings);
}

/// The problem column: the rule's title, after what is known of the incident (NEW or ×N against
/// the baseline, resolved, acknowledged).
fn title_cell(inc: &crate::dashboard::board::Incident, rule: &crate::rules::Rule) -> String {
    let mut tags = Vec::new();
    if let Some(c @ (crate::diff::Change::New | crate::diff::Change::Up(_))) = inc.change {
        tags.push(c.label());
    }
    if let Some(t) = &inc.resolved {
        tags.push(format!("resolved {}", t.strftime("%H:%M:%S")));
    } else if let Some(a) = &inc.acked {
        tags.push(a.clone());
    }
    if tags.is_empty() {
        rule.title.clone()
    } else {
        format!("[{}] {}", tags.join(", "), rule.title)
    }
}

fn draw_keys(frame: &mut Frame, area: Rect, app: &App) {
    let text = if app.searching {
        format!(
            "search: {}▏ (Enter to keep, Esc to clear)",
            app.filter.search
        )
    } else if let Some(m) = &app.message {
        m.clone()
    } else {
        let mut learn = if app.board.unknown > 0 {
            format!("{} unknown errors, L learn the latest  ", app.board.unknown)
        } else {
            String::new()
        };
        let folded = app.board.folded();
        if folded > 0 {
            learn = format!("{folded} at their usual rate folded  {learn}");
        }
        let gone = app.board.baseline.as_ref().map_or(0, |b| b.gone().len());
        if gone > 0 {
            learn = format!("{gone} GONE against the baseline  {learn}");
        }
        format!("{learn}↑↓ select  PgUp/PgDn fix  s severity  h host  / search  a ack  p pause  u upgrade  ? keys  q quit")
    };
    frame.render_widget(
        Paragraph::new(text).style(Style::default().add_modifier(Modifier::DIM)),
        area,
    );
}

fn draw_help(frame: &mut Frame) {
    let area = frame.area();
    let w = area.width.min(60);
    let h = area.height.min(19);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let text = vec![
        Line::from("↑ ↓  j k      select an incident"),
        Line::from("PgUp PgDn     scroll the fix"),
        Line::from("s             minimum severity (cycles)"),
        Line::from("h             host (cycles through the hosts seen)"),
        Line::from("/             search rule, title, group or event"),
        Line::from("p             pause the view (findings are kept)"),
        Line::from("a             acknowledge the incident for 2 h: no more alerts"),
        Line::from("L             learn a rule from the latest unknown error"),
        Line::from("u             the upgrade board of the site (shows / hides)"),
        Line::from("?             this help"),
        Line::from("q  Ctrl-C     quit (checkpoints are written)"),
    ];
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" keys ")),
        rect,
    );
}
