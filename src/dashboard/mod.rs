//! The terminal dashboard of `zkb watch` (`--tui`, or by default when stdout is a terminal):
//! incidents by rule and group with counts and last seen, severity counters, an events-per-second
//! sparkline, the selected incident's KB fix, filters by severity and host, search, pause, the
//! upgrade board of a site (`u`: where each server stands, from `crate::board`) and a help
//! overlay. The watch runs on its own thread and sends [`Update`]s; this thread draws and
//! reads keys. The terminal is given back on quit, on Ctrl-C, on SIGTERM and on panic
//! (ratatui's hook).

pub mod board;
mod view;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::widgets::TableState;

use crate::kb::Kb;
use crate::matcher::Matcher;
use crate::rules::Severity;
use crate::scan::Finding;
use board::{Board, Filter};

/// What the watch thread tells the dashboard.
pub enum Update {
    /// Findings of a round and the number of events it read.
    Round(Vec<Finding>, u64),
    /// A warning (shown in the key line until the next one).
    Message(String),
    /// The watch reloaded its rules: the findings of later rounds index into these.
    Rules(Arc<Matcher>),
}

/// What drawing needs besides the state.
pub struct Context<'a> {
    /// The rules the incidents on the board index into.
    pub matcher: Arc<Matcher>,
    pub kb: &'a Kb,
    /// A site's per-host tree: the upgrade pane shows where each of its servers stands.
    pub site: Option<std::path::PathBuf>,
    /// The data dir whose incident store the watch records into (the `a` key acknowledges
    /// there); `None` without a store.
    pub data: Option<std::path::PathBuf>,
    /// `watch --baseline`: findings are marked against it, the usual ones folded.
    pub baseline: Option<crate::baseline::Baseline>,
}

/// How long the `a` key acknowledges an incident for.
const ACK_FOR: Duration = Duration::from_secs(2 * 3600);

/// How often the upgrade pane reads the site's zmsetup logs and install histories again.
const SITE_REFRESH: Duration = Duration::from_secs(2);

/// The dashboard's state.
pub struct App {
    pub board: Board,
    pub filter: Filter,
    pub table: TableState,
    pub paused: bool,
    /// Rounds received while paused, applied on resume.
    held: Vec<Update>,
    pub help: bool,
    pub searching: bool,
    pub detail_scroll: u16,
    pub message: Option<String>,
    /// The upgrade pane is shown (`u`), with the site's board as last read.
    pub upgrade_pane: bool,
    pub site: Option<(Instant, crate::board::Board)>,
}

enum Action {
    Continue,
    Quit,
    /// Leave the screen to turn this event into a rule (`zkb learn`).
    Learn(String),
}

impl App {
    fn new() -> App {
        App {
            board: Board::default(),
            filter: Filter::default(),
            table: TableState::default(),
            paused: false,
            held: Vec::new(),
            help: false,
            searching: false,
            detail_scroll: 0,
            message: None,
            upgrade_pane: true,
            site: None,
        }
    }

    /// Reads the site's board again when the pane is shown and the last reading is old.
    fn refresh_site(&mut self, ctx: &Context, now: Instant) {
        let Some(root) = ctx.site.as_deref().filter(|_| self.upgrade_pane) else {
            return;
        };
        if self
            .site
            .as_ref()
            .is_some_and(|(at, _)| now.duration_since(*at) < SITE_REFRESH)
        {
            return;
        }
        self.site = Some((now, crate::board::read(root)));
    }

    fn visible(&self, ctx: &Context) -> Vec<usize> {
        self.board.visible(&ctx.matcher.rules, &self.filter)
    }

    fn apply(&mut self, update: Update, ctx: &mut Context) {
        if self.paused {
            self.held.push(update);
            return;
        }
        match update {
            Update::Round(findings, events) => {
                self.board.count_events(events, Instant::now());
                self.board.add(&ctx.matcher.rules, &findings);
            }
            Update::Message(m) => self.message = Some(m),
            Update::Rules(matcher) => {
                self.board.rebase(&ctx.matcher.rules, &matcher.rules);
                ctx.matcher = matcher;
            }
        }
    }

