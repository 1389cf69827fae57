//! [`TextBlock`]: wrapped text made of styled runs, the text element of every École PDF.
//!
//! genpdf's `Paragraph` measures each character three or four times and prints word by word
//! (a font switch and a text operation per word); this measures each word once and prints one
//! run per line, which halves the cost of a report card. It also never drops a word: one too
//! wide for the column first shrinks the text (when allowed), then breaks between letters.

use genpdf::fonts::FontCache;
use genpdf::style::Style;
use genpdf::{Alignment, Context, Element, Mm, Position, RenderResult, Size, render};

use crate::polices::advances;
use crate::texte::to_winansi;

/// Wrapped text of one or more styled runs (a plain label then a bold value, say).
pub struct TextBlock {
    runs: Vec<(String, Style)>,
    align: Alignment,
    min_size: Option<u8>,
    layout: Option<Layout>,
}

struct Layout {
    lines: Vec<Line>,
    line_height: Mm,
    /// The style that positions the baseline (the largest of the runs).
    style: Style,
    next: usize,
}

struct Line {
    /// (text, style) pieces, consecutive words of one run merged.
    pieces: Vec<(String, Style)>,
    width: Mm,
}

/// A word with its trailing space, measured.
struct Word<'a> {
    text: &'a str,
    style: Style,
    width: Mm,
    space: Mm,
}

impl TextBlock {
    /// A block of `text` in `style` (merged over the style it is rendered with).
    pub fn new(text: &str, style: impl Into<Style>) -> TextBlock {
        TextBlock {
            runs: vec![(to_winansi(text).into_owned(), style.into())],
            align: Alignment::Left,
            min_size: None,
            layout: None,
        }
    }

    /// Appends a run in another style.
    pub fn run(mut self, text: &str, style: impl Into<Style>) -> TextBlock {
        self.runs
            .push((to_winansi(text).into_owned(), style.into()));
        self
    }

    pub fn aligned(mut self, align: Alignment) -> TextBlock {
        self.align = align;
        self
    }

    /// Lets the font size go down to `min_size` points until the longest word fits the width.
    pub fn shrink_to_fit(mut self, min_size: u8) -> TextBlock {
        self.min_size = Some(min_size);
        self
    }

    fn lay_out(&mut self, context: &Context, width: Mm, parent: Style) -> Layout {
        let fc = &context.font_cache;
        let mut styles: Vec<Style> = self.runs.iter().map(|(_, s)| parent.and(*s)).collect();
        if let Some(min) = self.min_size {
            loop {
                let widest = words(fc, &styles, &self.runs)
                    .iter()
                    .map(|w| w.width)
                    .fold(Mm::from(0.0), Mm::max);
                let largest = styles.iter().map(|s| s.font_size()).max().unwrap_or(min);
                if widest <= width || largest <= min {
                    break;
                }
                for s in &mut styles {
                    if s.font_size() > min {
                        s.set_font_size(s.font_size() - 1);
                    }
                }
            }
        }
        let words = words(fc, &styles, &self.runs);

        let mut lines: Vec<Line> = Vec::new();
        let mut current = Line {
            pieces: Vec::new(),
            width: Mm::from(0.0),
        };
        // Width of the current line including the trailing spaces of its last word.
        let mut advance = Mm::from(0.0);
        for word in &words {
            if word.width > width {
                // Too wide even alone: break it between letters.
                for chunk in split_word(context, word, word.style, width) {
                    if !current.pieces.is_empty() {
                        lines.push(std::mem::replace(
                            &mut current,
                            Line {
                                pieces: Vec::new(),
                                width: Mm::from(0.0),
                            },
                        ));
                    }
                    current.width = chunk.1;
                    advance = chunk.1;
                    current.pieces.push((chunk.0, word.style));
                }
                continue;
            }
            if !current.pieces.is_empty() && advance + word.width > width {
                lines.push(std::mem::replace(
                    &mut current,
                    Line {
                        pieces: Vec::new(),
                        width: Mm::from(0.0),
                    },
                ));
                advance = Mm::from(0.0);
            }
            let style = word.style;
            match current.pieces.last_mut() {
                Some((text, s)) if *s == style => text.push_str(word.text),
                _ => current.pieces.push((word.text.to_string(), style)),
            }
            current.width = advance + word.width;
            advance = current.width + word.space;
        }
        if !current.pieces.is_empty() {
            lines.push(current);
        }
        let style = styles
            .iter()
            .copied()
            .max_by_key(|s| s.font_size())
            .unwrap_or(parent);
        let line_height = styles
            .iter()
            .map(|s| s.line_height(fc))
            .fold(Mm::from(0.0), Mm::max);
        Layout {
            lines,
            line_height,
            style,
            next: 0,
        }
    }
}

/// The words of all runs, each measured once with its run's style.
fn words<'a>(fc: &FontCache, styles: &[Style], runs: &'a [(String, Style)]) -> Vec<Word<'a>> {
    let mut words = Vec::new();
    for ((text, _), style) in runs.iter().zip(styles) {
        let table = advances().filter(|a| a.describes(fc, *style));
        let measure = |s: &str| {
            table
                .and_then(|a| a.width(*style, s))
                .unwrap_or_else(|| style.str_width(fc, s))
        };
        let space = measure(" ");
        for piece in text.split_inclusive(' ') {
            let word = piece.trim_end_matches(' ');
            let spaces = piece.len() - word.len();
            words.push(Word {
                text: piece,
                width: measure(word),
                space: space * spaces as f64,
                style: *style,
            });
        }
    }
    words
}

/// Pieces of a word, each as wide as fits in `width` (at least one letter), with their widths.
fn split_word(context: &Context, word: &Word<'_>, style: Style, width: Mm) -> Vec<(String, Mm)> {
    let fc = &context.font_cache;
    let mut out = Vec::new();
    let mut piece = String::new();
    let mut piece_width = Mm::from(0.0);
    for c in word.text.chars() {
        let w = style.char_width(fc, c);
        if !piece.is_empty() && piece_width + w > width {
            out.push((std::mem::take(&mut piece), piece_width));
            piece_width = Mm::from(0.0);
        }
        piece.push(c);
        piece_width += w;
    }
    if !piece.is_empty() {
        out.push((piece, piece_width));
    }
    out
}

impl Element for TextBlock {
    fn render(
        &mut self,
        context: &Context,
        area: render::Area<'_>,
        style: Style,
    ) -> Result<RenderResult, genpdf::error::Error> {
        let width = area.size().width;
        if self.layout.is_none() {
            self.layout = Some(self.lay_out(context, width, style));
        }
        let mut result = RenderResult::default();
        let Some(layout) = self.layout.as_mut() else {
            return Ok(result);
        };
        let mut y = Mm::from(0.0);
        let mut widest = Mm::from(0.0);
        while let Some(line) = layout.lines.get(layout.next) {
            if y + layout.line_height > area.size().height {
                result.has_more = true;
                break;
            }
            let x = match self.align {
                Alignment::Left => Mm::from(0.0),
                Alignment::Center => (width - line.width) / 2.0,
                Alignment::Right => width - line.width,
            };
            let position = Position::new(x.max(Mm::from(0.0)), y);
            match area.text_section(&context.font_cache, position, layout.style) {
                Some(mut section) => {
                    for (text, style) in &line.pieces {
                        section.print_str(text, *style)?;
                    }
                }
                None => {
                    result.has_more = true;
                    break;
                }
            }
            widest = widest.max(line.width);
            y += layout.line_height;
            layout.next += 1;
        }
        result.size = Size::new(widest, y);
        Ok(result)
    }
}
