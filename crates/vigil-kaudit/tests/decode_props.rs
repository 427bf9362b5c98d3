//! Pure (no root): every decoder survives arbitrary bytes, and raw rules round-trip.

use proptest::prelude::*;
use vigil_kaudit::netlink::{build, parse_datagram, parse_error};
use vigil_kaudit::{
    decode_rule, encode_rule, is_string_field, AuditFeatures, AuditStatus, RawField, RawValue,
    Record, RuleData, SignalInfo,
};

/// Field numbers the kernel knows, strings and numbers alike.
const FIELDS: &[u32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 25, 26,
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 112, 113, 200, 201, 202, 203, 210,
];
const OPS: &[u32] = &[
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x3000_0000,
    0x4000_0000,
    0x4800_0000,
    0x5000_0000,
    0x6000_0000,
];

fn raw_field() -> impl Strategy<Value = RawField> {
    (
        prop::sample::select(FIELDS),
        prop::sample::select(OPS),
        any::<u32>(),
        "[a-z/._-]{1,40}",
    )
        .prop_map(|(field, op, n, s)| RawField {
            field,
            op,
            value: if is_string_field(field) {
                RawValue::Str(s.into_bytes())
            } else {
                RawValue::Num(n)
            },
        })
}

fn raw_rule() -> impl Strategy<Value = RuleData> {
    (
        prop::sample::select(&[0u32, 1, 4, 5, 6, 7][..]),
        prop::sample::select(&[0u32, 2][..]),
        prop::collection::vec(any::<u32>(), 64),
        prop::collection::vec(raw_field(), 0..20),
    )
        .prop_map(|(flags, action, mask, fields)| RuleData {
            flags,
            action,
            mask: mask.try_into().unwrap(),
            fields,
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse_datagram(&bytes);
        let _ = parse_error(&bytes);
        let _ = RuleData::decode(&bytes);
        let _ = AuditStatus::decode(&bytes);
        let _ = AuditFeatures::decode(&bytes);
        let _ = SignalInfo::decode(&bytes);
        let r = Record::new(1300, &bytes);
        let _ = r.stamp();
        let _ = r.body();
        let _ = r.field("key");
    }

    #[test]
    fn datagrams_with_valid_headers_never_panic(
        parts in prop::collection::vec((any::<u16>(), prop::collection::vec(any::<u8>(), 0..300), any::<u32>()), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut d = Vec::new();
        for (t, payload, seq) in &parts {
            d.extend(build(*t, 0, *seq, payload).unwrap());
        }
        if let Ok(msgs) = parse_datagram(&d) {
            prop_assert!(!msgs.is_empty());
        }
        let n = cut.index(d.len() + 1);
        let _ = parse_datagram(&d[..n]);
    }

    #[test]
    fn raw_rules_round_trip(rule in raw_rule()) {
        let bytes = rule.encode().unwrap();
        prop_assert_eq!(RuleData::decode(&bytes).unwrap(), rule.clone());
        // What decodes into the AST encodes back to the same kernel rule (modulo the task
        // list's ignored mask and path slashes, which the generator does not produce).
        if let Ok(ast) = decode_rule(&rule) {
            if rule.list() != 1 && !rule.fields.iter().any(|f| f.field == 210) {
                let again = encode_rule(&ast).unwrap();
                let all = rule.mask[..63].iter().all(|w| *w == u32::MAX);
                if !all {
                    prop_assert_eq!(again, rule);
                }
            }
        }
    }
}