    fn key(&mut self, k: KeyEvent, ctx: &mut Context) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::Continue;
        }
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return Action::Quit;
        }
        if self.searching {
            match k.code {
                KeyCode::Enter => self.searching = false,
                KeyCode::Esc => {
                    self.searching = false;
                    self.filter.search.clear();
                }
                KeyCode::Backspace => {
                    self.filter.search.pop();
                }
                KeyCode::Char(c) => self.filter.search.push(c),
                _ => {}
            }
            return Action::Continue;
        }
        match k.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('L') => {
                if let Some(f) = &self.board.last_unknown {
                    return Action::Learn(f.text.clone());
                }
                self.message = Some("no error event without a rule yet: nothing to learn".into());
            }
            KeyCode::Esc if self.help => self.help = false,
            KeyCode::Char('?') => self.help = !self.help,
            KeyCode::Char('/') => self.searching = true,
            KeyCode::Char('p') => self.toggle_pause(ctx),
            KeyCode::Char('u') if ctx.site.is_some() => {
                self.upgrade_pane = !self.upgrade_pane;
                self.site = None;
            }
            KeyCode::Char('u') => {
                self.message = Some("no site tree to show an upgrade board for (--site DIR)".into())
            }
            KeyCode::Char('a') => self.message = Some(self.acknowledge(ctx)),
            KeyCode::Char('s') => self.cycle_severity(),
            KeyCode::Char('h') => self.cycle_host(),
            KeyCode::Down | KeyCode::Char('j') => self.select(1, ctx),
            KeyCode::Up | KeyCode::Char('k') => self.select(-1, ctx),
            KeyCode::PageDown => self.detail_scroll = self.detail_scroll.saturating_add(5),
            KeyCode::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(5),
            _ => {}
        }
        Action::Continue
    }

    /// Acknowledges the selected incident in the store for [`ACK_FOR`]: no more alerts for it,
    /// here or in `zkb incidents list`. What to say in the key line.
    fn acknowledge(&mut self, ctx: &Context) -> String {
        let visible = self.visible(ctx);
        let Some(&i) = visible.get(self.table.selected().unwrap_or(0)) else {
            return "no incident to acknowledge".into();
        };
        let Some(data) = ctx.data.as_deref() else {
            return "no incident store (--no-store): nothing to acknowledge in".into();
        };
        let inc = &mut self.board.incidents[i];
        let rule = &ctx.matcher.rules[inc.rule];
        let key = inc.key.join("\u{1f}");
        let until = jiff::Timestamp::now() + ACK_FOR;
        let acked = crate::store::Store::open(data).and_then(|mut s| {
            s.ack_open(
                &rule.id,
                &key,
                inc.last.host.as_deref(),
                Some(until.as_millisecond()),
                "acknowledged in the dashboard",
            )
        });
        match acked {
            Ok(Some(id)) => {
                let local = until.to_zoned(jiff::tz::TimeZone::system());
                let text = format!("ack #{id} until {}", local.strftime("%H:%M"));
                inc.acked = Some(text.clone());
                format!("incident {text}: no more alerts for it")
            }
            Ok(None) => "not in the store yet: try again in a moment".into(),
            Err(e) => format!("cannot acknowledge: {e}"),
        }
    }

    fn toggle_pause(&mut self, ctx: &mut Context) {
        self.paused = !self.paused;
        if !self.paused {
            for u in std::mem::take(&mut self.held) {
                self.apply(u, ctx);
            }
        }
    }

    fn cycle_severity(&mut self) {
        let all = Severity::ALL;
        let i = all
            .iter()
            .position(|s| *s == self.filter.min_severity)
            .unwrap_or(0);
        self.filter.min_severity = all[(i + 1) % all.len()];
    }

    fn cycle_host(&mut self) {
        let hosts: Vec<&String> = self.board.hosts.iter().collect();
        self.filter.host = match &self.filter.host {
            None => hosts.first().map(|h| h.to_string()),
            Some(current) => hosts
                .iter()
                .position(|h| *h == current)
                .and_then(|i| hosts.get(i + 1))
                .map(|h| h.to_string()),
        };
    }

    fn select(&mut self, step: i64, ctx: &Context) {
        let n = self.visible(ctx).len() as i64;
        if n == 0 {
            return;
        }
        let at = self.table.selected().unwrap_or(0) as i64;
        self.table
            .select(Some((at + step).clamp(0, n - 1) as usize));
        self.detail_scroll = 0;
    }
}

