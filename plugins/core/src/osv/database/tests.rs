use super::*;

fn at(text: &str) -> OffsetDateTime {
    parse_timestamp(text).unwrap()
}

fn info(snapshot: Option<&str>) -> DatabaseInfo {
    DatabaseInfo {
        source: SourceKind::Dir,
        location: "/mnt/osv".to_owned(),
        digest: "sha256:00".to_owned(),
        advisories: 3,
        snapshot: snapshot.map(str::to_owned),
        index: None,
    }
}

const SNAPSHOT: &str = "2026-11-26T12:00:00Z";

#[test]
fn a_database_exactly_max_age_old_is_fresh() {
    let week = parse_max_age("7d").unwrap();
    let result = check_freshness(&info(Some(SNAPSHOT)), at("2026-12-03T12:00:00Z"), week);
    assert_eq!(result, Ok(()));
}

#[test]
fn one_second_over_max_age_is_stale_and_says_by_how_much() {
    let week = parse_max_age("7d").unwrap();
    let now = at("2026-12-03T12:00:01Z");
    let error = check_freshness(&info(Some(SNAPSHOT)), now, week).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, FreshnessError::Stale { .. }), "{text}");
    assert!(
        text.starts_with("the advisory database at `/mnt/osv` is stale"),
        "{text}"
    );
    assert!(text.contains("modified at 2026-11-26T12:00:00Z"), "{text}");
    assert!(text.contains("7days 1s before now"), "{text}");
    assert!(text.contains("`max-db-age` is 7days"), "{text}");
    assert!(text.contains("\nhint: update the database"), "{text}");
}

#[test]
fn a_snapshot_within_clock_skew_ahead_passes_and_beyond_it_is_refused() {
    let week = DEFAULT_MAX_AGE;
    let now = at("2026-11-26T11:00:00Z");
    assert_eq!(check_freshness(&info(Some(SNAPSHOT)), now, week), Ok(()));

    let earlier = at("2026-11-26T10:59:59Z");
    let error = check_freshness(&info(Some(SNAPSHOT)), earlier, week).unwrap_err();
    assert!(matches!(error, FreshnessError::Future { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("after now (2026-11-26T10:59:59Z)"),
        "{error}"
    );
}

#[test]
fn a_database_with_no_date_fails_closed() {
    let error = check_freshness(&info(None), at(SNAPSHOT), DEFAULT_MAX_AGE).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the advisory database at `/mnt/osv` has no date: none of its 3 advisories \
         has a `modified` time"
    );
}

#[test]
fn offsets_and_fractions_are_read_and_written_in_utc() {
    let time = at("2023-11-08T18:38:34.170214+02:00");
    assert_eq!(format_timestamp(time), "2023-11-08T16:38:34Z");
    assert!(parse_timestamp("2023-11-08").is_err());
}

#[test]
fn max_ages_read_common_units_and_refuse_zero_and_nonsense() {
    assert_eq!(parse_max_age("36h"), Ok(Duration::from_secs(36 * 3600)));
    assert_eq!(
        parse_max_age("2weeks"),
        Ok(Duration::from_secs(14 * 86_400))
    );
    assert_eq!(parse_max_age("7d"), Ok(DEFAULT_MAX_AGE));
    assert!(parse_max_age("0s").unwrap_err().contains("is zero"));
    let error = parse_max_age("a week").unwrap_err();
    assert!(error.starts_with("`a week` is not a duration"), "{error}");
}

#[test]
fn the_manifest_is_sorted_by_name_whatever_the_reading_order() {
    let record = |id: &str| -> Advisory {
        serde_json::from_str(&format!(
            r#"{{"id": "{id}", "modified": "2026-01-01T00:00:00Z"}}"#
        ))
        .unwrap()
    };
    let a = ManifestEntry::new("A".to_owned(), b"a", record("A"));
    let b = ManifestEntry::new("B".to_owned(), b"b", record("B"));
    let forward = LoadedDatabase::from_entries(SourceKind::Api, "x", vec![a.clone(), b.clone()]);
    let backward = LoadedDatabase::from_entries(SourceKind::Api, "x", vec![b, a]);
    assert_eq!(forward.info.digest, backward.info.digest);
    assert_eq!(backward.advisories[0].id, "A");
    let other = ManifestEntry::new("A".to_owned(), b"changed", record("A"));
    let changed = LoadedDatabase::from_entries(SourceKind::Api, "x", vec![other]);
    assert_ne!(changed.info.digest, forward.info.digest);
}
