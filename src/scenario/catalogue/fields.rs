//! The keys a derived `Deserialize` accepts, read from serde itself.
//!
//! A derived struct hands its field names to `deserialize_struct`; a deserializer that
//! records them and stops is the one honest source for "which keys does this accept".

use std::fmt;

use serde::de::{self, Deserialize, Visitor};

/// The keys `T` accepts, if it is a derived plain struct.
pub(super) fn accepted_keys<T: for<'de> Deserialize<'de>>() -> Option<&'static [&'static str]> {
    match T::deserialize(Recorder) {
        Err(Stop::Fields(fields)) => Some(fields),
        _ => None,
    }
}

struct Recorder;

#[derive(Debug)]
enum Stop {
    Fields(&'static [&'static str]),
    Other,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("recording the accepted keys")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self::Other
    }
}

impl<'de> de::Deserializer<'de> for Recorder {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop::Other)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop::Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct Two {
        read_pause: u8,
        #[serde(rename = "other")]
        b: u8,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Flat {
        #[serde(flatten)]
        inner: Two,
    }

    #[test]
    fn a_plain_struct_reports_its_renamed_keys() {
        assert_eq!(accepted_keys::<Two>(), Some(&["read-pause", "other"][..]));
    }

    #[test]
    fn a_flattened_struct_is_not_a_plain_struct() {
        assert_eq!(accepted_keys::<Flat>(), None);
    }
}