/// Runs the dashboard until the admin quits or `stop` is set; sets `stop` on the way out.
pub fn run(updates: Receiver<Update>, stop: &AtomicBool, mut ctx: Context) -> std::io::Result<()> {
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, updates, stop, &mut ctx);
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    updates: Receiver<Update>,
    stop: &AtomicBool,
    ctx: &mut Context,
) -> std::io::Result<()> {
    let mut app = App::new();
    app.board.baseline = ctx.baseline.take().map(|b| crate::baseline::Live::new(&b));
    while !stop.load(Ordering::Relaxed) {
        while let Ok(u) = updates.try_recv() {
            app.apply(u, ctx);
        }
        app.board.tick(Instant::now());
        app.refresh_site(ctx, Instant::now());
        terminal.draw(|f| view::draw(f, &mut app, ctx))?;
        if event::poll(Duration::from_millis(100))? {
            match event::read()? {
                Event::Key(k) => match app.key(k, ctx) {
                    Action::Quit => break,
                    Action::Learn(text) => {
                        ratatui::restore();
                        app.message = Some(learn(&text));
                        *terminal = ratatui::init();
                    }
                    Action::Continue => {}
                },
                // The next draw uses the new size.
                Event::Resize(..) => {}
                _ => {}
            }
        }
    }
    Ok(())
}

