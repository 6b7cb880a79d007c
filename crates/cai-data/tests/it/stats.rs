//! Length statistics with a real tokenizer.

use cai_data::stats::{LengthUnit, file_stats};

use crate::util::{Dir, fixture};

#[test]
fn tokenizer_counts_differ_from_words_and_cover_nested_fields() {
    let d = Dir::new();
    let path = d.write(
        "chat.jsonl",
        "{\"system\":\"\",\"mask\":\"User\",\"dataset\":\"d\",\"conversations\":[{\"from\":\"User\",\"value\":\"Internationalization is hard\"},{\"from\":\"Assistant\",\"value\":\"Indeed\"}]}\n",
    );
    let words = file_stats(&path, &LengthUnit::Words).unwrap();
    assert_eq!(words.records, 1);
    assert_eq!(words.per_record.max(), 4);
    assert_eq!(words.fields["conversations[].value"].count(), 2);
    let unit = LengthUnit::tokenizer(&fixture("smollm2-tokenizer.json")).unwrap();
    assert_eq!(unit.measure("hello").unwrap(), 1);
    let tokens = file_stats(&path, &unit).unwrap();
    assert!(
        tokens.per_record.max() > words.per_record.max(),
        "subword tokens outnumber words"
    );
    let rendered = tokens.render(&unit);
    assert!(rendered.contains("conversations[].value") && rendered.contains("unit: tokens"));
    assert!(LengthUnit::tokenizer(&d.write("bad.json", "{}")).is_err());
}
