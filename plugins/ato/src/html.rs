//! `summary.html`: the summary as one self-contained page, with every piece
//! of text escaped and nothing loaded from elsewhere (no scripts, no
//! stylesheets, no images), so it opens the same offline and cannot run
//! anything a package title smuggles in.

use std::fmt::Write;

use crate::summary::{Block, Summary};

/// Kept inline: the page must not fetch anything.
const STYLE: &str = "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #999;\
padding:.2rem .5rem;text-align:left;vertical-align:top}.verdict{font-size:1.2rem}";

/// Renders `summary` as an HTML document.
pub fn render(summary: &Summary) -> String {
    let title = escape(&summary.title);
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n<title>{title}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<h1>{title}</h1>\n<p class=\"verdict\"><strong>Verdict:</strong> {}</p>\n",
        escape(&summary.verdict)
    );
    for section in &summary.sections {
        let _ = writeln!(page, "<h2>{}</h2>", escape(&section.heading));
        for block in &section.blocks {
            write_block(&mut page, block);
        }
    }
    page.push_str("</body>\n</html>\n");
    page
}

fn write_block(page: &mut String, block: &Block) {
    match block {
        Block::Paragraph(text) => {
            let _ = writeln!(page, "<p>{}</p>", escape(text));
        }
        Block::List(items) => {
            page.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(page, "<li>{}</li>", escape(item));
            }
            page.push_str("</ul>\n");
        }
        Block::Table { head, rows } => {
            page.push_str("<table>\n");
            if head.iter().any(|cell| !cell.is_empty()) {
                let cells: Vec<String> = head
                    .iter()
                    .map(|c| format!("<th>{}</th>", escape(c)))
                    .collect();
                let _ = writeln!(page, "<tr>{}</tr>", cells.concat());
            }
            for row in rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| format!("<td>{}</td>", escape(c)))
                    .collect();
                let _ = writeln!(page, "<tr>{}</tr>", cells.concat());
            }
            page.push_str("</table>\n");
        }
    }
}

/// Escapes text for element content and quoted attribute values alike.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Section;

    fn summary(text: &str) -> Summary {
        Summary {
            title: "ATO summary: <X>".to_owned(),
            verdict: "ready".to_owned(),
            sections: vec![Section {
                heading: "Findings".to_owned(),
                blocks: vec![
                    Block::Paragraph(text.to_owned()),
                    Block::List(vec![text.to_owned()]),
                    Block::Table {
                        head: vec!["Title".to_owned()],
                        rows: vec![vec![text.to_owned()]],
                    },
                ],
            }],
        }
    }

    #[test]
    fn every_piece_of_text_is_escaped() {
        let hostile = "<script>alert('x')</script> & \"quoted\"";
        let page = render(&summary(hostile));
        assert!(!page.contains("<script>"), "{page}");
        let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;";
        assert_eq!(page.matches(escaped).count(), 3, "{page}");
        assert!(page.contains("<title>ATO summary: &lt;X&gt;</title>"));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let page = render(&summary("plain"));
        for external in ["<script", "<link", "<img", "src=", "href=", "url("] {
            assert!(!page.contains(external), "`{external}` in {page}");
        }
        assert!(page.contains("default-src 'none'"));
    }
}
