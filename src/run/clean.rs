//! Turns a terminal byte stream into the text a reader saw: ANSI escape sequences (CSI such as
//! colours and cursor moves, OSC such as window titles, two-byte escapes) are removed, a
//! carriage return moves back to the start of the line so later characters overwrite earlier
//! ones (progress counters, spinners), a backspace moves back one character, other control
//! characters are dropped. State is kept across calls, so a sequence split between two reads is
//! still removed.

/// Longest line kept; the rest is dropped (a runaway progress bar with no newline).
const LINE_CAP: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Text,
    Escape,
    /// Inside `ESC [` … up to a final byte.
    Csi,
    /// Inside `ESC ]` … up to BEL or `ESC \`.
    Osc,
    OscEscape,
}

/// The cleaner of one stream.
pub struct Cleaner {
    state: State,
    /// The line being written, as characters (so overwriting works on characters, not bytes).
    line: Vec<char>,
    cursor: usize,
    /// Bytes of an incomplete UTF-8 character.
    pending: Vec<u8>,
}

impl Default for Cleaner {
    fn default() -> Self {
        Cleaner {
            state: State::Text,
            line: Vec::new(),
            cursor: 0,
            pending: Vec::new(),
        }
    }
}

impl Cleaner {
    /// Cleans `bytes`; each finished line (with its `\n`) is appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut String) {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(bytes);
        let (text, rest) = split_utf8(&data);
        self.pending = rest.to_vec();
        for c in text.chars() {
            self.char(c, out);
        }
    }

    /// The unfinished line as it stands (a prompt waiting for its answer).
    pub fn partial(&self) -> String {
        self.line.iter().collect()
    }

    fn char(&mut self, c: char, out: &mut String) {
        match self.state {
            State::Text => self.text(c, out),
            State::Escape => {
                self.state = match c {
                    '[' => State::Csi,
                    ']' => State::Osc,
                    _ => State::Text,
                }
            }
            State::Csi => {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    self.state = State::Text;
                }
            }
            State::Osc => match c {
                '\u{7}' => self.state = State::Text,
                '\u{1b}' => self.state = State::OscEscape,
                _ => {}
            },
            State::OscEscape => self.state = State::Text,
        }
    }

    fn text(&mut self, c: char, out: &mut String) {
        match c {
            '\u{1b}' => self.state = State::Escape,
            '\n' => {
                out.extend(self.line.drain(..));
                out.push('\n');
                self.cursor = 0;
            }
            '\r' => self.cursor = 0,
            '\u{8}' => self.cursor = self.cursor.saturating_sub(1),
            '\t' => self.put('\t'),
            c if c.is_control() => {}
            c => self.put(c),
        }
    }

    fn put(&mut self, c: char) {
        if self.cursor < self.line.len() {
            self.line[self.cursor] = c;
        } else if self.line.len() < LINE_CAP {
            self.line.push(c);
        } else {
            return;
        }
        self.cursor += 1;
    }
}

/// The text a terminal showed for `bytes` (one event of a console capture made with `script`
/// or `tee`): escapes removed, carriage returns resolved; lines kept.
pub fn clean_bytes(bytes: &[u8]) -> String {
    let mut c = Cleaner::default();
    let mut out = String::with_capacity(bytes.len());
    c.feed(bytes, &mut out);
    out.push_str(&c.partial());
    if out.ends_with('\n') && !bytes.ends_with(b"\n") {
        out.pop();
    }
    out
}

/// The longest valid UTF-8 prefix (invalid bytes replaced) and an incomplete tail.
fn split_utf8(data: &[u8]) -> (String, &[u8]) {
    match std::str::from_utf8(data) {
        Ok(s) => (s.to_string(), &[]),
        Err(e) if e.error_len().is_none() => {
            let (ok, rest) = data.split_at(e.valid_up_to());
            (String::from_utf8_lossy(ok).into_owned(), rest)
        }
        Err(_) => {
            // Invalid bytes inside: lossy for everything but a possibly incomplete tail.
            let cut = data.len().saturating_sub(3);
            let tail_start = (cut..data.len())
                .find(|&i| data[i] >= 0xc0)
                .filter(|&i| std::str::from_utf8(&data[i..]).is_err())
                .unwrap_or(data.len());
            (
                String::from_utf8_lossy(&data[..tail_start]).into_owned(),
                &data[tail_start..],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(chunks: &[&[u8]]) -> (String, String) {
        let mut c = Cleaner::default();
        let mut out = String::new();
        for ch in chunks {
            c.feed(ch, &mut out);
        }
        (out, c.partial())
    }

    #[test]
    fn colours_and_cursor_moves_go() {
        let (out, _) = clean(&[b"\x1b[1;31mERROR:\x1b[0m licence\x1b[K\n"]);
        assert_eq!(out, "ERROR: licence\n");
        let (out, _) = clean(&[b"\x1b]0;zmsetup\x07title gone\n\x1b]2;x\x1b\\ok\n"]);
        assert_eq!(out, "title gone\nok\n");
    }

    #[test]
    fn carriage_returns_overwrite_and_crlf_is_a_newline() {
        let (out, _) = clean(&[b"progress 10%\rprogress 100%\r\n"]);
        assert_eq!(out, "progress 100%\n");
        let (out, _) = clean(&[b"abcdef\rXY\n"]);
        assert_eq!(out, "XYcdef\n");
        let (out, _) = clean(&[b"ab\x08c\n"]);
        assert_eq!(out, "ac\n");
    }

    #[test]
    fn sequences_and_characters_split_across_reads() {
        let (out, partial) = clean(&[b"\x1b[3", b"2mgr\xc3", b"\xbcn\x1b", b"[0m\nDo you? [N] "]);
        assert_eq!(out, "grün\n");
        assert_eq!(partial, "Do you? [N] ");
    }

    #[test]
    fn a_captured_event_is_cleaned_whole() {
        assert_eq!(
            clean_bytes(b"\x1b[31mERROR:\x1b[0m licence\r\nnext line"),
            "ERROR: licence\nnext line"
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let (out, _) = clean(&[b"bad \xff byte\n"]);
        assert_eq!(out, "bad \u{fffd} byte\n");
    }
}
