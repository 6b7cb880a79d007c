//! End-string detection across token boundaries, and the streaming hold-back rule.

/// The earliest occurrence of any end string in `text` at or after byte `from`:
/// `(position, end string)`.
pub fn find_stop<'a>(
    text: &str,
    end_strings: &'a [String],
    from: usize,
) -> Option<(usize, &'a str)> {
    end_strings
        .iter()
        .filter_map(|s| {
            let start = floor_char_boundary(text, from.saturating_sub(s.len()));
            text[start..]
                .find(s.as_str())
                .map(|p| (start + p, s.as_str()))
        })
        .min_by_key(|(p, _)| *p)
}

/// How many trailing bytes of `text` must be held back from a stream: the longest suffix that is
/// a proper prefix of an end string (it may become a stop), plus an incomplete UTF-8 character
/// (decoded as U+FFFD).
pub fn holdback(text: &str, end_strings: &[String]) -> usize {
    let partial_char = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| *c == '\u{FFFD}')
        .last()
        .map_or(0, |(i, _)| text.len() - i);
    let visible = &text[..text.len() - partial_char];
    let stop_prefix = end_strings
        .iter()
        .flat_map(|s| {
            s.char_indices()
                .skip(1)
                .map(|(i, _)| &s[..i])
                .filter(|prefix| visible.ends_with(prefix))
                .map(str::len)
        })
        .max()
        .unwrap_or(0);
    partial_char + stop_prefix
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn finds_the_earliest_stop_even_if_it_started_before_from() {
        let ends = s(&["<extra_id_1>", "\nUser:"]);
        assert_eq!(
            find_stop("Hi\nUser: x<extra_id_1>", &ends, 0),
            Some((2, "\nUser:"))
        );
        // The stop began before `from` (it straddles tokens) and is still found.
        assert_eq!(
            find_stop("answer<extra_id_1>", &ends, 10),
            Some((6, "<extra_id_1>"))
        );
        assert_eq!(find_stop("nothing", &ends, 0), None);
    }

    #[test]
    fn holds_back_possible_stop_prefixes_and_broken_chars() {
        let ends = s(&["<extra_id_1>"]);
        assert_eq!(holdback("Hello <extra", &ends), "<extra".len());
        assert_eq!(holdback("Hello", &ends), 0);
        assert_eq!(holdback("caf\u{FFFD}", &ends), 3);
    }
}