/// Runs `zkb learn EVENT --write` on the terminal (it asks for the id, title and severity),
/// then waits for Enter; the running watch reloads the rule it writes. Returns the line for the
/// key bar.
fn learn(text: &str) -> String {
    use std::io::BufRead;
    let status = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(["learn", text, "--write"])
            .status()
    });
    let said = match status {
        Ok(s) if s.success() => "rule written: the watch loads it within a second".to_string(),
        Ok(_) => "zkb learn did not write a rule".to_string(),
        Err(e) => format!("could not run zkb learn: {e}"),
    };
    eprint!("\n{said}. Press Enter to go back to the dashboard.");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{EventMatcher, ScanOptions};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    const BLOB: &str = "2026-03-01 02:14:07,511 WARN  [qtp1-1] [name=ann@example.com;mid=41;] mailbox - Unable to get blob for item 257\n\
        com.zimbra.cs.mailbox.MailServiceException: missing blob for id: 257, change: 9911";

    fn screen(app: &mut App, ctx: &Context, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::draw(f, app, ctx)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect()
    }

    fn key(app: &mut App, ctx: &mut Context, c: char) {
        app.key(KeyEvent::from(KeyCode::Char(c)), ctx);
    }

    #[test]
    fn l_offers_the_latest_unknown_error_to_learn() {
        let matcher = Arc::new(Matcher::new(Vec::new()));
        let kb = Kb::embedded();
        let mut ctx = Context {
            matcher: matcher.clone(),
            kb: &kb,
            site: None,
            data: None,
            baseline: None,
        };
        let mut app = App::new();
        assert!(matches!(
            app.key(KeyEvent::from(KeyCode::Char('L')), &mut ctx),
            Action::Continue
        ));
        assert!(app
            .message
            .as_deref()
            .unwrap_or("")
            .contains("nothing to learn"));
        let opts = ScanOptions {
            unmatched: true,
            ..ScanOptions::default()
        };
        let mut m = EventMatcher::new(
            &matcher,
            &opts,
            "mailbox.log".into(),
            crate::kind::LogKind::Mailbox,
            None,
        );
        let line = "2026-03-01 02:14:07,511 ERROR [x] [] purge - Frobnicator refused a lease";
        let mut findings = Vec::new();
        m.event(line.as_bytes(), 1, 0, false, &mut findings);
        app.apply(Update::Round(findings, 1), &mut ctx);
        app.message = None;
        assert!(screen(&mut app, &ctx, 120, 20).contains("1 unknown errors, L learn"));
        match app.key(KeyEvent::from(KeyCode::Char('L')), &mut ctx) {
            Action::Learn(text) => assert_eq!(text, line),
            _ => panic!("L should learn the unknown event"),
        }
    }

    #[test]
    fn a_acknowledges_the_selected_incident_in_the_store() {
        let mut set = crate::rules::RuleSet::embedded();
        set.dedup();
        let matcher = Arc::new(Matcher::new(set.rules));
        let kb = Kb::embedded();
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Context {
            matcher: matcher.clone(),
            kb: &kb,
            site: None,
            data: Some(dir.path().to_path_buf()),
            baseline: None,
        };
        let opts = ScanOptions::default();
        let mut m = EventMatcher::new(
            &matcher,
            &opts,
            "mailbox.log".into(),
            crate::kind::LogKind::Mailbox,
            Some("mbx1".into()),
        );
        let mut findings = Vec::new();
        m.event(BLOB.as_bytes(), 1, 0, false, &mut findings);
        let mut app = App::new();
        key(&mut app, &mut ctx, 'a');
        assert_eq!(app.message.as_deref(), Some("no incident to acknowledge"));
        app.apply(Update::Round(findings.clone(), 1), &mut ctx);
        key(&mut app, &mut ctx, 'a');
        assert!(
            app.message
                .as_deref()
                .unwrap()
                .contains("not in the store yet"),
            "{:?}",
            app.message
        );
        let mut store = crate::store::Store::open(dir.path()).unwrap();
        store.add("mailbox.log", &matcher.rules, &findings).unwrap();
        key(&mut app, &mut ctx, 'a');
        assert!(
            app.message
                .as_deref()
                .unwrap()
                .starts_with("incident ack #1 until"),
            "{:?}",
            app.message
        );
        let rule = &matcher.rules[findings[0].rule.unwrap()];
        let group = crate::scan::group_key(rule, &findings[0]).join("\u{1f}");
        assert!(store.acked(&rule.id, &group, Some("mbx1")));
        app.message = None;
        let s = screen(&mut app, &ctx, 140, 30);
        assert!(s.contains("[ack #1 until"), "{s}");
    }

    #[test]
    fn an_incident_shows_with_its_fix_and_the_keys_work() {
        let mut set = crate::rules::RuleSet::embedded();
        set.dedup();
        let matcher = Arc::new(Matcher::new(set.rules));
        let kb = Kb::embedded();
        let mut ctx = Context {
            matcher: matcher.clone(),
            kb: &kb,
            site: None,
            data: None,
            baseline: None,
        };
        let opts = ScanOptions::default();
        let mut m = EventMatcher::new(
            &matcher,
            &opts,
            "mailbox.log".into(),
            crate::kind::LogKind::Mailbox,
            Some("mbx1".into()),
        );
        let mut findings = Vec::new();
        m.event(BLOB.as_bytes(), 1, 0, false, &mut findings);
        let mut app = App::new();
        let empty = screen(&mut app, &ctx, 100, 30);
        assert!(empty.contains("No problems yet"), "{empty}");
        app.apply(Update::Round(findings.clone(), 2), &mut ctx);
        let s = screen(&mut app, &ctx, 100, 30);
        assert!(
            s.contains("missing blob for id") && s.contains("Fix:"),
            "{s}"
        );
        assert!(s.contains("zmvolume"), "the KB fix is shown: {s}");
        let narrow = screen(&mut app, &ctx, 40, 12);
        assert!(narrow.contains("blob"), "{narrow}");

        key(&mut app, &mut ctx, '/');
        for c in "no such thing".chars() {
            key(&mut app, &mut ctx, c);
        }
        app.key(KeyEvent::from(KeyCode::Enter), &mut ctx);
        assert!(screen(&mut app, &ctx, 100, 30).contains("No incident matches"));
        key(&mut app, &mut ctx, '/');
        app.key(KeyEvent::from(KeyCode::Esc), &mut ctx);
        assert!(app.filter.search.is_empty());

        key(&mut app, &mut ctx, 'p');
        app.apply(Update::Round(findings.clone(), 1), &mut ctx);
        assert_eq!(app.board.incidents[0].count, 1, "paused: held back");
        key(&mut app, &mut ctx, 'p');
        assert_eq!(app.board.incidents[0].count, 2, "resumed: applied");

        key(&mut app, &mut ctx, 'h');
        assert_eq!(app.filter.host.as_deref(), Some("mbx1"));
        key(&mut app, &mut ctx, 'h');
        assert_eq!(app.filter.host, None);
        key(&mut app, &mut ctx, 's');
        assert_eq!(app.filter.min_severity, Severity::Low);
        key(&mut app, &mut ctx, '?');
        assert!(screen(&mut app, &ctx, 100, 30).contains("keys"));
        assert!(matches!(
            app.key(KeyEvent::from(KeyCode::Char('q')), &mut ctx),
            Action::Quit
        ));

        // Reloaded rules in another order: the incident follows its rule, held while paused.
        let mut reordered = matcher.rules.clone();
        reordered.reverse();
        key(&mut app, &mut ctx, 'p');
        app.apply(Update::Rules(Arc::new(Matcher::new(reordered))), &mut ctx);
        assert!(
            Arc::ptr_eq(&ctx.matcher, &matcher),
            "paused: still the old rules"
        );
        key(&mut app, &mut ctx, 'p');
        let inc = &app.board.incidents[0];
        assert_eq!(ctx.matcher.rules[inc.rule].id, "store.missing-blob-for-id");
        app.filter = Filter::default();
        app.help = false;
        let s = screen(&mut app, &ctx, 100, 30);
        assert!(s.contains("missing blob for id"), "{s}");
    }
}
